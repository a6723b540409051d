// The landing catalog service against the jest Azurite: every fixture shape, 1,000 partitions,
// exactly-once under redelivery, incomplete runs, supersession (also under concurrency), rejected
// manifests, backfill wake-up, and the query helpers.
import { randomUUID } from 'node:crypto';

import {
  type BackfillRunRecord,
  exportKey,
  type ExportRecord,
  landingKeys,
  type LandingRecord,
  periodRowKey,
} from '../../src/azure/catalog';
import { unresolvedPartitionKey } from '../../src/azure/landingRows';
import { createTableClient } from '../../src/azure/storageClients';
import {
  compareRuns,
  landingPeriod,
  latestRunPerPeriod,
  listingPrefixes,
  pathFacts,
  planSupersession,
} from '../../src/domain/landingPlan';
import { parseManifest } from '../../src/domain/manifest';
import { parseScope } from '../../src/domain/scope';
import {
  LandingIncompleteError,
  type LandingOutcome,
  type ManifestLanded,
} from '../../src/services/landings';
import {
  collect,
  content,
  filesOf,
  fixture,
  landingsOf,
  type LandingWorld,
  landingWorld,
  rawRows,
  storageConnection,
  uploadListedBlobs,
} from '../support/landings';

const EA_SCOPE = '/providers/Microsoft.Billing/billingAccounts/8611537';
const SUB_SCOPE = '/subscriptions/52da6baa-c097-47f7-87d6-66f25eceeb81';

let world: LandingWorld;
beforeAll(async () => {
  world = await landingWorld();
});

function manifestPathOf(text: string, name = 'manifest.json'): string {
  const doc = JSON.parse(text) as { blobs: { blobName: string }[] };
  const first = doc.blobs[0]?.blobName;
  if (!first) throw new Error('fixture has no blobs; give a path');
  return `${first.slice(0, first.lastIndexOf('/'))}/${name}`;
}

function event(text: string, blobName: string): ManifestLanded {
  return { container: world.containerName, blobName, content: Buffer.from(text) };
}

async function catalogueLanded(text: string, blobName = manifestPathOf(text)): Promise<LandingOutcome> {
  await uploadListedBlobs(world.container, text);
  return world.service().catalogue(event(text, blobName));
}

/** A manifest in the real 2024-04-01 shape, for runs of one export. */
function runManifest(options: {
  exportName: string;
  runId?: string;
  submittedTime: string;
  overwrite?: 'OverwritePreviousReport' | 'CreateNewReport';
  parts?: number;
  scope?: string;
  month?: string;
}): { text: string; path: string; runId: string } {
  const runId = options.runId ?? randomUUID();
  const scope = options.scope ?? SUB_SCOPE;
  const month = options.month ?? '202507';
  const period = `${month}01-${month}31`;
  const folder = `costs/${options.exportName}/${period}/${options.submittedTime.replace(/\D/g, '').slice(0, 12)}/${runId}`;
  const blobs = Array.from({ length: options.parts ?? 1 }, (_, i) => ({
    blobName: `${folder}/part_0_${String(i + 1).padStart(4, '0')}.csv`,
    byteCount: 1000 + i,
    dataRowCount: 10 + i,
  }));
  const doc = {
    manifestVersion: '2024-04-01',
    byteCount: blobs.reduce((n, b) => n + b.byteCount, 0),
    blobCount: blobs.length,
    dataRowCount: blobs.reduce((n, b) => n + b.dataRowCount, 0),
    exportConfig: {
      exportName: options.exportName,
      resourceId: `${scope}/providers/Microsoft.CostManagement/exports/${options.exportName}`,
      dataVersion: '2021-10-01',
      apiVersion: '2025-03-01',
      type: 'ActualCost',
      timeFrame: 'MonthToDate',
      granularity: 'Daily',
    },
    deliveryConfig: {
      partitionData: true,
      dataOverwriteBehavior: options.overwrite ?? 'OverwritePreviousReport',
      fileFormat: 'Csv',
      compressionMode: 'None',
      containerUri: `${SUB_SCOPE}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st`,
      rootFolderPath: 'costs',
    },
    runInfo: {
      executionType: 'Scheduled',
      submittedTime: options.submittedTime,
      runId,
      startDate: `${month.slice(0, 4)}-${month.slice(4)}-01T00:00:00`,
      endDate: `${month.slice(0, 4)}-${month.slice(4)}-31T00:00:00`,
    },
    blobs,
  };
  return { text: JSON.stringify(doc, null, 2), path: `${folder}/manifest.json`, runId };
}

