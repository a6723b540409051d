// The nine scopes Cost Management exports can live at (Exports API 2025-03-01, `scope` parameter),
// parsed into one canonical form so the same scope always yields the same keys and URLs.

export type ScopeKind =
  | 'subscription'
  | 'resourceGroup'
  | 'managementGroup'
  | 'billingAccount'
  | 'department'
  | 'enrollmentAccount'
  | 'billingProfile'
  | 'invoiceSection'
  | 'customer';

export const SCOPE_KINDS: readonly ScopeKind[] = [
  'subscription',
  'resourceGroup',
  'managementGroup',
  'billingAccount',
  'department',
  'enrollmentAccount',
  'billingProfile',
  'invoiceSection',
  'customer',
];

export interface Scope {
  kind: ScopeKind;
  /** Leading slash, no trailing slash, provider and segment names in their documented casing. */
  canonical: string;
  subscriptionId?: string;
  resourceGroupName?: string;
  managementGroupId?: string;
  billingAccountId?: string;
  departmentId?: string;
  enrollmentAccountId?: string;
  billingProfileId?: string;
  invoiceSectionId?: string;
  customerId?: string;
}

export type ExportDataset =
  | 'ActualCost'
  | 'AmortizedCost'
  | 'FocusCost'
  | 'Usage'
  | 'PriceSheet'
  | 'ReservationDetails'
  | 'ReservationRecommendations'
  | 'ReservationTransactions';

export const EXPORT_DATASETS: readonly ExportDataset[] = [
  'ActualCost',
  'AmortizedCost',
  'FocusCost',
  'Usage',
  'PriceSheet',
  'ReservationDetails',
  'ReservationRecommendations',
  'ReservationTransactions',
];

const COST_DATASETS: readonly ExportDataset[] = ['ActualCost', 'AmortizedCost', 'FocusCost', 'Usage'];
const BILLING_DATASETS: readonly ExportDataset[] = [
  ...COST_DATASETS,
  'PriceSheet',
  'ReservationDetails',
  'ReservationRecommendations',
  'ReservationTransactions',
];

/** Which datasets an export may use at each scope kind (Microsoft Learn, "improved exports"):
 * FOCUS is not offered at management-group scope; price sheet and reservation datasets only at
 * EA billing account or MCA billing profile scope. */
const DATASETS_BY_KIND: Record<ScopeKind, readonly ExportDataset[]> = {
  subscription: COST_DATASETS,
  resourceGroup: COST_DATASETS,
  managementGroup: ['ActualCost', 'AmortizedCost', 'Usage'],
  billingAccount: BILLING_DATASETS,
  department: COST_DATASETS,
  enrollmentAccount: COST_DATASETS,
  billingProfile: BILLING_DATASETS,
  invoiceSection: COST_DATASETS,
  customer: COST_DATASETS,
};

export class ScopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScopeError';
  }
}

interface Segment {
  /** The collection name as documented, e.g. `billingAccounts`. */
  name: string;
  field: keyof Scope;
}

interface ScopePattern {
  kind: ScopeKind;
  /** Provider namespace (documented casing), or undefined for `/subscriptions/...` scopes. */
  provider?: string;
  segments: Segment[];
}

const BILLING = 'Microsoft.Billing';
const billingAccount: Segment = { name: 'billingAccounts', field: 'billingAccountId' };
const billingProfile: Segment = { name: 'billingProfiles', field: 'billingProfileId' };

const PATTERNS: ScopePattern[] = [
  { kind: 'subscription', segments: [{ name: 'subscriptions', field: 'subscriptionId' }] },
  {
    kind: 'resourceGroup',
    segments: [
      { name: 'subscriptions', field: 'subscriptionId' },
      { name: 'resourceGroups', field: 'resourceGroupName' },
    ],
  },
  {
    kind: 'managementGroup',
    provider: 'Microsoft.Management',
    segments: [{ name: 'managementGroups', field: 'managementGroupId' }],
  },
  { kind: 'billingAccount', provider: BILLING, segments: [billingAccount] },
  {
    kind: 'department',
    provider: BILLING,
    segments: [billingAccount, { name: 'departments', field: 'departmentId' }],
  },
  {
    kind: 'enrollmentAccount',
    provider: BILLING,
    segments: [billingAccount, { name: 'enrollmentAccounts', field: 'enrollmentAccountId' }],
  },
  { kind: 'billingProfile', provider: BILLING, segments: [billingAccount, billingProfile] },
  {
    kind: 'invoiceSection',
    provider: BILLING,
    segments: [billingAccount, billingProfile, { name: 'invoiceSections', field: 'invoiceSectionId' }],
  },
  {
    kind: 'customer',
    provider: BILLING,
    segments: [billingAccount, { name: 'customers', field: 'customerId' }],
  },
];

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Resource group names: 1-90 of letters, digits, _ - . ( ) and no trailing period.
const RESOURCE_GROUP = /^[-\w.()]{1,89}[-\w()]$|^[-\w()]$/u;
// Billing ids mix digits, GUIDs, `:` and `_` (MCA: `{guid}:{guid}_2019-05-31`); slashes and
// URL metacharacters never occur in them.
const BILLING_ID = /^[A-Za-z0-9][A-Za-z0-9:_.\-]{0,199}$/;
const MANAGEMENT_GROUP = /^[A-Za-z0-9_().-]{1,90}$/;

