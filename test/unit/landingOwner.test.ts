// Which scope owns the export writing into a landing's folder (domain/landingOwner.ts).
import {
  deliveredTo,
  type ExportPlace,
  judgeOwner,
  landingPlace,
  type OwnerEvidence,
  sameScope,
  writesTo,
} from '../../src/domain/landingOwner';

const SUB_A = '/subscriptions/6c1f5e0a-8d3b-4f7e-9a21-3b4c5d6e7f80';
const SUB_B = '/subscriptions/11111111-2222-3333-4444-555555555555';
const PARTNER =
  '/providers/Microsoft.Billing/billingAccounts/1234567:abcd-ef01-2345-6789-0123456789ab_2019-05-31/customers/c-1';

const place: ExportPlace = {
  storageAccount: 'finopsexports',
  container: 'msexports',
  rootFolderPath: 'costs/tenant-a',
  exportName: 'daily-actual',
};

function registered(scope: string, overrides: Partial<OwnerEvidence> = {}): OwnerEvidence {
  return {
    scope,
    exportName: 'daily-actual',
    destination: {
      storageAccount: 'finopsexports',
      container: 'msexports',
      rootFolderPath: 'costs/tenant-a',
    },
    source: 'registered',
    ...overrides,
  };
}

describe('scope comparison', () => {
  test('ARM ids compare case-insensitively and without trailing slashes', () => {
    expect(sameScope(SUB_A, `${SUB_A.toUpperCase()}/`)).toBe(true);
    expect(sameScope(PARTNER, `${PARTNER.replace('Microsoft.Billing', 'microsoft.billing')}//`)).toBe(true);
    expect(sameScope(SUB_A, SUB_B)).toBe(false);
    // Text that is no scope still compares, loosely.
    expect(sameScope('/hand/Made/', 'hand/made')).toBe(true);
  });
});

describe('where a landing was written', () => {
  test('the folder layout names the root folder and export, whatever the manifest claims', () => {
    const path = 'costs/tenant-a/daily-actual/20250701-20250731/202508020944/ca03ef2a/manifest.json';
    expect(landingPlace(path, 'msexports', { exportName: 'other', rootFolderPath: 'x' })).toEqual({
      container: 'msexports',
      rootFolderPath: 'costs/tenant-a',
      exportName: 'daily-actual',
    });
    expect(
      landingPlace('daily-actual/20250701-20250731/x/manifest.json', 'c1', { exportName: 'e' }, 'acct'),
    ).toEqual({ storageAccount: 'acct', container: 'c1', rootFolderPath: '', exportName: 'daily-actual' });
  });

  test('another layout: only the manifest can say (root folder slashes normalised)', () => {
    expect(landingPlace('manual/manifest.json', 'c1', { exportName: 'e', rootFolderPath: '/r/s/' })).toEqual({
      container: 'c1',
      rootFolderPath: 'r/s',
      exportName: 'e',
    });
  });
});

describe('does the evidence write here', () => {
  test('export name and container ignore case; the root folder ignores outer slashes only', () => {
    expect(writesTo(registered(SUB_A, { exportName: 'DAILY-actual' }), place)).toBe(true);
    const dest = (rootFolderPath: string, container = 'msexports') => ({
      destination: { container, rootFolderPath },
    });
    expect(writesTo(registered(SUB_A, dest('/costs/tenant-a/', 'MSEXPORTS')), place)).toBe(true);
    expect(writesTo(registered(SUB_A, dest('costs/Tenant-A')), place)).toBe(false);
    expect(writesTo(registered(SUB_A, dest('costs')), place)).toBe(false);
    expect(writesTo(registered(SUB_A, dest('costs/tenant-a', 'other')), place)).toBe(false);
    expect(writesTo(registered(SUB_A, { exportName: 'weekly' }), place)).toBe(false);
  });

  test('storage accounts are compared only when both sides know theirs', () => {
    const other = { storageAccount: 'elsewhere', container: 'msexports', rootFolderPath: 'costs/tenant-a' };
    expect(writesTo(registered(SUB_A, { destination: other }), place)).toBe(false);
    const { storageAccount: _a, ...unknownAccount } = place;
    expect(writesTo(registered(SUB_A, { destination: other }), unknownAccount)).toBe(true);
  });

  test('a backfill row from before destinations were recorded is trusted by scope and name; nothing else is', () => {
    const { destination: _d, ...bare } = registered(SUB_A);
    expect(writesTo({ ...bare, source: 'backfill' }, place)).toBe(true);
    expect(writesTo({ ...bare, source: 'registered' }, place)).toBe(false);
  });
});

describe('the verdict', () => {
  test("owned when the named scope's export writes here", () => {
    expect(
      judgeOwner(SUB_A.toUpperCase(), place, [
        registered(SUB_B, { destination: undefined }),
        registered(SUB_A),
      ]),
    ).toEqual({
      kind: 'owned',
      scope: SUB_A,
      source: 'registered',
    });
  });

  test('another scope owns the folder: scopeMismatch naming both scopes', () => {
    const verdict = judgeOwner(SUB_B, place, [
      registered(PARTNER),
      registered(PARTNER, { source: 'backfill' }),
    ]);
    expect(verdict).toMatchObject({ kind: 'scopeMismatch', owners: [PARTNER] });
    expect(verdict.kind !== 'owned' && verdict.reason).toContain(SUB_B);
    expect(verdict.kind !== 'owned' && verdict.reason).toContain(PARTNER);
  });

  test('nobody registered an export writing here: unregisteredExport, saying what to do', () => {
    const elsewhere = registered(SUB_A, {
      destination: { container: 'msexports', rootFolderPath: 'costs/tenant-b' },
    });
    const verdict = judgeOwner(SUB_A, place, [elsewhere]);
    expect(verdict).toMatchObject({ kind: 'unregisteredExport', owners: [] });
    expect(verdict.kind !== 'owned' && verdict.reason).toMatch(/POST \/api\/exports\/sync/);
    expect(judgeOwner(SUB_A, place, [])).toMatchObject({ kind: 'unregisteredExport' });
  });
});

describe('deliveredTo: an export destination as Cost Management describes it', () => {
  test('the account from a resource id (RBAC delivery) or a name (SAS delivery); folders without slashes', () => {
    expect(
      deliveredTo({
        resourceId: `${SUB_A}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/FinOpsExports`,
        container: 'msexports',
        rootFolderPath: '/costs/tenant-a/',
      }),
    ).toEqual({ storageAccount: 'finopsexports', container: 'msexports', rootFolderPath: 'costs/tenant-a' });
    expect(deliveredTo({ storageAccount: 'partnerx01', container: 'flexera' })).toEqual({
      storageAccount: 'partnerx01',
      container: 'flexera',
      rootFolderPath: '',
    });
  });

  test('a destination naming no readable account is compared by container and folder alone', () => {
    const d = deliveredTo({
      resourceId: 'not-an-id',
      container: 'msexports',
      rootFolderPath: 'costs/tenant-a',
    });
    expect(d).toEqual({ container: 'msexports', rootFolderPath: 'costs/tenant-a' });
    expect(
      writesTo({ scope: SUB_A, exportName: 'daily-actual', destination: d, source: 'costManagement' }, place),
    ).toBe(true);
  });
});
