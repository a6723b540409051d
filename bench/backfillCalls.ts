// Benchmark: ARM calls per backfilled month on the happy path, counted by the emulator for a
// 12-month × 2-dataset backfill over real HTTP (landing events wake the months). Prints one line.
import { BENCH_DESTINATION, startBackfill, startBenchStack, waitForBackfill } from './backfillStack';

async function main(): Promise<void> {
  const stack = await startBenchStack();
  try {
    const started = Date.now();
    const id = await startBackfill(stack.api, {
      scope: '/subscriptions/00000000-0000-0000-0000-0000000000aa',
      datasets: ['ActualCost', 'AmortizedCost'],
      months: 12,
      destination: BENCH_DESTINATION,
      concurrency: 6,
    });
    const output = await waitForBackfill(stack.api, id);
    const seconds = (Date.now() - started) / 1000;
    const counters = await stack.emulatorAdmin.counters();
    const perMonth = Object.entries(counters.byExport)
      .filter(([key]) => key.includes('/cea-bf-'))
      .map(([, ops]) => Object.values(ops).reduce((s, n) => s + n, 0));
    const total = perMonth.reduce((s, n) => s + n, 0);
    const reads = counters.byOperation.Exports_GetExecutionHistory ?? 0;
    console.log(
      `backfillCalls: ${output.counts.Completed}/${output.total} months Completed, ARM calls per month ` +
        `avg ${(total / perMonth.length).toFixed(2)} max ${Math.max(...perMonth)} (target ≤ 4), ` +
        `history reads ${reads}, ${seconds.toFixed(1)} s`,
    );
  } finally {
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
