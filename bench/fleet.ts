// Benchmark: the export fleet at partner scale on the dev stack (Azurite + the Exports and Billing
// emulator + the local host serving the real registrations). One MPA billing account with N
// customers (default 2,000, customer list paged by 50), profile flexera-csp (2 exports per
// customer): first the onboarding (POST /api/fleet/onboard), then a reconcile that finds nothing to
// change (POST /api/fleet/reconcile). ARM calls are counted at the emulator. Goal: onboarding = 1
// List + 1 PUT per export, no-change reconcile = 1 List per scope and 0 PUTs.
// Prints one line. Run: `npx tsx bench/fleet.ts [customers] [otherCallsPer10s]`.
import { performance } from 'node:perf_hooks';

import type { Counters } from '../dev/emulator/admin';
import { startStack } from '../dev/stack';
import type { FleetRoundTotals } from '../src/workflows/fleetRound';
import { fleetApi } from './fleetApi';

const CUSTOMERS = Number(process.argv[2] ?? 2000);
/** The emulator's per-principal limit on non-run calls, per 10 s (0: no limit). */
const LIMIT = Number(process.argv[3] ?? 1000);
const MPA = '6e0c4c1a-7b2d-4f4e-9a52-3c1d2e3f4a5b:0b9c8d7e-6f5a-4b3c-8d2e-1f0a9b8c7d6e_2019-05-31';
const DESTINATION = {
  resourceId:
    '/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1',
  container: 'flexera',
};

interface Phase {
  ms: number;
  totals: FleetRoundTotals;
  list: number;
  put: number;
  throttled: number;
}

async function main(): Promise<void> {
  const stack = await startStack({
    managedScopes: [],
    logger: () => undefined,
    settings: { DURABLE_TASK_HUB: 'fleetbench', FLEET_CONCURRENCY: '16' },
    emulator: LIMIT > 0 ? { throttle: { otherPerPrincipal: { limit: LIMIT, windowSeconds: 10 } } } : {},
  });
  const fleet = fleetApi(stack);
  const phase = async (run: () => Promise<string>): Promise<Phase> => {
    await stack.emulatorAdmin.resetCounters();
    const started = performance.now();
    const totals = await fleet.wait(await run());
    const ms = performance.now() - started;
    const c: Counters = await stack.emulatorAdmin.counters();
    return {
      ms,
      totals,
      list: c.byOperation.Exports_List ?? 0,
      put: c.byOperation.Exports_CreateOrUpdate ?? 0,
      throttled: c.byStatus['429'] ?? 0,
    };
  };
  try {
    await stack.emulatorAdmin.setBilling({
      customers: { billingAccountId: MPA, count: CUSTOMERS },
      pageSize: 50,
    });
    const onboarding = await phase(() =>
      fleet.start('onboard', {
        billingAccountId: MPA,
        profile: 'flexera-csp',
        destination: DESTINATION,
        backfillMonths: 0,
      }),
    );
    const reconcile = await phase(() => fleet.start('reconcile', {}));
    const exports = CUSTOMERS * 2;
    const per = (n: number, d: number) => (n / d).toFixed(2);
    const ok =
      onboarding.totals.outcomes.created === exports &&
      reconcile.totals.outcomes.unchanged === exports &&
      reconcile.put === 0;
    console.log(
      `fleet ${CUSTOMERS} customers x flexera-csp (${exports} exports, limit ${LIMIT || 'none'}/10s): ` +
        `onboarding ${per(onboarding.list, CUSTOMERS)} list/scope + ${per(onboarding.put, exports)} PUT/export ` +
        `in ${(onboarding.ms / 1000).toFixed(1)} s (${onboarding.throttled} 429s, ${(onboarding.totals.pausedMs / 1000).toFixed(0)} s paused); ` +
        `no-change reconcile ${per(reconcile.list, CUSTOMERS)} list/scope + ${reconcile.put} PUTs ` +
        `in ${(reconcile.ms / 1000).toFixed(1)} s (${reconcile.throttled} 429s); ` +
        `reconcile/onboarding time ${(reconcile.ms / onboarding.ms).toFixed(2)}; ${ok ? 'all exports as desired' : 'MISMATCH'}`,
    );
    if (!ok) process.exitCode = 1;
  } finally {
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
