// Benchmark: the completeness ledger at partner scale, on a fresh Azurite with the app's real ledger,
// status and page code. A fleet of N exports (2 per customer scope, daily) with 13 months of cells
// each (12 Final, the current month Open), then: a day of landings folded in by the landing path
// (LedgerService.recordLanding, 8 in flight), the daily sweep (LedgerService.sweep), the first page of
// GET /api/ledger (LedgerService.page at the endpoint's default page size) and the HTML status page
// (collectStatus + renderStatusHtml, as the endpoint serves it). Storage requests are counted at the
// HTTP layer (Azurite is plain http). Run at N/10 and N exports in the same run, the result line
// compares per-export requests and times: the landing path and the sweep should cost the same per
// export at both sizes (linear), the two pages the same in total (flat, whatever the fleet size).
// Run: `npx tsx bench/ledger.ts [exports]` (default 5000).
// Measured 2026-12-04 (2 shared cores, Azurite 3): at 5,000 exports (65,000 cells) vs 500, a day of
// landings 3.00 storage requests per export at both sizes, the sweep 0.01 (ratio 0.79), the first
// /api/ledger page 1 request at both, the HTML page 11 requests vs 7: the status counts still read
// the exports table up to its 5,000-row cap (5 pages at 5,000 exports), the heatmap one page.
import { performance } from 'node:perf_hooks';

import { startAzurite } from '../dev/azurite';
import {
  Catalog,
  type ExportRecord,
  type LandingRecord,
  type LedgerCellRecord,
  mapWithConcurrency,
} from '../src/azure/catalog';
import { tableClientFactory } from '../src/azure/storageClients';
import { loadConfig } from '../src/config';
import { LedgerService } from '../src/services/ledger';
import { ScopeAccessChecker } from '../src/services/scopeAccess';
import { collectStatus } from '../src/services/status';
import { renderStatusHtml } from '../src/services/statusHtml';
import { countHttpRequests } from './httpRequests';

const EXPORTS = Number(process.argv[2] ?? 5000);
const SMALL = Math.max(2, Math.round(EXPORTS / 10));
const MPA = 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa:bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb_2019-05-31';

const requests = countHttpRequests();

function monthsBefore(at: Date, n: number): string {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() - n, 1)).toISOString().slice(0, 7);
}

/** `YYYY-MM` → `YYYYMM01-YYYYMMdd`, the folder a run of the month lands under. */
function periodOf(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const ym = month.replace('-', '');
  return `${ym}01-${ym}${String(last).padStart(2, '0')}`;
}

interface Fleet {
  exports: ExportRecord[];
}

function fleetOf(count: number, now: Date): Fleet {
  const exports: ExportRecord[] = [];
  for (let i = 0; i < count; i++) {
    const customer = `00000000-0000-4000-8000-${String(Math.floor(i / 2)).padStart(12, '0')}`;
    const scope = `/providers/Microsoft.Billing/billingAccounts/${MPA}/customers/${customer}`;
    exports.push({
      scope,
      exportName: i % 2 === 0 ? 'daily-actual' : 'daily-amortized',
      dataset: i % 2 === 0 ? 'ActualCost' : 'AmortizedCost',
      destination: {
        storageAccount: 'stpartner01',
        container: 'msexports',
        rootFolderPath: 'cm',
        sasDelivered: true,
      },
      schedule: { recurrence: 'Daily', status: 'Active', from: `${monthsBefore(now, 24)}-01T00:00:00Z` },
      missing: false,
      updatedAt: now.toISOString(),
    });
  }
  return { exports };
}

function cellsOf(e: ExportRecord, now: Date): LedgerCellRecord[] {
  const at = now.toISOString();
  return Array.from({ length: 13 }, (_, n) => {
    const month = monthsBefore(now, n);
    const final = n > 0;
    const runTime = final ? `${monthsBefore(now, n - 1)}-05T09:42:00Z` : `${month}-01T09:42:00Z`;
    return {
      scope: e.scope,
      exportName: e.exportName,
      dataset: e.dataset,
      month,
      state: final ? 'Final' : 'Open',
      reason: final ? 'run landed after the close window' : 'run landed; final after a run from the 5th',
      stateSince: at,
      runs: 5,
      supersededRuns: 4,
      current: {
        runId: `run-${month}`,
        runTime,
        rows: 1000,
        bytes: 100_000,
        noData: false,
        catalogedAt: runTime,
      },
      lastLandingAt: runTime,
      updatedAt: at,
    };
  });
}

