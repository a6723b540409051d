// Benchmark: the shared pacing budget against Cost Management's run limit. The emulator admits
// R = 10 runs per minute per scope and ClientType (a bucket of 10 refilled continuously on the real
// clock; a refused call gets 429 + Retry-After in whole seconds). 20 scopes each want 24 runs at
// once, from 8 callers per scope spread over 4 "instances" (each its own adapter and budget object
// over one shared table in Azurite, as separate function instances would be). A caller does what a
// workflow does: on a 429 or a deferral it waits the time it was given and tries again.
// Measured in the same run: with the budget, and without it (only the service's 429s pace the
// callers). With PACING_BASELINE=<git ref> the budget as it was at that ref (its pacing.ts and
// throttleBudget.ts, copied to bench/.baseline) runs at the same time as today's, on its own
// ClientType and table, so both meet the same machine load: on a busy machine only ratios within
// one run compare. For each: runs admitted between the first and the last one vs the most the limit
// allows in that span (every scope's full bucket plus R per minute), and 429s per admitted run,
// split into calls that went with a token and calls that went unpaced. Prints one line each.
// PACING_DUMP=<path prefix> writes each round's run answers (scope, status, time) for a closer look.
// Run: `npx tsx bench/pacing.ts` (about 3 minutes; more on a busy machine).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';

import { startAzurite } from '../dev/azurite';
import { startEmulatorProcess } from '../dev/emulator/ownProcess';
import type { RunningEmulator } from '../dev/emulator/server';
import { ThrottledError } from '../src/azure/armErrors';
import { CostExportsClient } from '../src/azure/costExports';
import { LoopbackTokenCredential } from '../src/azure/credentials';
import { buildExportBody } from '../src/azure/exportBody';
import { createTableClient } from '../src/azure/storageClients';
import {
  type BudgetDecision,
  type BudgetKey,
  type BudgetLevel,
  type BudgetStats,
  type BudgetTickets,
  TableThrottleBudget,
  type ThrottleBudget,
} from '../src/azure/throttleBudget';

const RUNS_PER_MINUTE = 10;
const SCOPES = 20;
const RUNS_PER_SCOPE = 24;
const CALLERS_PER_SCOPE = 8;
const INSTANCES = 4;
const scopeOf = (i: number) => `/subscriptions/00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`;

/** A budget as today's or as at a baseline ref: before observeAnswer, answers were observeRemaining. */
type Budget = Omit<ThrottleBudget, 'observeAnswer'> &
  Partial<Pick<ThrottleBudget, 'observeAnswer'>> & {
    observeRemaining?(key: BudgetKey, level: BudgetLevel, n: number, tickets?: BudgetTickets): Promise<void>;
    stats: BudgetStats;
  };
type BudgetFactory = (table: string) => Budget;

/** Counts, per round, the calls that went without a token (storage trouble) and whose 429s they drew. */
class Watched implements ThrottleBudget {
  constructor(
    private readonly inner: Budget,
    private readonly counts: Calls,
  ) {}
  async acquire(key: BudgetKey, signal?: AbortSignal): Promise<BudgetDecision> {
    const decision = await this.inner.acquire(key, signal);
    if (decision.kind === 'go' && decision.tickets?.entity === undefined) this.counts.unpaced++;
    return decision;
  }
  observeThrottle(key: BudgetKey, level: BudgetLevel, ms: number, tickets?: BudgetTickets): Promise<void> {
    if (tickets?.entity === undefined) this.counts.unpaced429++;
    return this.inner.observeThrottle(key, level, ms, tickets);
  }
  async observeAnswer(
    key: BudgetKey,
    remaining: Partial<Record<BudgetLevel, number>>,
    tickets?: BudgetTickets,
  ): Promise<void> {
    if (this.inner.observeAnswer) return this.inner.observeAnswer(key, remaining, tickets);
    for (const [level, n] of Object.entries(remaining) as [BudgetLevel, number][])
      await this.inner.observeRemaining?.(key, level, n, tickets);
  }
}

interface Calls {
  unpaced: number;
  unpaced429: number;
}

interface Result {
  admitted: number;
  throttled: number;
  pctOfLimit: number;
  seconds: number;
  calls: Calls;
  stats?: BudgetStats;
}

/** The budget at `ref`, copied out of git next to this file, its imports of unchanged modules
 * pointed back at src. */