function parseEvent(message: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(message);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

describe('pure pieces', () => {
  test('path facts from the folder layout', () => {
    expect(
      pathFacts(
        'root/a/exp/20250701-20250731/202508020944/ca03ef2a-e064-4d5f-8009-8b51b6024852/manifest.json',
      ),
    ).toEqual({
      exportName: 'exp',
      rootFolderPath: 'root/a',
      period: '20250701-20250731',
      runTime: new Date('2025-08-02T09:44:00Z'),
      runFolder: 'ca03ef2a-e064-4d5f-8009-8b51b6024852',
    });
    expect(pathFacts('manifest.json')).toEqual({});
    expect(pathFacts('x/y/manifest.json')).toEqual({ runFolder: 'y' });
  });

  test('period: the month folder, else the manifest dates, else the start month', () => {
    const hand = parseManifest(fixture('minimal-hand-made.json').text);
    expect(landingPeriod(hand, 'manual/2024-11/manifest.json')).toBe('20241101-20241130');
    const full = parseManifest(fixture('actualcost-csv-gzip-multipart.json').text);
    expect(landingPeriod(full, 'elsewhere/manifest.json')).toBe('20250701-20250731');
  });

  test('one listing per folder, nested folders covered by their parent', () => {
    expect(listingPrefixes(['a/b/1.csv', 'a/b/2.csv'])).toEqual(['a/b/']);
    expect(listingPrefixes(['a/1.csv', 'a/b/2.csv', 'c/3.csv'])).toEqual(['a/', 'c/']);
    expect(listingPrefixes(['root.csv', 'a/1.csv'])).toEqual(['']);
  });

  const row = (runId: string, submittedTime: string, extra: Partial<LandingRecord> = {}): LandingRecord => ({
    scope: SUB_SCOPE,
    exportName: 'e',
    period: '20250701-20250731',
    runId,
    manifestPath: `costs/e/20250701-20250731/202507010000/${runId}/manifest.json`,
    submittedTime,
    blobCount: 1,
    rowCount: 1,
    totalBytes: 1,
    state: 'complete',
    missingBlobs: [],
    superseded: false,
    current: false,
    catalogedAt: '2025-08-01T00:00:00.000Z',
    ...extra,
  });

  test.each([
    ['overwrite: older superseded by the newest', 'OverwritePreviousReport', [true, true, false]],
    ['create new: older stay visible', 'CreateNewReport', [false, false, false]],
  ] as const)('%s', (_name, overwrite, superseded) => {
    const rows = [
      row('b', '2025-07-02T00:00:00Z', { overwriteBehavior: overwrite }),
      row('c', '2025-07-03T00:00:00Z', { overwriteBehavior: overwrite }),
      row('a', '2025-07-01T00:00:00Z', { overwriteBehavior: overwrite }),
    ].sort(compareRuns);
    const flags = planSupersession(rows);
    expect(rows.map((r) => flags.get(r)!.superseded)).toEqual(superseded);
    expect(rows.map((r) => flags.get(r)!.current)).toEqual([false, false, true]);
    if (overwrite === 'OverwritePreviousReport') expect(flags.get(rows[0]!)!.supersededBy).toBe('c');
  });

  test('rejected and incomplete runs never become current; arrival order does not matter', () => {
    const rows = [
      row('old', '2025-07-01T00:00:00Z'),
      row('newer-incomplete', '2025-07-05T00:00:00Z', { state: 'incomplete' }),
      row('rejected', '2025-07-09T00:00:00Z', { state: 'rejected' }),
    ];
    for (const order of [rows, [...rows].reverse()]) {
      const flags = planSupersession(order);
      expect(flags.get(rows[0]!)).toEqual({ superseded: false, current: true });
      expect(flags.get(rows[1]!)).toEqual({ superseded: false, current: false });
      expect(flags.get(rows[2]!)).toEqual({ superseded: false, current: false });
    }
  });

  test('without submittedTime the run-time folder orders runs', () => {
    const a = row('zz', '', { manifestPath: 'e/20250701-20250731/202507020000/zz/manifest.json' });
    const b = row('aa', '', { manifestPath: 'e/20250701-20250731/202507030000/aa/manifest.json' });
    delete a.submittedTime;
    delete b.submittedTime;
    expect(compareRuns(a, b)).toBeLessThan(0);
  });
});

describe('every fixture shape', () => {
  test('full 2024-04-01 manifest (Csv + Gzip, 4 parts): landing row and file rows', async () => {
    const { text, runId } = fixture('actualcost-csv-gzip-multipart.json');
    const path = manifestPathOf(text);
    const outcome = await catalogueLanded(text, path);
    expect(outcome).toMatchObject({ kind: 'catalogued', state: 'complete', created: true, fileRows: 4 });
    const key = landingKeys(exportKey(EA_SCOPE, 'fabrikam-actual-daily'), '20250701-20250731', runId);
    expect(outcome.kind !== 'ignored' && outcome.landingKey).toEqual(key);
    const landing = await world.catalog.getLanding(key.partitionKey, '20250701-20250731', runId);
    expect(landing).toMatchObject({
      scope: EA_SCOPE,
      exportName: 'fabrikam-actual-daily',
      period: '20250701-20250731',
      runId,
      manifestPath: path,
      manifestVersion: '2024-04-01',
      datasetType: 'ActualCost',
      datasetVersion: '2021-10-01',
      format: 'Csv',
      compression: 'gzip',
      overwriteBehavior: 'OverwritePreviousReport',
      executionType: 'Scheduled',
      submittedTime: '2025-08-02T09:42:11.047Z',
      blobCount: 4,
      rowCount: 402117,
      totalBytes: 31457280,
      state: 'complete',
      missingBlobs: [],
      superseded: false,
      current: true,
    });
    expect(Date.parse(landing!.catalogedAt)).not.toBeNaN();
    const files = await filesOf(world.catalog, runId);
    expect(files.map((f) => [f.part, f.bytes, f.rows])).toEqual([
      [0, 10485760, 134012],
      [1, 10485760, 133998],
      [2, 10223616, 130671],
      [3, 262144, 3436],
    ]);
    expect(files[0]!.path).toMatch(/part_0_0001\.csv\.gz$/);
    // One structured event line, queryable field by field in Application Insights.
    const events = world.logs.map((l) => parseEvent(l.message)).filter((e) => e?.runId === runId);
    expect(events).toEqual([
      expect.objectContaining({
        event: 'landing.catalogued',
        exportName: 'fabrikam-actual-daily',
        scope: EA_SCOPE,
        period: '20250701-20250731',
        state: 'complete',
        write: 'new',
        current: true,
        blobs: 4,
        rows: 402117,
        bytes: 31457280,
      }),
    ]);
  });

  test('CRLF FocusCost Parquet manifest', async () => {
    const { text, runId } = fixture('focuscost-parquet-2024-04-01.json.crlf');
    expect(text).toContain('\r\n');
    const outcome = await catalogueLanded(text);
    expect(outcome).toMatchObject({ state: 'complete', resolved: true });
    const [landing] = await landingsOf(world.catalog, exportKey(SUB_SCOPE, 'contoso-focus-daily'));
    expect(landing).toMatchObject({
      runId,
      format: 'Parquet',
      compression: 'snappy',
      datasetType: 'FocusCost',
    });
  });

  test('minimal hand-made manifest: no Azure folder layout, no byte counts; its blobs must be beside it', async () => {
    const { text, runId } = fixture('minimal-hand-made.json');
    // Hand-made uploads choose their own folders; the one blob gets a known size.
    await world.container.getBlockBlobClient('manual/2024-11/focus-costs.csv').upload('12345', 5);
    // Listing a blob of a folder above its own is refused, whoever wrote it.
    const above = await world.service().catalogue(event(text, `manual/2024-11/${runId}/manifest.json`));
    expect(above).toMatchObject({ kind: 'rejected', rejectionKind: 'blobOutsideRunFolder' });
    const outcome = await world.service().catalogue(event(text, `manual/2024-11/manifest.json`));
    expect(outcome).toMatchObject({ state: 'complete', fileRows: 1 });
    const rows = await landingsOf(world.catalog, exportKey(EA_SCOPE, 'manual-upload'));
    expect(rows.find((r) => r.runId === runId)).toMatchObject({
      period: '20241101-20241130',
      rowCount: 1,
      totalBytes: 5, // from the listing
      datasetType: 'FocusCost',
      current: true,
    });
    expect((await filesOf(world.catalog, runId)).map((f) => f.bytes)).toEqual([5]);
  });

  test('legacy _manifest.json: scope from the one registered export that delivers there', async () => {
    const { text, runId } = fixture('legacy-2021-01-01.json');
    const exportRow: ExportRecord = {
      scope: SUB_SCOPE,
      exportName: 'partitioned-actual',
      dataset: 'ActualCost',
      destination: {
        storageAccount: 'stexports',
        container: world.containerName,
        rootFolderPath: 'exports',
        sasDelivered: false,
      },
      missing: false,
      updatedAt: '2025-01-01T00:00:00Z',
    };
    await world.catalog.upsertExport(exportRow);
    const outcome = await catalogueLanded(text, manifestPathOf(text, '_manifest.json'));
    expect(outcome).toMatchObject({ state: 'complete', resolved: true, fileRows: 2 });
    const rows = await landingsOf(world.catalog, exportKey(SUB_SCOPE, 'partitioned-actual'));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      runId,
      period: '20230101-20230131',
      manifestVersion: '2021-01-01',
      format: 'Csv',
      rowCount: 21077,
      totalBytes: 3145900,
      current: true,
    });
  });

  test('legacy manifest no export claims: filed under the unresolved partition, files still catalogued', async () => {
    const { text, runId } = fixture('legacy-2021-01-01.json');
    const moved = text.split('exports/partitioned-actual/').join('other/orphan-export/');
    const outcome = await catalogueLanded(moved, manifestPathOf(moved, '_manifest.json'));
    expect(outcome).toMatchObject({ state: 'complete', resolved: false, fileRows: 2 });
    const rows = await landingsOf(world.catalog, unresolvedPartitionKey('orphan-export'));
    expect(rows).toEqual([expect.objectContaining({ runId, scope: '', exportName: 'orphan-export' })]);
  });

  test('no counts (2023-07-01-preview): row count unknown, not 0; bytes from the manifest', async () => {
    const { text, runId } = fixture('no-counts-2023-07-01-preview.json');
    const outcome = await catalogueLanded(text);
    expect(outcome).toMatchObject({ state: 'complete', fileRows: 2 });
    const files = await filesOf(world.catalog, runId);
    expect(files.map((f) => [f.bytes, f.rows])).toEqual([
      [52428800, 0],
      [1024, 0],
    ]);
    // The landing keeps "unknown" (no rowCount), so the ledger does not take the month for NoData.
    const scope = parseScope(text.match(/"resourceId": "(.*)\/providers\/Microsoft\.CostManagement/)![1]!);
    const landings = (
      await landingsOf(world.catalog, exportKey(scope.canonical, 'northwind-amortized'))
    ).filter((l) => l.runId === runId);
    expect(landings).toHaveLength(1);
    expect(landings[0]).toMatchObject({ state: 'complete', blobCount: 2 });
    expect(landings[0]).not.toHaveProperty('rowCount');
  });

  test('zero rows: a complete landing with no files and no listing', async () => {
    const { text, runId } = fixture('zero-rows.json');
    const list = jest.fn();
    const outcome = await world
      .service({ blobs: { list } })
      .catalogue(
        event(
          text,
          `backfill/cea-bf-reservationdetails-202501/20250101-20250131/202503041015/${runId}/manifest.json`,
        ),
      );
    expect(list).not.toHaveBeenCalled();
    expect(outcome).toMatchObject({ state: 'complete', fileRows: 0 });
    const rows = await landingsOf(world.catalog, exportKey(EA_SCOPE, 'cea-bf-reservationdetails-202501'));
    expect(rows[0]).toMatchObject({ blobCount: 0, rowCount: 0, totalBytes: 0, current: true });
  });

  test('1,000 partitions: one listing, 1,000 file rows in ≤100-row transactions', async () => {
    const run = runManifest({ exportName: 'big-export', submittedTime: '2025-07-20T09:42:00Z', parts: 1000 });
    await uploadListedBlobs(world.container, run.text);
    const prefixes: string[] = [];
    const service = world.service({
      blobs: {
        list: (prefix) => {
          prefixes.push(prefix);
          return world.container.listBlobsFlat({ prefix });
        },
      },
    });
    const before = jest.spyOn(world.catalog, 'upsertLandingFiles');
    const outcome = await service.catalogue(event(run.text, run.path));
    expect(prefixes).toHaveLength(1);
    expect(outcome).toMatchObject({ state: 'complete', fileRows: 1000 });
    expect(await before.mock.results[0]!.value).toMatchObject({ rows: 1000, transactions: 10 });
    before.mockRestore();
    const files = await filesOf(world.catalog, run.runId);
    expect(files).toHaveLength(1000);
    expect(files[999]).toMatchObject({ part: 999, bytes: 1999, rows: 1009 });
  });
});

describe('exactly once', () => {
  async function snapshot(partitionKey: string, runId: string) {
    return {
      landings: content(await landingsOf(world.catalog, partitionKey)),
      files: content(await filesOf(world.catalog, runId)),
    };
  }

  test.each(['sequentially', 'concurrently'])('the same manifest delivered 5 times %s', async (how) => {
    const run = runManifest({ exportName: `once-${how}`, submittedTime: '2025-07-10T09:42:00Z', parts: 3 });
    await uploadListedBlobs(world.container, run.text);
    const service = world.service();
    const deliver = () => service.catalogue(event(run.text, run.path));
    const first = await deliver();
    const partitionKey = exportKey(SUB_SCOPE, `once-${how}`);
    const after1 = await snapshot(partitionKey, run.runId);
    const etagBefore = (await landingsOf(world.catalog, partitionKey))[0]!.etag;
    const periodBefore = await world.catalog.getPeriod(partitionKey, '20250701-20250731');
    const rest =
      how === 'sequentially'
        ? await (async () => {
            const out: LandingOutcome[] = [];
            for (let i = 0; i < 4; i++) out.push(await deliver());
            return out;
          })()
        : await Promise.all([deliver(), deliver(), deliver(), deliver()]);
    expect(first).toMatchObject({ created: true });
    for (const outcome of rest)
      expect(outcome).toMatchObject({ created: false, changed: false, state: 'complete' });
    expect(await snapshot(partitionKey, run.runId)).toEqual(after1);
    // Not even rewritten: catalogedAt and the row's ETag are those of the first delivery; so is the
    // period row's.
    expect((await landingsOf(world.catalog, partitionKey))[0]!.etag).toBe(etagBefore);
    expect((await world.catalog.getPeriod(partitionKey, '20250701-20250731'))?.etag).toBe(periodBefore?.etag);
    expect(periodBefore?.live.map((r) => r.runId)).toEqual([run.runId]);
  });

  test('five first deliveries at once: one landing, one set of files', async () => {
    const run = runManifest({ exportName: 'once-race', submittedTime: '2025-07-11T09:42:00Z', parts: 2 });
    await uploadListedBlobs(world.container, run.text);
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () => world.service().catalogue(event(run.text, run.path))),
    );
    expect(outcomes.filter((o) => o.kind !== 'ignored' && o.created)).toHaveLength(1);
    const rows = await landingsOf(world.catalog, exportKey(SUB_SCOPE, 'once-race'));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ state: 'complete', current: true });
    expect(await filesOf(world.catalog, run.runId)).toHaveLength(2);
  });

  test('non-manifest blobs: ignored without any I/O', async () => {
    const list = jest.fn();
    const catalogSpy = jest.spyOn(world.catalog, 'createLanding');
    for (const name of ['a/b/part_0_0001.csv', 'a/manifest.json.tmp', 'a/Manifest.json', 'xmanifest.json']) {
      expect(await world.service({ blobs: { list } }).catalogue(event('{}', name))).toEqual({
        kind: 'ignored',
        reason: 'not a manifest',
      });
    }
    expect(list).not.toHaveBeenCalled();
    expect(catalogSpy).not.toHaveBeenCalled();
    catalogSpy.mockRestore();
  });
});