function validateId(field: keyof Scope, value: string): string | undefined {
  switch (field) {
    case 'subscriptionId':
      return GUID.test(value) ? undefined : `subscription id "${value}" is not a GUID`;
    case 'resourceGroupName':
      return RESOURCE_GROUP.test(value) ? undefined : `resource group name "${value}" is not valid`;
    case 'managementGroupId':
      return MANAGEMENT_GROUP.test(value) ? undefined : `management group id "${value}" is not valid`;
    default:
      return BILLING_ID.test(value) ? undefined : `${String(field)} "${value}" is not valid`;
  }
}

/** Parses any of the nine export scopes, tolerating leading/trailing slashes and any casing of
 * provider and collection names. Throws ScopeError naming what is wrong. */
export function parseScope(text: string): Scope {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new ScopeError(
      'scope is empty; expected e.g. /subscriptions/{id} or /providers/Microsoft.Billing/billingAccounts/{id}',
    );
  }
  const trimmed = text.trim();
  if (/[?#\s\\]/.test(trimmed))
    throw new ScopeError(`scope "${trimmed}" contains a character not allowed in a scope (? # \\ or space)`);
  const parts = trimmed.replace(/^\/+|\/+$/g, '').split('/');
  if (parts.some((p) => p === '')) throw new ScopeError(`scope "${trimmed}" has an empty path segment`);

  let provider: string | undefined;
  let rest = parts;
  if (parts[0]!.toLowerCase() === 'providers') {
    provider = parts[1];
    rest = parts.slice(2);
    if (!provider) throw new ScopeError(`scope "${trimmed}" names no provider after /providers/`);
  }

  const candidates = PATTERNS.filter(
    (p) =>
      (p.provider?.toLowerCase() ?? undefined) === provider?.toLowerCase() &&
      p.segments.length * 2 === rest.length &&
      p.segments.every((s, i) => s.name.toLowerCase() === rest[i * 2]!.toLowerCase()),
  );
  const pattern = candidates[0];
  if (!pattern) throw new ScopeError(describeMismatch(trimmed, provider, rest));

  const scope: Scope = { kind: pattern.kind, canonical: '' };
  const canonicalParts: string[] = pattern.provider ? ['providers', pattern.provider] : [];
  pattern.segments.forEach((segment, i) => {
    const value = decodeSegment(rest[i * 2 + 1]!, trimmed);
    const problem = validateId(segment.field, value);
    if (problem) throw new ScopeError(`scope "${trimmed}": ${problem}`);
    // Subscription GUIDs are case-insensitive in ARM; lower-case them so keys never split.
    const normalised = segment.field === 'subscriptionId' ? value.toLowerCase() : value;
    (scope as unknown as Record<string, string>)[segment.field] = normalised;
    canonicalParts.push(segment.name, normalised);
  });
  scope.canonical = `/${canonicalParts.join('/')}`;
  return scope;
}

function decodeSegment(segment: string, text: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ScopeError(`scope "${text}": "${segment}" is not valid URL encoding`);
  }
}

function describeMismatch(text: string, provider: string | undefined, rest: string[]): string {
  const known =
    'subscription, resource group, management group, billing account, department, enrollment account, billing profile, invoice section or customer';
  if (provider && !PATTERNS.some((p) => p.provider?.toLowerCase() === provider.toLowerCase())) {
    return `scope "${text}": provider "${provider}" is not an export scope provider (Microsoft.Billing or Microsoft.Management)`;
  }
  if (rest.length % 2 === 1) return `scope "${text}": "${rest[rest.length - 1]}" has no id after it`;
  return `scope "${text}" is not a ${known} scope`;
}

export function isScope(text: string): boolean {
  try {
    parseScope(text);
    return true;
  } catch {
    return false;
  }
}

export function datasetsForScope(kind: ScopeKind): readonly ExportDataset[] {
  return DATASETS_BY_KIND[kind];
}

export function isDatasetAllowed(kind: ScopeKind, dataset: string): dataset is ExportDataset {
  return DATASETS_BY_KIND[kind].includes(dataset as ExportDataset);
}

/** A key safe for Table Storage PartitionKey/RowKey (which forbid / \ # ? and control characters)
 * that maps each canonical scope to exactly one key, and back. */
export function scopeKey(scope: Scope | string): string {
  const canonical = typeof scope === 'string' ? parseScope(scope).canonical : scope.canonical;
  return canonical.slice(1).replace(/%/g, '%25').replace(/\//g, '|');
}

export function scopeFromKey(key: string): Scope {
  return parseScope(`/${key.replace(/\|/g, '/').replace(/%25/g, '%')}`);
}
