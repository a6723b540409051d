import { mulberry32 } from '../../dev/emulator/data/prng';
import type { Scope, ScopeKind } from '../../src/domain/scope';
import {
  billingAgreement,
  datasetsForScope,
  EXPORT_DATASETS,
  isDatasetAllowed,
  isScope,
  isUncompressedCsvOnly,
  parseExportResourceId,
  parseScope,
  sameScope,
  SCOPE_KINDS,
  ScopeError,
  scopeFromKey,
  scopeKey,
} from '../../src/domain/scope';

const SUB = '6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const MCA = '12345678-1234-1234-1234-123456789012:12345678-1234-1234-1234-123456789012_2019-05-31';
const EA = '8611537';
const CUSTOMER = 'a1b2c3d4-e5f6-4789-abcd-ef0123456789';
const PROFILE = 'AB12-CD34-EF5-GHI';
const SECTION = 'XY98-ZW76-UV5-TSR';

interface Case {
  kind: ScopeKind;
  canonical: string;
  ids: Partial<Scope>;
}

/** One canonical example per kind; every variant below must parse to exactly this. */
const CASES: Case[] = [
  { kind: 'subscription', canonical: `/subscriptions/${SUB}`, ids: { subscriptionId: SUB } },
  {
    kind: 'resourceGroup',
    canonical: `/subscriptions/${SUB}/resourceGroups/rg-finops.prod(1)`,
    ids: { subscriptionId: SUB, resourceGroupName: 'rg-finops.prod(1)' },
  },
  {
    kind: 'managementGroup',
    canonical: '/providers/Microsoft.Management/managementGroups/Contoso_Root-01',
    ids: { managementGroupId: 'Contoso_Root-01' },
  },
  {
    kind: 'billingAccount',
    canonical: `/providers/Microsoft.Billing/billingAccounts/${EA}`,
    ids: { billingAccountId: EA },
  },
  {
    kind: 'department',
    canonical: `/providers/Microsoft.Billing/billingAccounts/${EA}/departments/1234`,
    ids: { billingAccountId: EA, departmentId: '1234' },
  },
  {
    kind: 'enrollmentAccount',
    canonical: `/providers/Microsoft.Billing/billingAccounts/${EA}/enrollmentAccounts/456789`,
    ids: { billingAccountId: EA, enrollmentAccountId: '456789' },
  },
  {
    kind: 'billingProfile',
    canonical: `/providers/Microsoft.Billing/billingAccounts/${MCA}/billingProfiles/${PROFILE}`,
    ids: { billingAccountId: MCA, billingProfileId: PROFILE },
  },
  {
    kind: 'invoiceSection',
    canonical: `/providers/Microsoft.Billing/billingAccounts/${MCA}/billingProfiles/${PROFILE}/invoiceSections/${SECTION}`,
    ids: { billingAccountId: MCA, billingProfileId: PROFILE, invoiceSectionId: SECTION },
  },
  {
    kind: 'customer',
    canonical: `/providers/Microsoft.Billing/billingAccounts/${MCA}/customers/${CUSTOMER}`,
    ids: { billingAccountId: MCA, customerId: CUSTOMER },
  },
];

/** Spellings of one canonical scope a user or an API might send. */
function variants(canonical: string): [string, string][] {
  const bare = canonical.slice(1);
  return [
    ['canonical', canonical],
    ['no leading slash (API examples)', bare],
    ['trailing slash (spec text for subscriptions)', `${canonical}/`],
    ['both slashes doubled', `//${bare}//`],
    ['surrounding whitespace', `  ${canonical}\n`],
    ['lower-case names', lowerNames(canonical)],
    ['upper-case names', upperNames(canonical)],
    ['URL-encoded ids', canonical.replace(/:/g, '%3A').replace(/\(/g, '%28').replace(/\)/g, '%29')],
  ];
}

/** Lower-cases provider and collection names, leaving ids alone. */
function lowerNames(canonical: string): string {
  return mapNames(canonical, (s) => s.toLowerCase());
}
function upperNames(canonical: string): string {
  return mapNames(canonical, (s) => s.toUpperCase());
}
function mapNames(canonical: string, f: (s: string) => string): string {
  const parts = canonical.slice(1).split('/');
  const out: string[] = [];
  let i = 0;
  if (parts[0] === 'providers') {
    out.push(f(parts[0]), f(parts[1]!));
    i = 2;
  }
  for (; i < parts.length; i += 2) out.push(f(parts[i]!), parts[i + 1]!);
  return `/${out.join('/')}`;
}