describe('incomplete runs', () => {
  test('missing blobs are recorded, the call throws for a retry, and the retry completes it', async () => {
    const run = runManifest({ exportName: 'late-files', submittedTime: '2025-07-12T09:42:00Z', parts: 3 });
    const doc = JSON.parse(run.text) as { blobs: { blobName: string }[] };
    await world.container.getBlockBlobClient(doc.blobs[0]!.blobName).upload('x', 1);
    let now = new Date('2025-07-12T10:00:00Z');
    const service = world.service({ now: () => now });
    const error = await service.catalogue(event(run.text, run.path)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LandingIncompleteError);
    expect((error as LandingIncompleteError).missingBlobs).toEqual([
      doc.blobs[1]!.blobName,
      doc.blobs[2]!.blobName,
    ]);
    const partitionKey = exportKey(SUB_SCOPE, 'late-files');
    const [incomplete] = await landingsOf(world.catalog, partitionKey);
    expect(incomplete).toMatchObject({
      state: 'incomplete',
      missingBlobs: [doc.blobs[1]!.blobName, doc.blobs[2]!.blobName],
      missingBlobCount: 2,
      current: false,
      catalogedAt: '2025-07-12T10:00:00.000Z',
    });

    await uploadListedBlobs(world.container, run.text);
    now = new Date('2025-07-12T10:05:00Z');
    const retried = await service.catalogue(event(run.text, run.path));
    expect(retried).toMatchObject({ state: 'complete', created: false, changed: true });
    const [complete] = await landingsOf(world.catalog, partitionKey);
    expect(complete).toMatchObject({
      state: 'complete',
      missingBlobs: [],
      current: true,
      catalogedAt: '2025-07-12T10:00:00.000Z', // set once
    });
  });

  test('a complete landing is never downgraded when its files are gone later', async () => {
    const run = runManifest({ exportName: 'files-deleted', submittedTime: '2025-07-13T09:42:00Z', parts: 2 });
    await catalogueLanded(run.text, run.path);
    const doc = JSON.parse(run.text) as { blobs: { blobName: string }[] };
    await Promise.all(doc.blobs.map((b) => world.container.getBlockBlobClient(b.blobName).delete()));
    const outcome = await world.service().catalogue(event(run.text, run.path));
    expect(outcome).toMatchObject({ state: 'complete', changed: false });
  });
});

