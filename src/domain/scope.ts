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
  /** Leading slash, no trailing slash, provider and collection names in their documented casing,
   * GUIDs (alone or inside MCA billing account ids) in lower case; other ids as given. */
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

/** The commerce agreement a billing scope belongs to, read from the billing account id's shape:
 * EA enrollments are numeric, MCA/MPA/MOSP accounts are `{guid}:{guid}_{yyyy-mm-dd}`. */
export type BillingAgreement = 'EA' | 'MCA';

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
const BILLING_DATASETS: readonly ExportDataset[] = EXPORT_DATASETS;

/** Which datasets an export may use at each scope kind (Microsoft Learn, "Tutorial: Create and
 * manage Cost Management exports"): a management group exports only `Usage` ("Exports at the
 * management group scope support only usage charges … choose ExportType as Usage"; the service's
 * answer otherwise: "Invalid definition type 'AmortizedCost'; valid values: 'Usage'",
 * azure-powershell#19453); price sheet and reservation datasets only at EA billing account or MCA
 * billing profile scope (an MCA billing account is narrowed further by `datasetsForScope(scope)`). */
const DATASETS_BY_KIND: Record<ScopeKind, readonly ExportDataset[]> = {
  subscription: COST_DATASETS,
  resourceGroup: COST_DATASETS,
  managementGroup: ['Usage'],
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

type IdField = Exclude<keyof Scope, 'kind' | 'canonical'>;

interface Segment {
  /** The collection name as documented, e.g. `billingAccounts`. */
  name: string;
  field: IdField;
}

interface ScopePattern {
  kind: ScopeKind;
  /** Provider namespace (documented casing), or undefined for `/subscriptions/...` scopes. */
  provider?: string;
  segments: Segment[];
}

const BILLING = 'Microsoft.Billing';
const MANAGEMENT = 'Microsoft.Management';
const subscription: Segment = { name: 'subscriptions', field: 'subscriptionId' };
const billingAccount: Segment = { name: 'billingAccounts', field: 'billingAccountId' };
const billingProfile: Segment = { name: 'billingProfiles', field: 'billingProfileId' };

const PATTERNS: readonly ScopePattern[] = [
  { kind: 'subscription', segments: [subscription] },
  {
    kind: 'resourceGroup',
    segments: [subscription, { name: 'resourceGroups', field: 'resourceGroupName' }],
  },
  {
    kind: 'managementGroup',
    provider: MANAGEMENT,
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

const GUID_TEXT = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const GUID = new RegExp(`^${GUID_TEXT}$`, 'i');
const GUIDS_INSIDE = new RegExp(GUID_TEXT, 'gi');
const EA_NUMBER = /^\d{1,20}$/;
// MCA, MPA and MOSP billing accounts: `{guid}:{guid}_{yyyy-mm-dd}`.
const MCA_ACCOUNT = new RegExp(`^${GUID_TEXT}:${GUID_TEXT}_\\d{4}-\\d{2}-\\d{2}$`, 'i');
// ARM resource group names: 1-90 Unicode letters or digits, _ - . ( ), not ending in a period.
const RESOURCE_GROUP = /^[-\p{L}\p{N}_.()]{0,89}[-\p{L}\p{N}_()]$/u;
// Management group ids: 1-90 ASCII letters, digits, - _ ( ) . (Azure management group docs).
const MANAGEMENT_GROUP = /^[A-Za-z0-9_().-]{1,90}$/;
// MCA billing profile / invoice section ids look like `AB12-CD34-EF5-GHI`; accept any such token.
const MCA_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

const VALIDATORS: Record<IdField, { test: (value: string) => boolean; expected: string }> = {
  subscriptionId: { test: (v) => GUID.test(v), expected: 'a GUID' },
  resourceGroupName: {
    test: (v) => RESOURCE_GROUP.test(v),
    expected: '1-90 letters, digits, _ - . ( ) not ending in a period',
  },
  managementGroupId: {
    test: (v) => MANAGEMENT_GROUP.test(v),
    expected: '1-90 ASCII letters, digits, _ - . ( )',
  },
  billingAccountId: {
    test: (v) => EA_NUMBER.test(v) || MCA_ACCOUNT.test(v),
    expected: 'an EA enrollment number (digits) or an MCA id {guid}:{guid}_{yyyy-mm-dd}',
  },
  departmentId: { test: (v) => EA_NUMBER.test(v), expected: 'an EA department number (digits)' },
  enrollmentAccountId: {
    test: (v) => EA_NUMBER.test(v),
    expected: 'an EA enrollment account number (digits)',
  },
  billingProfileId: {
    test: (v) => MCA_NAME.test(v),
    expected: 'letters, digits, _ - . (e.g. AB12-CD34-EF5-GHI)',
  },
  invoiceSectionId: {
    test: (v) => MCA_NAME.test(v),
    expected: 'letters, digits, _ - . (e.g. AB12-CD34-EF5-GHI)',
  },
  customerId: { test: (v) => GUID.test(v), expected: 'a GUID' },
};

const FIELD_LABELS: Record<IdField, string> = {
  subscriptionId: 'subscription id',
  resourceGroupName: 'resource group name',
  managementGroupId: 'management group id',
  billingAccountId: 'billing account id',
  departmentId: 'department id',
  enrollmentAccountId: 'enrollment account id',
  billingProfileId: 'billing profile id',
  invoiceSectionId: 'invoice section id',
  customerId: 'customer id',
};

const KNOWN_KINDS =
  'subscription, resource group, management group, billing account, department, enrollment account, billing profile, invoice section or customer';

/** Parses any of the nine export scopes, tolerating leading/trailing slashes, surrounding
 * whitespace, any casing of provider and collection names, and URL-encoded ids (`%3A`).
 * Throws ScopeError naming what is wrong. */
export function parseScope(text: string): Scope {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new ScopeError(
      'scope is empty; expected e.g. /subscriptions/{id} or /providers/Microsoft.Billing/billingAccounts/{id}',
    );
  }
  const trimmed = text.trim();
  const shown = quote(trimmed);
  if (/[?#\s\\\p{Cc}]/u.test(trimmed)) {
    throw new ScopeError(
      `scope ${shown} contains a character not allowed in a scope (? # \\ space or control)`,
    );
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    throw new ScopeError(`scope ${shown} is a URL; give only the scope path, e.g. /subscriptions/{id}`);
  }
  const path = trimmed.replace(/^\/+|\/+$/g, '');
  if (path === '') throw new ScopeError(`scope ${shown} is empty; expected e.g. /subscriptions/{id}`);
  const parts = path.split('/');
  if (parts.some((p) => p === '')) throw new ScopeError(`scope ${shown} has an empty path segment`);

  let provider: string | undefined;
  let rest = parts;
  if (parts[0]!.toLowerCase() === 'providers') {
    provider = parts[1];
    rest = parts.slice(2);
    if (provider === undefined) throw new ScopeError(`scope ${shown} names no provider after /providers/`);
  }

  const pattern = PATTERNS.find(
    (p) =>
      p.provider?.toLowerCase() === provider?.toLowerCase() &&
      p.segments.length * 2 === rest.length &&
      p.segments.every((s, i) => s.name.toLowerCase() === rest[i * 2]!.toLowerCase()),
  );
  if (!pattern) throw new ScopeError(`scope ${shown}: ${describeMismatch(provider, rest)}`);

  const scope: Scope = { kind: pattern.kind, canonical: '' };
  const canonicalParts: string[] = pattern.provider ? ['providers', pattern.provider] : [];
  pattern.segments.forEach((segment, i) => {
    const raw = rest[i * 2 + 1]!;
    const value = decodeSegment(raw, shown);
    const rule = VALIDATORS[segment.field];
    if (!rule.test(value)) {
      throw new ScopeError(
        `scope ${shown}: ${FIELD_LABELS[segment.field]} ${quote(value)} is not valid; expected ${rule.expected}`,
      );
    }
    // GUIDs are case-insensitive by definition; lower-casing them keeps keys from splitting.
    const normalised = value.replace(GUIDS_INSIDE, (g) => g.toLowerCase());
    scope[segment.field] = normalised;
    canonicalParts.push(segment.name, normalised);
  });
  scope.canonical = `/${canonicalParts.join('/')}`;
  return scope;
}

function decodeSegment(segment: string, shown: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ScopeError(`scope ${shown}: ${quote(segment)} is not valid URL encoding`);
  }
}

/** Names the first thing that does not fit any scope pattern. */
function describeMismatch(provider: string | undefined, rest: string[]): string {
  const candidates = PATTERNS.filter((p) => p.provider?.toLowerCase() === provider?.toLowerCase());
  if (candidates.length === 0) {
    return `provider ${quote(provider ?? '')} is not an export scope provider (${BILLING} or ${MANAGEMENT})`;
  }
  if (rest.length === 0) {
    const next = [...new Set(candidates.map((p) => p.segments[0]!.name))].join(' or ');
    return `expected ${next} after the provider`;
  }
  // Walk collection names while some pattern still agrees, then say what was expected there.
  for (let depth = 0; depth * 2 < rest.length; depth++) {
    const name = rest[depth * 2]!;
    const expectedHere = candidates
      .filter((p) => p.segments.length > depth)
      .map((p) => p.segments[depth]!.name);
    const matching = expectedHere.filter((n) => n.toLowerCase() === name.toLowerCase());
    if (matching.length === 0) {
      if (expectedHere.length === 0)
        return `unexpected extra segment ${quote(name)}; not a ${KNOWN_KINDS} scope`;
      return `unexpected segment ${quote(name)}; expected ${[...new Set(expectedHere)].join(' or ')}`;
    }
    if (depth * 2 + 1 >= rest.length) return `${quote(name)} has no id after it`;
  }
  return `not a ${KNOWN_KINDS} scope`;
}

function quote(value: string): string {
  const shortened = value.length > 60 ? `${value.slice(0, 57)}...` : value;
  return JSON.stringify(shortened);
}

export function isScope(text: string): boolean {
  try {
    parseScope(text);
    return true;
  } catch {
    return false;
  }
}

/** True when both texts name the same scope. ARM ids are case-insensitive, so casing is ignored. */
export function sameScope(a: Scope | string, b: Scope | string): boolean {
  return scopeKey(a) === scopeKey(b);
}

/** EA or MCA, from the billing account id; undefined for RBAC scopes (subscription, resource
 * group, management group), whose agreement the scope text does not reveal. */
export function billingAgreement(scope: Scope): BillingAgreement | undefined {
  const id = scope.billingAccountId;
  if (id === undefined) return undefined;
  return EA_NUMBER.test(id) ? 'EA' : 'MCA';
}

/** The datasets an export may use. Given a parsed scope rather than a kind, an MCA billing
 * account is narrowed to cost datasets (price sheet and reservations live at its billing profile). */
export function datasetsForScope(scope: ScopeKind | Scope): readonly ExportDataset[] {
  if (typeof scope === 'string') return DATASETS_BY_KIND[scope];
  if (scope.kind === 'billingAccount' && billingAgreement(scope) === 'MCA') return COST_DATASETS;
  return DATASETS_BY_KIND[scope.kind];
}

export function isDatasetAllowed(scope: ScopeKind | Scope, dataset: string): dataset is ExportDataset {
  return datasetsForScope(scope).includes(dataset as ExportDataset);
}

/** Whether a dataset accepts a granularity at a scope. An MCA price sheet (billing profile scope)
 * refuses Daily ("Invalid dataset granularity: 'Daily'.", finops-toolkit#1193); the official EA
 * billing account example sends Daily, so elsewhere every granularity is accepted. */
export function isGranularityAllowed(
  scope: ScopeKind | Scope,
  dataset: string,
  granularity: string,
): boolean {
  const kind = typeof scope === 'string' ? scope : scope.kind;
  return !(
    dataset.toLowerCase() === 'pricesheet' &&
    kind === 'billingProfile' &&
    granularity.toLowerCase() === 'daily'
  );
}

const CSV_ONLY_DATASETS: readonly string[] = [
  'reservationdetails',
  'reservationrecommendations',
  'reservationtransactions',
];

/** Whether a dataset at a scope is delivered only as uncompressed CSV: the reservation datasets (Learn,
 * same tutorial, FAQ "Which datasets support Parquet format and compression?": CSV, None) and
 * anything at a management group (its Limitations: "available in CSV format without any
 * compression"). The page describes the portal's choices; what the API answers to another format is
 * not documented, so the app never asks for one and the emulator accepts it. `scope` undefined
 * checks the dataset alone. */
export function isUncompressedCsvOnly(scope: ScopeKind | Scope | undefined, dataset: string): boolean {
  const kind = typeof scope === 'string' ? scope : scope?.kind;
  return kind === 'managementGroup' || CSV_ONLY_DATASETS.includes(dataset.toLowerCase());
}

/** A key safe for Table Storage PartitionKey/RowKey (which forbid / \ # ? and control characters):
 * the canonical scope without its leading slash, `/` written as `|`, in lower case because ARM
 * treats scope ids case-insensitively (a manifest's resourceId may differ in casing from what a
 * user registered). Ids never contain `|`, so the mapping is reversible up to casing. */
export function scopeKey(scope: Scope | string): string {
  const canonical = typeof scope === 'string' ? parseScope(scope).canonical : scope.canonical;
  return canonical.slice(1).replace(/\//g, '|').toLowerCase();
}

/** The scope a key was made from. Provider and collection names come back in documented casing;
 * ids come back in lower case (scopeKey folds them). Throws ScopeError for a key no scope makes. */
export function scopeFromKey(key: string): Scope {
  if (typeof key !== 'string' || key === '' || /[/\\#?]/.test(key)) {
    throw new ScopeError(`scope key ${quote(String(key))} is not a scope key`);
  }
  const scope = parseScope(`/${key.replace(/\|/g, '/')}`);
  if (scopeKey(scope) !== key) throw new ScopeError(`scope key ${quote(key)} is not in canonical form`);
  return scope;
}

const EXPORTS_SUFFIX = /\/providers\/Microsoft\.CostManagement\/exports\/([^/]+)\/*$/i;

/** Splits an export's ARM resource id (`{scope}/providers/Microsoft.CostManagement/exports/{name}`,
 * as found in manifest.json `exportConfig.resourceId`) into its scope and export name. */
export function parseExportResourceId(resourceId: string): { scope: Scope; exportName: string } {
  const text = typeof resourceId === 'string' ? resourceId.trim() : '';
  const match = EXPORTS_SUFFIX.exec(text);
  if (!match) {
    throw new ScopeError(
      `export resource id ${quote(text)} does not end in /providers/Microsoft.CostManagement/exports/{name}`,
    );
  }
  const exportName = decodeSegment(match[1]!, quote(text));
  return { scope: parseScope(text.slice(0, match.index)), exportName };
}
