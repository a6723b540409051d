import { type ExportSnapshot, isOwned, planExport } from '../../src/domain/exportDrift';
import {
  type DesiredExport,
  desiredExport,
  exportsForScope,
  FINOPS_HUBS,
  FLEXERA_CSP,
  OWNED_MARKER,
  parseProfile,
  ProfileInputError,
  rootFolderPathFor,
  rootFolderTemplateProblems,
} from '../../src/domain/exportProfile';
import { parseScope } from '../../src/domain/scope';

const MPA = '12345678-1234-1234-1234-123456789012:abcdef12-1234-1234-1234-123456789012_2019-05-31';
const CUSTOMER = parseScope(
  `/providers/Microsoft.Billing/billingAccounts/${MPA}/customers/a1b2c3d4-e5f6-4789-abcd-ef0123456789`,
);
const ACCOUNT = parseScope(`/providers/Microsoft.Billing/billingAccounts/${MPA}`);
const NOW = new Date('2026-12-04T10:00:00Z');

function desired(): DesiredExport {
  return desiredExport(FLEXERA_CSP, FLEXERA_CSP.exports[0]!, {
    scope: CUSTOMER,
    assignmentId: 'a1',
    destination: { storageAccount: 'partnerx01', container: 'flexera' },
    rootFolderTemplate: '{customerId}/{dataset}',
  });
}

/** The export as GET would return it after a PUT of `d`. */
function snapshotOf(d: DesiredExport): ExportSnapshot {
  return {
    name: d.name,
    eTag: '"1"',
    properties: {
      format: d.format,
      partitionData: d.partitionData,
      dataOverwriteBehavior: d.overwrite,
      compressionMode: d.compression,
      exportDescription: d.description,
      definition: {
        type: d.dataset,
        timeframe: d.timeframe,
        dataSet: { granularity: d.granularity!, configuration: { dataVersion: d.dataVersion! } },
      },
      deliveryInfo: {
        destination: {
          storageAccount: 'partnerx01',
          container: d.destination.container,
          rootFolderPath: d.destination.rootFolderPath,
        },
      },
      schedule: {
        status: 'Active',
        recurrence: 'Daily',
        recurrencePeriod: { from: '2026-12-01T00:00:00Z', to: '2031-12-01T00:00:00Z' },
      },
    },
  };
}

const TOKENS = { now: NOW, currentTokenFingerprint: 'fp2', carriedTokenFingerprint: 'fp2' };

describe('built-in profiles', () => {
  it('flexera-csp is the two exports Flexera documents: actual and amortized, 2021-10-01, CSV, partitioned, overwrite, daily MTD', () => {
    expect(
      FLEXERA_CSP.exports.map((e) => [
        e.dataset,
        e.dataVersion,
        e.format,
        e.compression,
        e.partitionData,
        e.overwrite,
        e.timeframe,
        e.recurrence,
      ]),
    ).toEqual([
      ['ActualCost', '2021-10-01', 'Csv', 'none', true, 'OverwritePreviousReport', 'MonthToDate', 'Daily'],
      ['AmortizedCost', '2021-10-01', 'Csv', 'none', true, 'OverwritePreviousReport', 'MonthToDate', 'Daily'],
    ]);
  });

  it('finops-hubs takes the price sheet only where the scope offers it', () => {
    expect(exportsForScope(FINOPS_HUBS, CUSTOMER).exports.map((e) => e.dataset)).toEqual(['FocusCost']);
    expect(exportsForScope(FINOPS_HUBS, 'billingProfile').exports.map((e) => e.dataset)).toEqual([
      'FocusCost',
      'PriceSheet',
    ]);
    expect(exportsForScope(FINOPS_HUBS, CUSTOMER).problems).toEqual([]);
  });

  it('a custom profile whose dataset a scope refuses names the field and the scope kind', () => {
    const profile = parseProfile({
      name: 'prices',
      exports: [{ key: 'p', dataset: 'PriceSheet', format: 'Csv' }],
    });
    const { problems } = exportsForScope(profile, ACCOUNT); // an MCA billing account: cost datasets only
    expect(problems).toEqual([
      { field: 'profile.exports[0].dataset', message: expect.stringContaining('billingAccount') },
    ]);
  });
});