describe('supersession', () => {
  const partition = (name: string) => exportKey(SUB_SCOPE, name);
  async function state(name: string) {
    const rows = await landingsOf(world.catalog, partition(name));
    return Object.fromEntries(
      rows.map((r) => [r.runId, { current: r.current, superseded: r.superseded, by: r.supersededBy }]),
    );
  }

  test('a newer run supersedes; an older run arriving late does not un-supersede it', async () => {
    const name = 'sup-overwrite';
    const day2 = runManifest({ exportName: name, runId: 'run-day2', submittedTime: '2025-07-02T09:42:00Z' });
    const day3 = runManifest({ exportName: name, runId: 'run-day3', submittedTime: '2025-07-03T09:42:00Z' });
    const day1 = runManifest({ exportName: name, runId: 'run-day1', submittedTime: '2025-07-01T09:42:00Z' });
    await catalogueLanded(day2.text, day2.path);
    expect(await state(name)).toEqual({ 'run-day2': { current: true, superseded: false } });
    await catalogueLanded(day3.text, day3.path);
    await catalogueLanded(day1.text, day1.path);
    expect(await state(name)).toEqual({
      'run-day1': { current: false, superseded: true, by: 'run-day3' },
      'run-day2': { current: false, superseded: true, by: 'run-day3' },
      'run-day3': { current: true, superseded: false },
    });
    // Redelivering the older ones changes nothing.
    await catalogueLanded(day2.text, day2.path);
    expect((await state(name))['run-day3']).toEqual({ current: true, superseded: false });
  });

  test('a rerun of a closed month finds the period row its first run made, and supersedes that run', async () => {
    const name = 'sup-closed-rerun';
    const first = runManifest({
      exportName: name,
      runId: 'first',
      submittedTime: '2025-07-01T09:42:00Z',
      month: '202505',
    });
    const rerun = runManifest({
      exportName: name,
      runId: 'rerun',
      submittedTime: '2025-07-09T09:42:00Z',
      month: '202505',
    });
    const getPeriod = jest.spyOn(world.catalog, 'getPeriod');
    const commit = jest.spyOn(world.catalog, 'commitLanding');
    expect(await catalogueLanded(first.text, first.path)).toMatchObject({ created: true, state: 'complete' });
    expect(getPeriod).not.toHaveBeenCalled(); // after its month: committed without a read
    expect(await catalogueLanded(rerun.text, rerun.path)).toMatchObject({ created: true, state: 'complete' });
    // The rerun's first commit found the period row; it read it and committed again.
    const outcomes = await Promise.all(commit.mock.results.map((r) => r.value as Promise<boolean>));
    expect(outcomes).toEqual([true, false, true]);
    expect(getPeriod).toHaveBeenCalledTimes(1);
    getPeriod.mockRestore();
    commit.mockRestore();
    expect(await state(name)).toEqual({
      first: { current: false, superseded: true, by: 'rerun' },
      rerun: { current: true, superseded: false },
    });
    const period = await world.catalog.getPeriod(partition(name), '20250501-20250531');
    expect(period?.live.map((r) => r.runId)).toEqual(['rerun']);
  });

  test('a period row deleted by hand is rebuilt by the next run during the month', async () => {
    const name = 'sup-period-deleted';
    const day = (d: number) =>
      runManifest({ exportName: name, runId: `day-${d}`, submittedTime: `2025-07-0${d}T09:42:00Z` });
    await catalogueLanded(day(1).text, day(1).path);
    await catalogueLanded(day(2).text, day(2).path);
    const raw = createTableClient(storageConnection(), world.catalog.tableName('landings'));
    await raw.deleteEntity(partition(name), periodRowKey('20250701-20250731'));

    await catalogueLanded(day(3).text, day(3).path);
    expect(await state(name)).toEqual({
      'day-1': { current: false, superseded: true, by: 'day-2' },
      'day-2': { current: false, superseded: true, by: 'day-3' },
      'day-3': { current: true, superseded: false },
    });
    const period = await world.catalog.getPeriod(partition(name), '20250701-20250731');
    expect(period?.live.map((r) => [r.runId, r.current])).toEqual([['day-3', true]]);
  });

  test('CreateNewReport: both stay visible, the newest is current', async () => {
    const name = 'sup-createnew';
    const a = runManifest({
      exportName: name,
      runId: 'run-a',
      submittedTime: '2025-07-04T09:42:00Z',
      overwrite: 'CreateNewReport',
    });
    const b = runManifest({
      exportName: name,
      runId: 'run-b',
      submittedTime: '2025-07-05T09:42:00Z',
      overwrite: 'CreateNewReport',
    });
    await catalogueLanded(b.text, b.path);
    await catalogueLanded(a.text, a.path);
    expect(await state(name)).toEqual({
      'run-a': { current: false, superseded: false },
      'run-b': { current: true, superseded: false },
    });
  });

  test('periods are independent', async () => {
    const name = 'sup-periods';
    const july = runManifest({ exportName: name, runId: 'run-july', submittedTime: '2025-08-01T09:42:00Z' });
    const aug = runManifest({
      exportName: name,
      runId: 'run-aug',
      submittedTime: '2025-08-01T09:43:00Z',
      month: '202508',
    });
    await catalogueLanded(july.text, july.path);
    await catalogueLanded(aug.text, aug.path);
    expect(await state(name)).toEqual({
      'run-july': { current: true, superseded: false },
      'run-aug': { current: true, superseded: false },
    });
  });

  test.each([
    ['during their month (period row read first)', '202507'],
    ['after their month closed (committed without a read)', '202505'],
  ])(
    'concurrent landings of one period, runs %s: one current (the newest), the rest superseded',
    async (_name, month) => {
      for (let round = 0; round < 3; round++) {
        const name = `sup-race-${month}-${round}`;
        const runs = Array.from({ length: 6 }, (_, i) =>
          runManifest({
            exportName: name,
            runId: `run-${i}`,
            submittedTime: `2025-07-0${i + 1}T09:42:00Z`,
            month,
          }),
        );
        await Promise.all(runs.map((r) => uploadListedBlobs(world.container, r.text)));
        // Each landing through its own service instance, as separate invocations would.
        await Promise.all([...runs].reverse().map((r) => world.service().catalogue(event(r.text, r.path))));
        const flags = await state(name);
        expect(flags['run-5']).toEqual({ current: true, superseded: false });
        for (let i = 0; i < 5; i++) {
          // Superseded by whichever newer run was the newest when it landed; that mark then stays.
          expect(flags[`run-${i}`]).toMatchObject({ current: false, superseded: true });
          expect(Number(flags[`run-${i}`]!.by!.slice(4))).toBeGreaterThan(i);
        }
        const period = await world.catalog.getPeriod(partition(name), `${month}01-${month}31`);
        expect(period?.live.map((r) => [r.runId, r.current])).toEqual([['run-5', true]]);
      }
    },
  );
});