async function baselineFactory(ref: string): Promise<BudgetFactory> {
  const root = path.resolve(__dirname, '..');
  const dir = path.join(__dirname, '.baseline');
  const copied = ['domain/pacing.ts', 'azure/throttleBudget.ts'];
  for (const file of copied) {
    const text = execFileSync('git', ['show', `${ref}:src/${file}`], { cwd: root, encoding: 'utf8' });
    const target = path.join(dir, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(
      target,
      text.replace(/from '\.\/(\w+)'/g, (whole, name: string) =>
        copied.includes(`azure/${name}.ts`) ? whole : `from '../../../src/azure/${name}'`,
      ),
    );
  }
  const module = (await import(path.join(dir, 'azure/throttleBudget.ts'))) as {
    TableThrottleBudget: new (table: ReturnType<typeof createTableClient>) => Budget;
  };
  return (table) => new module.TableThrottleBudget(createTableClient(connection!, table));
}

let connection: Parameters<typeof createTableClient>[0] | undefined;

async function round(
  emulator: RunningEmulator,
  clientType: string,
  budgets: (Budget | undefined)[],
): Promise<Result> {
  const calls: Calls = { unpaced: 0, unpaced429: 0 };
  const clients = budgets.map(
    (budget) =>
      new CostExportsClient({
        endpoint: emulator.url,
        credential: new LoopbackTokenCredential(emulator.url),
        clientType,
        caPem: emulator.caPem,
        ...(budget ? { budget: new Watched(budget, calls) } : {}),
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
    (e) =>
      e.operation === 'Exports_Execute' && e.receivedAt >= since && e.principal?.endsWith(`|${clientType}`),
  );
  const ok = runs
    .filter((e) => e.status < 300)
    .map((e) => e.receivedAt)
    .sort((a, b) => a - b);
  if (process.env.PACING_DUMP)
    fs.writeFileSync(
      `${process.env.PACING_DUMP}.${clientType}.json`,
      JSON.stringify(runs.map((e) => [e.scope, e.status, e.receivedAt])),
    );
  const minutes = (ok.at(-1)! - ok[0]!) / 60_000;
  const allowed = SCOPES * (RUNS_PER_MINUTE + RUNS_PER_MINUTE * minutes);
  const stats = budgets.filter((b) => b !== undefined).map((b) => b.stats);
  return {
    admitted: ok.length,
    throttled: runs.filter((e) => e.status === 429).length,
    pctOfLimit: (100 * ok.length) / allowed,
    seconds: minutes * 60,
    calls,
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
  // In a process of its own: its TLS server then does not share this event loop with the 160
  // callers and their budgets (a start in one process saw scopes' first calls 10-29 s apart).
  const emulator = await startEmulatorProcess({
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

    connection = { kind: 'connectionString', name: 'bench', connectionString: azurite.connectionString };
    const today: BudgetFactory = (table) => new TableThrottleBudget(createTableClient(connection!, table));
    const instances = (factory: BudgetFactory, table: string) =>
      Array.from({ length: INSTANCES }, () => factory(table));
    const baselineRef = process.env.PACING_BASELINE;
    // Loaded (and compiled) before either round starts: loading it while today's round ran slowed
    // today's start by as much as 30 s on a busy machine.
    const baselineBudget = baselineRef ? await baselineFactory(baselineRef) : undefined;
    // Separate ClientTypes are separate buckets at the emulator, so the rounds do not share one.
    const [paced, baseline] = await Promise.all([
      round(emulator, 'benchPaced', instances(today, 'pacingbench')),
      baselineBudget
        ? round(emulator, 'benchBaseline', instances(baselineBudget, 'pacingbaseline'))
        : undefined,
    ]);
    const unpaced = await round(
      emulator,
      'benchUnpaced',
      Array.from({ length: INSTANCES }, () => undefined),
    );
    const perRun = (r: Result) => r.throttled / r.admitted;
    const line = (name: string, r: Result) => {
      const s = r.stats!;
      return (
        `pacing (${name}): ${SCOPES} scopes × ${RUNS_PER_SCOPE} runs, R=${RUNS_PER_MINUTE}/min per scope, ` +
        `${INSTANCES} instances; ${r.admitted} runs at ${r.pctOfLimit.toFixed(1)}% of the limit (target ≥ 90%), ` +
        `${r.throttled} 429s = ${perRun(r).toFixed(3)} per admitted run (target ≤ 0.05; ` +
        `${r.calls.unpaced429} of them to the ${r.calls.unpaced} calls that went unpaced), ` +
        `${r.seconds.toFixed(0)} s; table ${s.reads} reads, ${s.writes} writes, ${s.conflicts} lost races, ` +
        `${s.storageErrors} errors; ${s.deferred} deferrals, ${s.synced} synced from answers; ` +
        `without a budget ${unpaced.pctOfLimit.toFixed(1)}% and ${perRun(unpaced).toFixed(3)} 429s per admitted run` +
        (r.throttled ? ` (${(perRun(unpaced) / perRun(r)).toFixed(0)}× the budget's)` : '')
      );
    };
    console.log(line('today', paced));
    if (baseline) console.log(line(`as at ${baselineRef}, at the same time`, baseline));
  } finally {
    await emulator.stop();
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
