// Benchmark: the shared pacing budget against Cost Management's run limit. The emulator admits
// R = 10 runs per minute per scope and ClientType (a bucket of 10 refilled continuously on the real
// clock; a refused call gets 429 + Retry-After in whole seconds). 20 scopes each want 24 runs at
// once, from 8 callers per scope spread over 4 "instances" (each its own adapter and budget object
// over one shared table in Azurite, as separate function instances would be). A caller does what a
// workflow does: on a 429 or a deferral it waits the time it was given and tries again.
// Measured twice in the same run: with the budget, and without it (today's behaviour: only the
// service's 429s pace the callers). For each: runs admitted between the first and the last one vs
// the most the limit allows in that span (every scope's full bucket plus R per minute), and 429s
// per admitted run. Prints one line. Run: `npx tsx bench/pacing.ts` (about 3 minutes).
import https from 'node:https';

import { startAzurite } from '../dev/azurite';
import { type RunningEmulator, startEmulator } from '../dev/emulator/server';
import { ThrottledError } from '../src/azure/armErrors';
import { CostExportsClient } from '../src/azure/costExports';
import { LoopbackTokenCredential } from '../src/azure/credentials';
import { buildExportBody } from '../src/azure/exportModels';
import { createTableClient } from '../src/azure/storageClients';
import { type BudgetStats, TableThrottleBudget } from '../src/azure/throttleBudget';

const RUNS_PER_MINUTE = 10;
const SCOPES = 20;
const RUNS_PER_SCOPE = 24;
const CALLERS_PER_SCOPE = 8;
const INSTANCES = 4;
const scopeOf = (i: number) => `/subscriptions/00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`;

interface Result {
  admitted: number;
  throttled: number;
  pctOfLimit: number;
  seconds: number;
  stats?: BudgetStats;
}

async function round(
  emulator: RunningEmulator,
  clientType: string,
  budgets: (TableThrottleBudget | undefined)[],
): Promise<Result> {
  const clients = budgets.map(
    (budget) =>
      new CostExportsClient({
        endpoint: emulator.url,
        credential: new LoopbackTokenCredential(emulator.url),
        clientType,
        caPem: emulator.caPem,
        ...(budget ? { budget } : {}),
      }),
  );
  const remaining = Array.from({ length: SCOPES }, () => RUNS_PER_SCOPE);
  const caller = async (scope: number, c: number): Promise<void> => {
    const api = clients[c % INSTANCES]!;
    while (remaining[scope]! > 0) {
      remaining[scope]!--;
      for (;;) {
        try {
          await api.run(scopeOf(scope), 'daily');
          break;
        } catch (error) {
          if (!(error instanceof ThrottledError)) throw error;
          await new Promise((resolve) => setTimeout(resolve, error.retryAfterMs));
        }
      }
    }
  };
  const since = Date.now();
  await Promise.all(
    Array.from({ length: SCOPES * CALLERS_PER_SCOPE }, (_, i) => caller(i % SCOPES, Math.floor(i / SCOPES))),
  );
  const runs = (await emulator.admin.requests()).filter(
    (e) => e.operation === 'Exports_Execute' && e.receivedAt >= since,
  );
  const ok = runs
    .filter((e) => e.status < 300)
    .map((e) => e.receivedAt)
    .sort((a, b) => a - b);
  const minutes = (ok.at(-1)! - ok[0]!) / 60_000;
  const allowed = SCOPES * (RUNS_PER_MINUTE + RUNS_PER_MINUTE * minutes);
  const stats = budgets.filter((b) => b !== undefined).map((b) => b.stats);
  return {
    admitted: ok.length,
    throttled: runs.filter((e) => e.status === 429).length,
    pctOfLimit: (100 * ok.length) / allowed,
    seconds: minutes * 60,
    ...(stats.length
      ? {
          stats: stats.reduce((a, s) => {
            for (const k of Object.keys(a) as (keyof BudgetStats)[]) a[k] += s[k];
            return a;
          }),
        }
      : {}),
  };
}

async function main(): Promise<void> {
  const azurite = await startAzurite();
  const emulator = await startEmulator({
    throttle: { runPerScope: { limit: RUNS_PER_MINUTE, windowSeconds: 60 } },
    requestLogLimit: 100_000,
  });
  https.globalAgent.maxSockets = 64;
  try {
    const setup = new CostExportsClient({
      endpoint: emulator.url,
      credential: new LoopbackTokenCredential(emulator.url),
      clientType: 'setup',
      caPem: emulator.caPem,
    });
    const body = buildExportBody({
      dataset: 'ActualCost',
      timeframe: 'MonthToDate',
      destination: {
        storageAccount: 'benchdest',
        sasToken:
          'sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00:00:00Z&spr=https&sig=Zm9vYmFyYmF6cXV4c2VjcmV0c2lnbmF0dXJl',
        container: 'exports',
      },
      schedule: { status: 'Inactive' },
    });
    for (let s = 0; s < SCOPES; s++) await setup.createOrUpdate(scopeOf(s), 'daily', body);

    const connection = {
      kind: 'connectionString' as const,
      name: 'bench',
      connectionString: azurite.connectionString,
    };
    // Separate ClientTypes are separate buckets at the emulator, so the two rounds do not share one.
    const paced = await round(
      emulator,
      'benchPaced',
      Array.from(
        { length: INSTANCES },
        () => new TableThrottleBudget(createTableClient(connection, 'pacingbench')),
      ),
    );
    const unpaced = await round(
      emulator,
      'benchUnpaced',
      Array.from({ length: INSTANCES }, () => undefined),
    );
    const s = paced.stats!;
    console.log(
      `pacing: ${SCOPES} scopes × ${RUNS_PER_SCOPE} runs, R=${RUNS_PER_MINUTE}/min per scope; with the shared budget ` +
        `${paced.admitted} runs at ${paced.pctOfLimit.toFixed(1)}% of the limit (target ≥ 90%), ` +
        `${paced.throttled} 429s = ${(paced.throttled / paced.admitted).toFixed(3)} per admitted run (target ≤ 0.05), ` +
        `${paced.seconds.toFixed(0)} s, table ${s.reads} reads ${s.writes} writes ${s.conflicts} lost races, ` +
        `${s.deferred} deferrals, ${s.synced} synced from remaining counts; without it ${unpaced.pctOfLimit.toFixed(1)}% and ` +
        `${(unpaced.throttled / unpaced.admitted).toFixed(3)} 429s per admitted run ` +
        `(${(unpaced.throttled / unpaced.admitted / Math.max(paced.throttled / paced.admitted, 1e-9)).toFixed(0)}× the budget's)`,
    );
  } finally {
    await emulator.stop();
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