function errorOf(text: string): string {
  try {
    parseScope(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ScopeError);
    return (e as ScopeError).message;
  }
  throw new Error(`expected ${text} to be rejected`);
}

describe('parseScope', () => {
  it('has one example per documented kind', () => {
    expect(CASES.map((c) => c.kind).sort()).toEqual([...SCOPE_KINDS].sort());
  });

  describe.each(CASES)('$kind', ({ kind, canonical, ids }) => {
    it.each(variants(canonical))('parses %s', (_label, text) => {
      expect(parseScope(text)).toEqual({ kind, canonical, ...ids });
    });
  });

  it.each([
    ['subscription GUID', `/subscriptions/${SUB.toUpperCase()}`, `/subscriptions/${SUB}`],
    [
      'MCA billing account GUIDs',
      `/providers/Microsoft.Billing/billingAccounts/${MCA.toUpperCase()}`,
      `/providers/Microsoft.Billing/billingAccounts/${MCA}`,
    ],
    [
      'customer GUID',
      `/providers/Microsoft.Billing/billingAccounts/${MCA}/customers/${CUSTOMER.toUpperCase()}`,
      `/providers/Microsoft.Billing/billingAccounts/${MCA}/customers/${CUSTOMER}`,
    ],
    [
      'management group that is a tenant GUID',
      `/providers/Microsoft.Management/managementGroups/${SUB.toUpperCase()}`,
      `/providers/Microsoft.Management/managementGroups/${SUB}`,
    ],
  ])('lower-cases GUIDs (%s) but keeps other ids as given', (_label, text, canonical) => {
    expect(parseScope(text).canonical).toBe(canonical);
  });

  it('keeps the casing of non-GUID ids (resource group, billing profile)', () => {
    expect(parseScope(`/subscriptions/${SUB}/resourcegroups/MyRG`).resourceGroupName).toBe('MyRG');
    expect(
      parseScope(`/providers/microsoft.billing/billingaccounts/${MCA}/billingprofiles/${PROFILE}`)
        .billingProfileId,
    ).toBe(PROFILE);
  });

  it('accepts Unicode resource group names, as ARM does', () => {
    expect(parseScope(`/subscriptions/${SUB}/resourceGroups/kostenstelle-müller`).resourceGroupName).toBe(
      'kostenstelle-müller',
    );
  });

  it.each([
    ['empty', '', 'scope is empty'],
    ['whitespace only', ' \t\n', 'scope is empty'],
    ['only slashes', '///', 'is empty'],
    [
      'subscription id not a GUID',
      '/subscriptions/not-a-guid',
      'subscription id "not-a-guid" is not valid; expected a GUID',
    ],
    ['subscription GUID too short', `/subscriptions/${SUB.slice(0, -1)}`, 'expected a GUID'],
    [
      'subscription GUID with a non-hex digit',
      `/subscriptions/${SUB.replace('6f', 'g6')}`,
      'expected a GUID',
    ],
    ['subscription GUID in braces', `/subscriptions/{${SUB}}`, 'expected a GUID'],
    [
      'customer id not a GUID',
      `/providers/Microsoft.Billing/billingAccounts/${MCA}/customers/contoso`,
      'customer id "contoso"',
    ],
    [
      'MCA account with a bad GUID half',
      `/providers/Microsoft.Billing/billingAccounts/12345678-1234-1234-1234-12345678901:12345678-1234-1234-1234-123456789012_2019-05-31`,
      'billing account id',
    ],
    [
      'MCA account without its date suffix',
      `/providers/Microsoft.Billing/billingAccounts/${MCA.split('_')[0]}`,
      'expected an EA enrollment number (digits) or an MCA id',
    ],
    [
      'billing account id with letters',
      '/providers/Microsoft.Billing/billingAccounts/contoso',
      'billing account id "contoso"',
    ],
    [
      'EA department id not numeric',
      `/providers/Microsoft.Billing/billingAccounts/${EA}/departments/sales`,
      'department id "sales"',
    ],
    [
      'EA enrollment account id not numeric',
      `/providers/Microsoft.Billing/billingAccounts/${EA}/enrollmentAccounts/a@b.com`,
      'enrollment account id "a@b.com"',
    ],
    [
      'resource group ending in a period',
      `/subscriptions/${SUB}/resourceGroups/rg.`,
      'resource group name "rg."',
    ],
    [
      'resource group too long',
      `/subscriptions/${SUB}/resourceGroups/${'r'.repeat(91)}`,
      'resource group name',
    ],
    [
      'management group with a space (encoded)',
      '/providers/Microsoft.Management/managementGroups/a%20b',
      'management group id "a b"',
    ],
    ['missing id after subscriptions', '/subscriptions', '"subscriptions" has no id after it'],
    [
      'missing id after resourceGroups',
      `/subscriptions/${SUB}/resourceGroups`,
      '"resourceGroups" has no id after it',
    ],
    [
      'missing id after departments',
      `/providers/Microsoft.Billing/billingAccounts/${EA}/departments/`,
      '"departments" has no id',
    ],
    [
      'provider without collection',
      '/providers/Microsoft.Billing',
      'expected billingAccounts after the provider',
    ],
    ['providers without a provider', '/providers', 'names no provider'],
    [
      'unknown provider',
      `/providers/Microsoft.Storage/storageAccounts/x`,
      'provider "Microsoft.Storage" is not an export scope provider',
    ],
    [
      'unknown collection under billing account',
      `/providers/Microsoft.Billing/billingAccounts/${EA}/projects/1`,
      'unexpected segment "projects"; expected',
    ],
    ['unknown root collection', `/tenants/${SUB}`, 'unexpected segment "tenants"; expected subscriptions'],
    [
      'extra segments after resource group',
      `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa`,
      'unexpected extra segment "providers"',
    ],
    [
      'extra segments after invoice section',
      `/providers/Microsoft.Billing/billingAccounts/${MCA}/billingProfiles/${PROFILE}/invoiceSections/${SECTION}/x/y`,
      'unexpected extra segment "x"',
    ],
    [
      'invoice section without billing profile',
      `/providers/Microsoft.Billing/billingAccounts/${MCA}/invoiceSections/${SECTION}`,
      'unexpected segment "invoiceSections"',
    ],
    [
      'management group under the billing provider',
      '/providers/Microsoft.Billing/managementGroups/mg',
      'unexpected segment "managementGroups"; expected billingAccounts',
    ],
    ['empty middle segment', `/subscriptions//${SUB}`, 'empty path segment'],
    ['query string', `/subscriptions/${SUB}?api-version=2025-03-01`, 'not allowed in a scope'],
    ['fragment', `/subscriptions/${SUB}#x`, 'not allowed in a scope'],
    ['backslashes', `\\subscriptions\\${SUB}`, 'not allowed in a scope'],
    ['inner space', `/subscriptions/ ${SUB}`, 'not allowed in a scope'],
    ['control character', `/subscriptions/${SUB}\u0000`, 'not allowed in a scope'],
    [
      'encoded slash inside an id',
      `/providers/Microsoft.Management/managementGroups/a%2Fb`,
      'management group id "a/b"',
    ],
    [
      'double-encoded colon',
      `/providers/Microsoft.Billing/billingAccounts/${MCA.replace(':', '%253A')}`,
      'billing account id',
    ],
    [
      'broken URL encoding',
      `/providers/Microsoft.Management/managementGroups/a%ZZ`,
      '"a%ZZ" is not valid URL encoding',
    ],
    [
      'a full ARM URL',
      `https://management.azure.com/subscriptions/${SUB}`,
      'is a URL; give only the scope path',
    ],
  ])('rejects %s', (_label, text, message) => {
    expect(errorOf(text)).toContain(message);
  });

  it('rejects non-string input without crashing', () => {
    expect(() => parseScope(undefined as unknown as string)).toThrow(ScopeError);
    expect(() => parseScope(42 as unknown as string)).toThrow(ScopeError);
  });

  it('shortens very long input in messages', () => {
    expect(errorOf(`/tenants/${'x'.repeat(5000)}`).length).toBeLessThan(400);
  });

  it('isScope mirrors parseScope', () => {
    expect(isScope(`subscriptions/${SUB}`)).toBe(true);
    expect(isScope('subscriptions/nope')).toBe(false);
  });
});

