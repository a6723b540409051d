// The paged round's window (workflows/pagedRound.ts), driven by the local durable engine through
// durable-functions' own replay code: the next item goes out as soon as any finishes (one slow item
// does not hold back the rest of its batch), and a throttled item stops new work until the items in
// flight are done and the round has paused once.
import * as df from 'durable-functions';

import { VirtualClock } from '../../dev/host/clock';
import { DurableEngine } from '../../dev/host/durable/engine';
import { silentLogger } from '../../dev/host/invocation';
import { pagedRound, type PagedRoundInput, type PagedRoundTotals } from '../../src/workflows/pagedRound';

interface Totals extends PagedRoundTotals {
  done: string[];
}
interface Input extends PagedRoundInput<Totals> {
  items: string[];
}
interface ItemResult {
  item: string;
  throttledMs?: number;
}

const events: string[] = [];
let releaseSlow: (() => void) | undefined;

df.app.activity('windowItem', {
  handler: async (item: string): Promise<ItemResult> => {
    events.push(`start ${item}`);
    if (item === 'slow') {
      // Finishes once `c` has started, or after a while: with batches, `c` waits for it instead.
      await new Promise<void>((resolve) => {
        releaseSlow = resolve;
        setTimeout(resolve, 500).unref();
      });
    }
    if (item === 'c') releaseSlow?.();
    await new Promise((resolve) => setImmediate(resolve));
    events.push(`end ${item}`);
    return item.startsWith('throttled') ? { item, throttledMs: 60_000 } : { item };
  },
});

df.app.orchestration(
  'windowRound',
  pagedRound<Input, number, string, ItemResult, Totals>({
    emptyTotals: () => ({ pages: 0, pausedMs: 0, done: [] }),
    cursor: () => undefined,
    withCursor: (input) => input,
    *readPage({ input, totals }) {
      totals.pages += 1;
      return { kind: 'page', items: input.items };
    },
    run: ({ context }, item) => context.df.callActivity('windowItem', item),
    tally: ({ totals }, _item, result) => {
      totals.done.push(result.item);
      return result.throttledMs !== undefined ? { throttledMs: result.throttledMs } : {};
    },
    status: ({ totals }) => ({ done: totals.done.length }),
  }),
);

async function runRound(items: string[], concurrency: number): Promise<Totals> {
  const clock = new VirtualClock(Date.UTC(2025, 0, 1));
  const engine = new DurableEngine({ clock, schemaVersion: 3, logger: silentLogger });
  const input: Input = { tick: '2025-01-01T00:00:00Z', concurrency, items };
  const id = engine.startNew('windowRound', { input });
  await clock.runUntil(() => ['Completed', 'Failed'].includes(engine.getStatus(id)!.runtimeStatus));
  const status = engine.getStatus(id)!;
  expect(status.runtimeStatus).toBe('Completed');
  return status.output as Totals;
}

beforeEach(() => {
  events.length = 0;
  releaseSlow = undefined;
});

test('the next item goes out as soon as any finishes: a slow item does not hold back its batch', async () => {
  const totals = await runRound(['slow', 'a', 'b', 'c'], 2);
  expect(totals.done.sort()).toEqual(['a', 'b', 'c', 'slow']);
  // With batches of two, b and c would start only after `slow` ended.
  expect(events.indexOf('start c')).toBeLessThan(events.indexOf('end slow'));
  expect(events.filter((e) => e.startsWith('start')).length).toBe(4);
  expect(totals.pausedMs).toBe(0);
});

test('a throttled item stops new work: the items in flight finish, the round pauses once, then goes on', async () => {
  const totals = await runRound(['throttled-1', 'a', 'b', 'c'], 2);
  expect(totals.done.sort()).toEqual(['a', 'b', 'c', 'throttled-1']);
  // b waits for the pause, which waits for every item in flight.
  const startB = events.indexOf('start b');
  expect(startB).toBeGreaterThan(events.indexOf('end a'));
  expect(startB).toBeGreaterThan(events.indexOf('end throttled-1'));
  expect(totals.pausedMs).toBe(60_000);
});