describe('parseProfile', () => {
  it('fills defaults and keeps what was given', () => {
    const p = parseProfile({ name: 'my-csv', exports: [{ key: 'usage', dataset: 'Usage' }] });
    expect(p.exports[0]).toEqual({
      key: 'usage',
      dataset: 'Usage',
      format: 'Csv',
      compression: 'none',
      partitionData: true,
      overwrite: 'OverwritePreviousReport',
      timeframe: 'MonthToDate',
      recurrence: 'Daily',
      granularity: 'Daily',
    });
  });

  it('names every bad field', () => {
    let error: unknown;
    try {
      parseProfile({
        name: 'Flexera CSP!',
        exports: [
          { key: 'a', dataset: 'Costs', format: 'Csv' },
          { key: 'b', dataset: 'FocusCost', format: 'Csv', compression: 'snappy', dataVersion: '1.0 r2' },
          { key: 'b', dataset: 'PriceSheet', granularity: 'Daily', timeframe: 'Custom' },
          { key: 'r', dataset: 'ReservationDetails', format: 'Parquet', compression: 'snappy' },
        ],
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProfileInputError);
    expect((error as ProfileInputError).problems.map((p) => p.field)).toEqual([
      'name',
      'exports[0].dataset',
      'exports[1].compression',
      'exports[1].dataVersion',
      'exports[2].timeframe',
      'exports[2].granularity',
      'exports[2].key',
      'exports[3].format',
    ]);
  });

  it('refuses a built-in name and a body that is not an object', () => {
    expect(() => parseProfile({ name: 'flexera-csp', exports: [{ key: 'a', dataset: 'Usage' }] })).toThrow(
      /built-in/,
    );
    expect(() => parseProfile([])).toThrow(ProfileInputError);
  });
});

describe('rootFolderPathFor', () => {
  it('fills placeholders and makes MPA ids valid path segments (no ":" and no leading "/")', () => {
    expect(
      rootFolderPathFor('/{billingAccountId}/{customerId}/{dataset}/', CUSTOMER, 'flexera-csp', {
        key: 'actual',
        dataset: 'ActualCost',
      }),
    ).toBe(
      '12345678-1234-1234-1234-123456789012-abcdef12-1234-1234-1234-123456789012_2019-05-31/a1b2c3d4-e5f6-4789-abcd-ef0123456789/actualcost',
    );
    expect(rootFolderPathFor('x/../{export}//./', ACCOUNT, 'p', { key: 'focus', dataset: 'FocusCost' })).toBe(
      'x/focus',
    );
  });

  it('refuses unknown placeholders by name', () => {
    expect(rootFolderTemplateProblems('{tenant}/{dataset}')).toEqual([
      { field: 'rootFolderTemplate', message: expect.stringContaining('{tenant}') },
    ]);
    expect(rootFolderTemplateProblems('{customerId}/{dataset}')).toEqual([]);
  });
});

describe('planExport', () => {
  it('create when missing, unchanged when it matches', () => {
    const d = desired();
    expect(d.name).toBe('cea-flexera-csp-actual');
    expect(d.description).toContain(OWNED_MARKER);
    expect(planExport(d, undefined, TOKENS)).toEqual({ exportName: d.name, outcome: 'create' });
    expect(planExport(d, snapshotOf(d), TOKENS)).toEqual({ exportName: d.name, outcome: 'unchanged' });
  });

  it('never touches an export without the marker, even with our name', () => {
    const d = desired();
    const foreign = snapshotOf(d);
    foreign.properties.exportDescription = 'made by hand';
    expect(isOwned(foreign)).toBe(false);
    expect(planExport(d, foreign, TOKENS)).toMatchObject({ outcome: 'not-owned' });
  });

  it('lists each drifted field: format, compression, version, overwrite, partitioning, path, schedule', () => {
    const d = desired();
    const drifted = snapshotOf(d);
    const p = drifted.properties;
    p.format = 'Parquet';
    p.compressionMode = 'snappy';
    p.definition.dataSet!.configuration!.dataVersion = '2019-10-01';
    p.dataOverwriteBehavior = 'CreateNewReport';
    p.partitionData = false;
    p.deliveryInfo.destination.container = 'other';
    p.deliveryInfo.destination.rootFolderPath = 'elsewhere';
    p.schedule = {
      status: 'Inactive',
      recurrence: 'Daily',
      recurrencePeriod: { from: '2025-01-01T00:00:00Z', to: '2027-01-10T00:00:00Z' },
    };
    const plan = planExport(d, drifted, TOKENS);
    expect(plan.outcome).toBe('update');
    expect(plan.fields!.map((f) => f.field)).toEqual([
      'definition.dataSet.configuration.dataVersion',
      'format',
      'compressionMode',
      'dataOverwriteBehavior',
      'partitionData',
      'deliveryInfo.destination.container',
      'deliveryInfo.destination.rootFolderPath',
      'schedule.status',
      'schedule.recurrencePeriod.to',
    ]);
    expect(plan.fields![1]).toEqual({ field: 'format', actual: 'Parquet', desired: 'Csv' });
  });

  it('a schedule ending in more than 60 days is left alone; enum casing is not drift', () => {
    const d = desired();
    const s = snapshotOf(d);
    s.properties.schedule!.recurrencePeriod!.to = '2027-02-10T00:00:00Z';
    s.properties.format = 'csv';
    expect(planExport(d, s, TOKENS).outcome).toBe('unchanged');
  });

  it('a token that is not the account current one is drift, shown by fingerprint only', () => {
    const d = desired();
    const plan = planExport(d, snapshotOf(d), {
      now: NOW,
      currentTokenFingerprint: 'fp2',
      carriedTokenFingerprint: 'fp1',
    });
    expect(plan.fields).toEqual([
      {
        field: 'deliveryInfo.destination.sasToken',
        actual: 'token fp1',
        desired: "token fp2 (the account's current one)",
      },
    ]);
    const unknown = planExport(d, snapshotOf(d), { now: NOW, currentTokenFingerprint: 'fp2' });
    expect(unknown.fields![0]!.actual).toBe('unknown token');
  });
});
