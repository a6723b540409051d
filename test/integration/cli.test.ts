// The operators' CLI (`npx cost-autopilot`) against `npm run dev`: tables for people, JSON for
// scripts, exit codes, and a 12-month backfill followed to the end with a bar per dataset.
import { execFile } from 'node:child_process';

import { type BackfillAnswer, bar, ProgressWriter } from '../../cli/progress';
import { type DevProcess, ROOT, startDev } from '../support/devProcess';

let dev: DevProcess;

beforeAll(async () => {
  dev = await startDev(['--seed'], { DEV_SPEED: '60' });
}, 120_000);

afterAll(async () => {
  await dev?.stop();
});

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'npx',
      ['cost-autopilot', ...args],
      {
        cwd: ROOT,
        env: { ...process.env, COST_AUTOPILOT_API: dev.ready.api, COST_AUTOPILOT_KEY: dev.ready.key, ...env },
        timeout: 300_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('tokens list prints a table and --json the API answer; a wrong key exits 3; no API exits 2', async () => {
  const listed = await cli(['tokens', 'list']);
  expect(listed.code).toBe(0);
  expect(listed.stdout.split('\n')[0]).toMatch(
    /^account\s+status\s+expires\s+days left\s+permissions\s+token id$/,
  );
  expect(listed.stdout).toMatch(/devstoreaccount1\s+active\s+\S+Z\s+\d+\s+rwdlac\s+[0-9a-f]{12}/);
  expect(listed.stdout).not.toMatch(/sig=/);
  const json = await cli(['tokens', 'list', '--json']);
  expect((JSON.parse(json.stdout) as { tokens: unknown[] }).tokens).toHaveLength(1);

  const wrongKey = await cli(['tokens', 'list', '--key', 'not-the-key']);
  expect(wrongKey.code).toBe(3);
  expect(wrongKey.stderr).toContain('HTTP 401');
  const noApi = await cli(['status'], { COST_AUTOPILOT_API: '' });
  expect(noApi.code).toBe(2);
  const badField = await cli([
    'backfill',
    'start',
    '--scope',
    'nope',
    '--datasets',
    'ActualCost',
    '--months',
    '1',
    '--account',
    'devstoreaccount1',
    '--container',
    'msexports',
  ]);
  expect(badField.code).toBe(3);
  expect(badField.stderr).toContain('scope');
}, 120_000);

test('run-timer fires a timer through the admin route', async () => {
  const fired = await cli(['run-timer', 'sasWatch']);
  expect(fired.code).toBe(0);
  expect(fired.stdout).toContain('sasWatch started');
  expect((await cli(['run-timer', 'noSuchTimer'])).code).toBe(3);
}, 60_000);

test('backfill start --follow shows a bar per dataset until all 12 months landed, then exits 0', async () => {
  const followed = await cli([
    'backfill',
    'start',
    '--scope',
    '/providers/Microsoft.Billing/billingAccounts/12345678',
    '--datasets',
    'ActualCost,AmortizedCost',
    '--months',
    '12',
    '--concurrency',
    '6',
    '--account',
    'devstoreaccount1',
    '--container',
    'msexports',
    '--root-folder',
    'cli',
    '--follow',
    '--interval',
    '1',
  ]);
  expect(followed.stderr).toMatch(/started: bf-\d{6}-\d{6}-[0-9a-f]{32}/);
  expect(followed.code).toBe(0);
  // Not a terminal here: a plain block whenever something changed, ending with the full bars.
  expect(followed.stdout).toMatch(/ActualCost\s+\[#{30}\]\s+12\/12 months/);
  expect(followed.stdout).toMatch(/AmortizedCost\s+\[#{30}\]\s+12\/12 months/);
  expect(followed.stdout).toMatch(/^Succeeded: 24 Completed, 0 NoData, 0 Failed/m);
  const id = /started: (\S+)/.exec(followed.stderr)![1]!;
  // The story in the log: one structured line per month outcome and one for the start.
  const events = dev
    .stderr()
    .split('\n')
    .map((l) => /(\{"event":.*\})\s*$/.exec(l)?.[1])
    .filter((l): l is string => l !== undefined)
    .map(
      (l) =>
        JSON.parse(l) as {
          event: string;
          backfillId?: string;
          outcome?: string;
          dataset?: string;
          month?: string;
          attempt?: number;
        },
    );
  const mine = events.filter((e) => e.backfillId === id);
  expect(mine.filter((e) => e.event === 'backfill.started')).toHaveLength(1);
  const attempts = mine.filter((e) => e.event === 'backfill.month.attempt') as unknown as {
    dataset: string;
    month: string;
    attempt: number;
  }[];
  expect(new Set(attempts.map((e) => `${e.dataset} ${e.month} ${e.attempt}`)).size).toBe(attempts.length);
  expect(new Set(attempts.map((e) => `${e.dataset} ${e.month}`)).size).toBe(24);
  expect(mine.filter((e) => e.event === 'backfill.month.finished' && e.outcome === 'Completed')).toHaveLength(
    24,
  );
  const shown = await cli(['backfill', 'show', id, '--json']);
  expect(JSON.parse(shown.stdout)).toMatchObject({ runtimeStatus: 'Completed', outcome: 'Succeeded' });
}, 300_000);

test('on a terminal the block is redrawn in place', () => {
  const written: string[] = [];
  const stream = {
    isTTY: true,
    columns: 100,
    write: (s: string) => written.push(s),
  } as unknown as NodeJS.WritableStream;
  const writer = new ProgressWriter(stream, true);
  const view = (done: number): BackfillAnswer => ({
    id: 'bf-1',
    runtimeStatus: 'Running',
    outcome: null,
    byDataset: [
      {
        dataset: 'ActualCost',
        total: 12,
        Completed: done,
        NoData: 0,
        Failed: 0,
        running: 1,
        pending: 11 - done,
      },
    ],
    inFlight: [
      {
        dataset: 'ActualCost',
        month: '2026-01',
        phase: 'backingOff',
        attempt: 2,
        maxAttempts: 3,
        lastError: 'run x ended Failed',
        nextRetryAt: null,
      },
    ],
  });
  writer.update(view(3));
  writer.update(view(4));
  expect(written[1]!.startsWith('\x1b[3A\x1b[0J')).toBe(true);
  expect(written[1]).toContain(`${bar(4, 12)}   4/12 months`);
  expect(written[1]).toContain('2026-01 ActualCost: backingOff, attempt 2/3, last error: run x ended Failed');
});