describe('rejected manifests', () => {
  test('unparseable: a rejected row named after the folder layout, with the reason, no files, no throw', async () => {
    const runId = randomUUID();
    const path = `costs/broken-export/20250701-20250731/202507150944/${runId}/manifest.json`;
    const outcome = await world.service().catalogue(event('{"blobs": [', path));
    expect(outcome).toMatchObject({ kind: 'rejected', state: 'rejected', resolved: false, fileRows: 0 });
    const rows = await landingsOf(world.catalog, unresolvedPartitionKey('broken-export'));
    expect(rows).toEqual([
      expect.objectContaining({ runId, period: '20250701-20250731', state: 'rejected', manifestPath: path }),
    ]);
    expect(rows[0]!.rejectionReason).toMatch(/^\$: is not valid JSON/);
    expect(
      world.logs.some(
        (l) =>
          l.level === 'error' &&
          parseEvent(l.message)?.event === 'landing.rejected' &&
          parseEvent(l.message)?.manifest === path,
      ),
    ).toBe(true);
    expect(await filesOf(world.catalog, runId)).toEqual([]);
  });

  test('valid JSON with a bad field: filed under its export (resourceId still names it); redelivery changes nothing', async () => {
    const run = runManifest({ exportName: 'bad-count', submittedTime: '2025-07-16T09:42:00Z', parts: 2 });
    const broken = run.text.replace('"blobCount": 2', '"blobCount": 3');
    const outcome = await world.service().catalogue(event(broken, run.path));
    expect(outcome).toMatchObject({ kind: 'rejected', resolved: true });
    const rows = await landingsOf(world.catalog, exportKey(SUB_SCOPE, 'bad-count'));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ state: 'rejected', runId: run.runId, current: false });
    expect(rows[0]!.rejectionReason).toBe('blobCount: is 3 but blobs lists 2');
    const again = await world.service().catalogue(event(broken, run.path));
    expect(again).toMatchObject({ created: false, changed: false });
    expect(content(await landingsOf(world.catalog, exportKey(SUB_SCOPE, 'bad-count')))).toEqual(
      content(rows),
    );
    expect(await filesOf(world.catalog, run.runId)).toEqual([]);
  });

  test('secrets in a manifest never reach the table', async () => {
    const run = runManifest({ exportName: 'leaky', submittedTime: '2025-07-17T09:42:00Z' });
    const leaky = run.text.replace(
      '"fileFormat": "Csv"',
      '"fileFormat": "https://a.blob.core.windows.net/c?sv=2024&sig=TOPSECRETSIGNATURE123"',
    );
    await world.service().catalogue(event(leaky, run.path));
    const rows = await landingsOf(world.catalog, exportKey(SUB_SCOPE, 'leaky'));
    expect(rows[0]!.state).toBe('rejected');
    expect(JSON.stringify(rows)).not.toContain('TOPSECRET');
    expect(JSON.stringify(world.logs)).not.toContain('TOPSECRET');

    // A blob name carrying a signature is refused by the catalog's guard: rejected, not written.
    const named = runManifest({ exportName: 'leaky-name', submittedTime: '2025-07-17T09:42:00Z' });
    const withSig = named.text.replace(/part_0_0001\.csv/g, 'part_0_0001.csv?sig=ABCDEFSECRET');
    const outcome = await world.service().catalogue(event(withSig, named.path));
    expect(outcome).toMatchObject({ kind: 'rejected' });
    const all = await collect(rawRows(world.catalog));
    expect(JSON.stringify(all, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).not.toContain(
      'ABCDEFSECRET',
    );
  });

  test('a broken copy of a run already catalogued does not undo it', async () => {
    const run = runManifest({ exportName: 'keep-good', submittedTime: '2025-07-18T09:42:00Z' });
    await catalogueLanded(run.text, run.path);
    const outcome = await world.service().catalogue(event(run.text.replace('"blobs"', '"blobz"'), run.path));
    expect(outcome).toMatchObject({ state: 'complete', changed: false });
  });
});

