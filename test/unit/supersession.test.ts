// The landing catalog settles a new run against the period row's live runs only (settleNewRun),
// not against every run of the period. These cases check that this gives the flags planSupersession
// gives over the whole period, whatever the arrival order, and that the period row stays small.
import { mulberry32 } from '../../dev/emulator/data/prng';
import { type LandingRecord, type LiveRun, periodFromRow, periodToRow } from '../../src/azure/catalog';
import { planSupersession, settleNewRun } from '../../src/domain/landingPlan';

const PERIOD = '20250701-20250731';
const PARTITION = 'subscriptions|00000000-0000-0000-0000-0000000000a1|daily';

function run(runId: string, facts: Partial<LandingRecord> = {}): LandingRecord {
  return {
    scope: '/subscriptions/00000000-0000-0000-0000-0000000000a1',
    exportName: 'daily',
    period: PERIOD,
    runId,
    manifestPath: `costs/daily/${PERIOD}/202507010942/${runId}/manifest.json`,
    blobCount: 1,
    rowCount: 1,
    totalBytes: 1,
    state: 'complete',
    missingBlobs: [],
    superseded: false,
    current: false,
    catalogedAt: '2025-08-01T00:00:00.000Z',
    ...facts,
  };
}

/** Lands `runs` one by one as the catalog does, keeping the table's flags; returns them by run id. */
function landInOrder(runs: readonly LandingRecord[]) {
  const table = new Map<string, LandingRecord>();
  let live: LiveRun[] = [];
  let maxLive = 0;
  for (const landing of runs) {
    const settled = settleNewRun(live, landing);
    for (const change of settled.changes) {
      const runId = change.runId;
      const row = table.get(runId)!;
      expect(row.superseded).toBe(false); // only live rows are ever changed
      table.set(runId, {
        ...row,
        superseded: change.superseded,
        current: change.current,
        ...(change.supersededBy ? { supersededBy: change.supersededBy } : {}),
      });
    }
    table.set(landing.runId, settled.landing);
    live = settled.live;
    maxLive = Math.max(maxLive, live.length);
    // The period row round-trips what it holds.
    const row = periodToRow({
      landingPartition: PARTITION,
      period: PERIOD,
      live,
      updatedAt: '2025-08-01T00:00:00Z',
    });
    expect(periodFromRow(row).live).toEqual(live);
  }
  return { table, live, maxLive };
}

describe('settleNewRun', () => {
  test('daily overwriting runs: one live run, each new one supersedes the last', () => {
    const days = Array.from({ length: 30 }, (_, d) =>
      run(`day-${d + 1}`, { submittedTime: `2025-07-${String(d + 1).padStart(2, '0')}T09:42:00Z` }),
    );
    const { table, live, maxLive } = landInOrder(days);
    expect(maxLive).toBe(1);
    expect(live.map((r) => r.runId)).toEqual(['day-30']);
    expect(table.get('day-30')).toMatchObject({ current: true, superseded: false });
    // Each run names the one that replaced it; older rows are not rewritten by every new run.
    expect(table.get('day-1')).toMatchObject({ current: false, superseded: true, supersededBy: 'day-2' });
  });

  test('a late older run lands superseded, without touching the current one', () => {
    const newer = run('newer', { submittedTime: '2025-07-03T09:42:00Z' });
    const older = run('older', { submittedTime: '2025-07-01T09:42:00Z' });
    const first = settleNewRun([], newer);
    const late = settleNewRun(first.live, older);
    expect(late.changes).toEqual([]);
    expect(late.landing).toMatchObject({ superseded: true, supersededBy: 'newer', current: false });
    expect(late.live.map((r) => r.runId)).toEqual(['newer']);
  });

  test('2,000 random periods in random arrival order: the same flags as planning over every run', () => {
    const random = mulberry32(20251203);
    for (let c = 0; c < 2_000; c++) {
      const runs = Array.from({ length: 1 + Math.floor(random() * 8) }, (_, i) => {
        const day = 1 + Math.floor(random() * 4); // ties on time are common on purpose
        return run(`r${i}`, {
          ...(random() < 0.85 ? { submittedTime: `2025-07-0${day}T09:42:00Z` } : {}),
          ...(random() < 0.3 ? { overwriteBehavior: 'CreateNewReport' } : {}),
          state: random() < 0.75 ? 'complete' : 'incomplete',
          catalogedAt: `2025-08-0${1 + Math.floor(random() * 3)}T00:00:00.000Z`,
        });
      });
      const order = [...runs].sort(() => random() - 0.5);
      const { table } = landInOrder(order);
      const stored = runs.map((r) => table.get(r.runId)!);
      const planned = planSupersession(stored);
      for (const row of stored) {
        const want = planned.get(row)!;
        const context = `case ${c}, ${row.runId}, arrival ${order.map((r) => r.runId).join(' ')}`;
        expect({ context, superseded: row.superseded, current: row.current }).toEqual({
          context,
          superseded: want.superseded,
          current: want.current,
        });
        if (row.superseded) {
          // Named after a newer complete run of the period.
          const by = table.get(row.supersededBy ?? '');
          expect(by?.state).toBe('complete');
        }
      }
      expect(stored.filter((r) => r.current).length).toBe(stored.some((r) => r.state === 'complete') ? 1 : 0);
    }
  });

  test('the period row refuses more live runs than it can hold, naming the field', () => {
    const live: LiveRun[] = Array.from({ length: 4_000 }, (_, i) => ({
      runId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      runTime: '2025-07-01T09:42:11.0473318Z',
      catalogedAt: '2025-08-01T00:00:00.000Z',
      state: 'complete',
      overwrites: false,
      current: false,
    }));
    expect(() =>
      periodToRow({ landingPartition: PARTITION, period: PERIOD, live, updatedAt: '2025-08-01T00:00:00Z' }),
    ).toThrow(/^live: 4000 live runs/);
    // 744 hourly CreateNewReport runs in a month fit.
    const row = periodToRow({
      landingPartition: PARTITION,
      period: PERIOD,
      live: live.slice(0, 744),
      updatedAt: '2025-08-01T00:00:00Z',
    });
    expect(periodFromRow(row).live).toHaveLength(744);
  });
});