describe('scopeKey / scopeFromKey', () => {
  const FORBIDDEN = /[/\\#?\u0000-\u001f\u007f-\u009f]/;

  it.each(CASES)('round-trips $kind', ({ canonical }) => {
    const key = scopeKey(canonical);
    expect(key).not.toMatch(FORBIDDEN);
    const back = scopeFromKey(key);
    expect(back.canonical.toLowerCase()).toBe(canonical.toLowerCase());
    expect(scopeKey(back)).toBe(key);
    expect(sameScope(back, canonical)).toBe(true);
  });

  it.each(CASES)('gives every spelling of $kind the same key', ({ canonical }) => {
    const keys = new Set(variants(canonical).map(([, text]) => scopeKey(text)));
    keys.add(scopeKey(canonical.toUpperCase().replace('/PROVIDERS/', '/providers/')));
    expect(keys.size).toBe(1);
  });

  it('gives different scopes different keys', () => {
    const keys = CASES.map((c) => scopeKey(c.canonical));
    expect(new Set(keys).size).toBe(CASES.length);
  });

  it('keeps a readable key', () => {
    expect(scopeKey(`/subscriptions/${SUB}/resourceGroups/MyRG`)).toBe(
      `subscriptions|${SUB}|resourcegroups|myrg`,
    );
  });

  it.each([
    ['empty', ''],
    ['with a slash', `subscriptions/${SUB}`],
    ['not a scope', 'subscriptions|nope'],
    ['not canonical (upper case)', `SUBSCRIPTIONS|${SUB}`],
    ['leading separator', `|subscriptions|${SUB}`],
  ])('scopeFromKey rejects a key that is %s', (_label, key) => {
    expect(() => scopeFromKey(key)).toThrow(ScopeError);
  });

  it('never produces forbidden characters, for generated scopes of every kind', () => {
    const random = seeded(20250301);
    const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdefABCDEF'[random(22)]).join('');
    const guid = () => `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`;
    const mca = () => `${guid()}:${guid()}_20${random(10)}${random(10)}-0${1 + random(9)}-1${random(10)}`;
    const pick = (chars: string, min: number, max: number) =>
      Array.from({ length: min + random(max - min + 1) }, () => chars[random(chars.length)]).join('');
    const rg = () => `${pick('abcXYZ019_-().éü', 1, 60)}x`;
    const digits = () => pick('0123456789', 1, 12);
    const name = () => `${pick('ABCDEFGHJK0123456789', 1, 4)}-${pick('ABCDEF0123', 2, 6)}`;
    const generators: Record<ScopeKind, () => string> = {
      subscription: () => `/subscriptions/${guid()}`,
      resourceGroup: () => `subscriptions/${guid()}/resourcegroups/${encodeURIComponent(rg())}/`,
      managementGroup: () => `/providers/microsoft.management/managementgroups/${pick('aZ09_-().', 1, 90)}`,
      billingAccount: () => `/providers/Microsoft.Billing/billingAccounts/${random(2) ? digits() : mca()}`,
      department: () => `/providers/Microsoft.Billing/billingAccounts/${digits()}/departments/${digits()}`,
      enrollmentAccount: () =>
        `/providers/Microsoft.Billing/billingAccounts/${digits()}/enrollmentAccounts/${digits()}`,
      billingProfile: () => `/PROVIDERS/MICROSOFT.BILLING/BILLINGACCOUNTS/${mca()}/BILLINGPROFILES/${name()}`,
      invoiceSection: () =>
        `/providers/Microsoft.Billing/billingAccounts/${encodeURIComponent(mca())}/billingProfiles/${name()}/invoiceSections/${name()}`,
      customer: () => `providers/Microsoft.Billing/billingAccounts/${mca()}/customers/${guid()}`,
    };
    for (let i = 0; i < 2000; i++) {
      const kind = SCOPE_KINDS[i % SCOPE_KINDS.length]!;
      const text = generators[kind]();
      const scope = parseScope(text);
      expect(scope.kind).toBe(kind);
      const key = scopeKey(scope);
      expect(key).not.toMatch(FORBIDDEN);
      expect(key.length).toBeLessThanOrEqual(1024);
      expect(scopeKey(scopeFromKey(key))).toBe(key);
      expect(sameScope(scopeFromKey(key), text)).toBe(true);
    }
  });
});

describe('parseExportResourceId', () => {
  it.each(CASES)('splits an export id at $kind scope', ({ canonical }) => {
    const { scope, exportName } = parseExportResourceId(
      `${canonical.toLowerCase()}/providers/microsoft.costmanagement/exports/daily-focus`,
    );
    expect(scope.canonical.toLowerCase()).toBe(canonical.toLowerCase());
    expect(exportName).toBe('daily-focus');
  });

  it('decodes the export name and tolerates a trailing slash', () => {
    expect(
      parseExportResourceId(`/subscriptions/${SUB}/providers/Microsoft.CostManagement/exports/my%20export/`)
        .exportName,
    ).toBe('my export');
  });

  it.each([
    ['no exports suffix', `/subscriptions/${SUB}`, 'does not end in'],
    [
      'no export name',
      `/subscriptions/${SUB}/providers/Microsoft.CostManagement/exports/`,
      'does not end in',
    ],
    ['bad scope', '/subscriptions/x/providers/Microsoft.CostManagement/exports/e', 'subscription id "x"'],
  ])('rejects %s', (_label, id, message) => {
    expect(() => parseExportResourceId(id)).toThrow(message);
  });
});

describe('datasets per scope', () => {
  const ALL = [...EXPORT_DATASETS];
  const COST = ['ActualCost', 'AmortizedCost', 'FocusCost', 'Usage'];
  it.each<[ScopeKind, string[]]>([
    ['subscription', COST],
    ['resourceGroup', COST],
    ['managementGroup', ['Usage']],
    ['billingAccount', ALL],
    ['department', COST],
    ['enrollmentAccount', COST],
    ['billingProfile', ALL],
    ['invoiceSection', COST],
    ['customer', COST],
  ])('%s allows %j', (kind, datasets) => {
    expect([...datasetsForScope(kind)].sort()).toEqual([...datasets].sort());
    for (const d of EXPORT_DATASETS) expect(isDatasetAllowed(kind, d)).toBe(datasets.includes(d));
  });

  it('reservation datasets and every dataset at a management group are uncompressed CSV only', () => {
    for (const d of EXPORT_DATASETS) {
      expect(isUncompressedCsvOnly('billingAccount', d)).toBe(d.startsWith('Reservation'));
      expect(isUncompressedCsvOnly(undefined, d)).toBe(d.startsWith('Reservation'));
      expect(isUncompressedCsvOnly('managementGroup', d)).toBe(true);
    }
    expect(
      isUncompressedCsvOnly(parseScope('/providers/Microsoft.Management/managementGroups/mg'), 'Usage'),
    ).toBe(true);
  });

  it('narrows an MCA billing account to cost datasets, keeps EA billing accounts whole', () => {
    const mca = parseScope(`/providers/Microsoft.Billing/billingAccounts/${MCA}`);
    const ea = parseScope(`/providers/Microsoft.Billing/billingAccounts/${EA}`);
    expect(billingAgreement(mca)).toBe('MCA');
    expect(billingAgreement(ea)).toBe('EA');
    expect(datasetsForScope(mca)).toEqual(COST);
    expect(isDatasetAllowed(mca, 'PriceSheet')).toBe(false);
    expect(isDatasetAllowed(ea, 'PriceSheet')).toBe(true);
    expect(billingAgreement(parseScope(`/subscriptions/${SUB}`))).toBeUndefined();
  });

  it('rejects unknown dataset names', () => {
    expect(isDatasetAllowed('subscription', 'actualcost')).toBe(false);
    expect(isDatasetAllowed('subscription', 'Carbon')).toBe(false);
  });
});

/** Reproducible integers in [0, n): the shared mulberry32 stream, scaled. */
function seeded(seed: number): (n: number) => number {
  const next = mulberry32(seed);
  return (n: number) => Math.floor(next() * n);
}