describe('backfill wake-up', () => {
  function mapping(exportName: string, instanceId: string): BackfillRunRecord {
    return {
      backfillId: `bf-${exportName}`,
      dataset: 'ActualCost',
      month: '2025-07',
      exportName,
      scope: SUB_SCOPE,
      instanceId,
      status: 'submitted',
      updatedAt: '2025-08-01T00:00:00Z',
    };
  }

  test('raises exportLanded on the mapped instance with the landing facts', async () => {
    const raised: { instanceId: string; name: string; payload: unknown }[] = [];
    const run = runManifest({
      exportName: 'cea-bf-actualcost-202507',
      submittedTime: '2025-08-01T09:42:00Z',
      parts: 2,
    });
    await world.catalog.upsertBackfillRun(mapping('cea-bf-actualcost-202507', 'instance-1'));
    await uploadListedBlobs(world.container, run.text);
    const outcome = await world
      .service({
        raiseEvent: async (instanceId, name, payload) => {
          raised.push({ instanceId, name, payload });
          return 'raised';
        },
      })
      .catalogue(event(run.text, run.path));
    expect(outcome).toMatchObject({ raisedOn: 'instance-1' });
    expect(raised).toEqual([
      {
        instanceId: 'instance-1',
        name: 'exportLanded',
        payload: {
          exportName: 'cea-bf-actualcost-202507',
          scope: SUB_SCOPE,
          billingMonth: '2025-07',
          runId: run.runId,
          state: 'complete',
          rowCount: 21,
          landingKey: landingKeys(
            exportKey(SUB_SCOPE, 'cea-bf-actualcost-202507'),
            '20250701-20250731',
            run.runId,
          ),
        },
      },
    ]);
  });

  test('no mapping: nothing raised; a missing instance is logged, not fatal', async () => {
    const raise = jest.fn(async () => 'raised' as const);
    const run = runManifest({ exportName: 'not-a-backfill', submittedTime: '2025-08-01T09:42:00Z' });
    await uploadListedBlobs(world.container, run.text);
    await world.service({ raiseEvent: raise }).catalogue(event(run.text, run.path));
    expect(raise).not.toHaveBeenCalled();

    const gone = runManifest({ exportName: 'cea-bf-gone-202507', submittedTime: '2025-08-01T09:42:00Z' });
    await world.catalog.upsertBackfillRun(mapping('cea-bf-gone-202507', 'instance-gone'));
    await uploadListedBlobs(world.container, gone.text);
    const outcome = await world
      .service({
        raiseEvent: async () => 'notFound',
      })
      .catalogue(event(gone.text, gone.path));
    expect(outcome).toMatchObject({ state: 'complete' });
    expect(outcome).not.toHaveProperty('raisedOn');
    expect(world.logs.some((l) => l.level === 'warn' && l.message.includes('instance-gone'))).toBe(true);
  });
});