function landingOf(e: ExportRecord, now: Date, i: number): LandingRecord {
  const month = monthsBefore(now, 0);
  const period = periodOf(month);
  const submitted = new Date(now.getTime() - 3_600_000).toISOString();
  return {
    scope: e.scope,
    exportName: e.exportName,
    period,
    runId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    manifestPath: `msexports/cm/${e.exportName}/${period}/x/manifest.json`,
    submittedTime: submitted,
    blobCount: 1,
    rowCount: 1200,
    totalBytes: 120_000,
    state: 'complete',
    missingBlobs: [],
    superseded: false,
    current: true,
    catalogedAt: submitted,
  };
}

interface Measure {
  ms: number;
  requests: number;
}

async function measure(work: () => Promise<unknown>): Promise<Measure> {
  requests.reset();
  const t0 = performance.now();
  await work();
  return { ms: performance.now() - t0, requests: requests.total() };
}

interface Figures {
  exports: number;
  cells: number;
  landings: Measure;
  sweep: Measure;
  apiPage: Measure;
  html: Measure;
  htmlBytes: number;
}

async function run(connectionString: string, count: number, label: string): Promise<Figures> {
  const now = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 10, 12));
  const connection = { kind: 'connectionString' as const, name: 'AzureWebJobsStorage', connectionString };
  const catalog = new Catalog({ tableClient: tableClientFactory(connection), tablePrefix: label });
  await catalog.ensureTables();
  const { exports } = fleetOf(count, now);
  await catalog.upsertMany('exports', exports);
  const cells = exports.flatMap((e) => cellsOf(e, now));
  await catalog.upsertMany('ledger', cells);
  const ledger = new LedgerService({ catalog, now: () => now });
  await ledger.sweep(); // yesterday's sweep: the cells as the ledger itself words them

  // A day of landings: every daily export lands its month-to-date run once.
  const landings = await measure(() =>
    mapWithConcurrency(exports, 8, async (e, i) => {
      await ledger.recordLanding(landingOf(e, now, i));
    }),
  );
  const sweep = await measure(() => ledger.sweep());
  const apiPage = await measure(() => ledger.page({ pageSize: 200 }));
  const config = loadConfig({
    AzureWebJobsStorage: connectionString,
    ExportsStorage: connectionString,
    SECRET_STORE: 'table',
    MANAGED_SCOPES: '',
  });
  let htmlBytes = 0;
  const html = await measure(async () => {
    const report = await collectStatus({
      config,
      catalog,
      exports: { list: () => Promise.reject(new Error('no scope is managed')) },
      checker: new ScopeAccessChecker(),
      version: 'bench',
      now: () => now,
    });
    htmlBytes = renderStatusHtml(report).length;
  });
  return { exports: count, cells: cells.length, landings, sweep, apiPage, html, htmlBytes };
}

async function main(): Promise<void> {
  const azurite = await startAzurite();
  try {
    // Warm-up (JIT, connections), not reported.
    await run(azurite.connectionString, 20, 'ledgerwarm');
    const small = await run(azurite.connectionString, SMALL, 'ledgersmall');
    const large = await run(azurite.connectionString, EXPORTS, 'ledgerlarge');
    const per = (m: Measure, f: Figures) => ({ req: m.requests / f.exports, ms: m.ms / f.exports });
    const linear = (name: string, pick: (f: Figures) => Measure) => {
      const [s, l] = [per(pick(small), small), per(pick(large), large)];
      return (
        `${name} ${l.req.toFixed(2)} req/export (${s.req.toFixed(2)} at ${small.exports}; ratio ${(l.req / s.req).toFixed(2)}), ` +
        `${l.ms.toFixed(2)} ms/export (${s.ms.toFixed(2)}; ratio ${(l.ms / s.ms).toFixed(2)})`
      );
    };
    const flat = (name: string, pick: (f: Figures) => Measure) => {
      const [s, l] = [pick(small), pick(large)];
      return (
        `${name} ${l.requests} req (${s.requests} at ${small.exports}; ratio ${(l.requests / s.requests).toFixed(2)}), ` +
        `${l.ms.toFixed(0)} ms (${s.ms.toFixed(0)}; ratio ${(l.ms / s.ms).toFixed(2)})`
      );
    };
    console.log(
      `ledger: ${large.exports} exports x 13 months (${large.cells} cells) vs ${small.exports}: ` +
        `${linear('day of landings', (f) => f.landings)}; ` +
        `${linear('daily sweep', (f) => f.sweep)}; ` +
        `${flat('GET /api/ledger first page', (f) => f.apiPage)}; ` +
        `${flat('status HTML', (f) => f.html)}, ${(large.htmlBytes / 1024).toFixed(0)} KiB ` +
        `(goal: per-export ratios ~1, page ratios ~1)`,
    );
  } finally {
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
