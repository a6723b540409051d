// Azure limits the local durable engine enforces (dev/host/durable/limits.ts): code that Azure would
// fail must fail here too, or tests pass on behaviour production never gets.
import type { OrchestrationContext } from 'durable-functions';
import * as df from 'durable-functions';

import { VirtualClock } from '../../dev/host/clock';
import { DurableEngine } from '../../dev/host/durable/engine';
import {
  CUSTOM_STATUS_MAX_UTF16_BYTES,
  customStatusProblem,
  utf16JsonBytes,
} from '../../dev/host/durable/limits';
import { silentLogger } from '../../dev/host/invocation';
import {
  RECENT_OUTCOMES,
  shortError,
  STATUS_ERROR_CHARS,
  withRecent,
} from '../../src/domain/backfillProgress';

df.app.orchestration('statusOfLength', function* (ctx: OrchestrationContext) {
  ctx.df.setCustomStatus('x'.repeat(ctx.df.getInput<number>()));
  yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 1000));
  return 'done';
});

async function run(length: number) {
  const clock = new VirtualClock(Date.UTC(2026, 0, 1));
  const engine = new DurableEngine({ clock, logger: silentLogger });
  try {
    const id = engine.startNew('statusOfLength', { instanceId: `len-${length}`, input: length });
    await clock.runUntil(() => ['Completed', 'Failed'].includes(engine.getStatus(id)!.runtimeStatus));
    return engine.getStatus(id)!;
  } finally {
    engine.stop();
  }
}

describe('custom status size (16 KB of UTF-16 JSON)', () => {
  // A JSON string of n characters is n + 2 code units with its quotes, 2 bytes each.
  const fits = CUSTOM_STATUS_MAX_UTF16_BYTES / 2 - 2;

  it('measures JSON text in UTF-16 bytes, whatever the characters are', () => {
    expect(utf16JsonBytes('ab')).toBe(8);
    expect(utf16JsonBytes('é€')).toBe(8);
    expect(utf16JsonBytes({ a: 1 })).toBe(14);
    expect(customStatusProblem('x'.repeat(fits))).toBeUndefined();
    expect(customStatusProblem('x'.repeat(fits + 1))).toMatch(/16384/);
  });

  it('keeps an orchestration whose status is exactly at the limit running', async () => {
    const status = await run(fits);
    expect(status.runtimeStatus).toBe('Completed');
  });

  it('fails an orchestration that sets a bigger status, as Azure does', async () => {
    const status = await run(fits + 1);
    expect(status.runtimeStatus).toBe('Failed');
    expect(JSON.stringify(status.output)).toMatch(/custom status is 16386 bytes/);
  });
});

describe('the backfill status stays small', () => {
  it('keeps the last few outcomes and cuts errors short', () => {
    let recent: ReturnType<typeof withRecent> = [];
    for (let i = 1; i <= 12; i++)
      recent = withRecent(recent, {
        dataset: 'ActualCost',
        month: `2025-${String(i).padStart(2, '0')}`,
        outcome: 'Failed',
        error: 'e'.repeat(5000),
      });
    expect(recent).toHaveLength(RECENT_OUTCOMES);
    expect(recent.map((r) => r.month)).toEqual(['2025-08', '2025-09', '2025-10', '2025-11', '2025-12']);
    for (const r of recent) expect(r.error!.length).toBe(STATUS_ERROR_CHARS);
    expect(shortError('short')).toBe('short');
  });
});