describe('query helpers', () => {
  test('by export, by period, latest per period', async () => {
    const name = 'queries';
    const runs = [
      runManifest({ exportName: name, runId: 'q-jul-1', submittedTime: '2025-07-10T09:42:00Z' }),
      runManifest({ exportName: name, runId: 'q-jul-2', submittedTime: '2025-07-11T09:42:00Z' }),
      runManifest({
        exportName: name,
        runId: 'q-aug-1',
        submittedTime: '2025-08-10T09:42:00Z',
        month: '202508',
      }),
    ];
    for (const r of runs) await catalogueLanded(r.text, r.path);
    const key = exportKey(SUB_SCOPE, name);
    expect((await collect(world.catalog.landingsByExport(key))).map((l) => l.runId)).toEqual([
      'q-jul-1',
      'q-jul-2',
      'q-aug-1',
    ]);
    expect(
      (await collect(world.catalog.landingsByExport(key, { period: '20250701-20250731' })))
        .sort(compareRuns)
        .map((l) => l.runId),
    ).toEqual(['q-jul-1', 'q-jul-2']);
    expect(
      (await collect(latestRunPerPeriod(world.catalog.landingsByExport(key)))).map((l) => [
        l.period,
        l.runId,
      ]),
    ).toEqual([
      ['20250701-20250731', 'q-jul-2'],
      ['20250801-20250831', 'q-aug-1'],
    ]);
  });
});
