// `npm run dev --data-dir DIR`: a stack stopped mid-backfill and started again on the same folder
// keeps its token, key and catalog and finishes the backfill it was running. `--seed` gives the
// managed scopes exports to sync, and app settings from the environment are honoured.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { api, type DevProcess, startDev, waitFor } from '../support/devProcess';

interface BackfillAnswer {
  runtimeStatus: string;
  progress?: { counts: Record<string, number> } | null;
  result?: { counts: Record<string, number> } | null;
}

const SCOPE = '/providers/Microsoft.Billing/billingAccounts/12345678';

test('a restarted --data-dir stack resumes the backfill it was running and keeps its key and token', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dev-data-'));
  let dev: DevProcess | undefined;
  try {
    dev = await startDev(['--data-dir', dataDir, '--seed'], { DEV_SPEED: '15', BACKFILL_MAX_ATTEMPTS: '5' });
    const first = dev.ready;
    expect(first.dataDir).toBe(dataDir);
    expect(first.key).toMatch(/^[\w-]{20,}$/);
    // The environment's setting won over the stack's default of 3.
    const status = await api<{ configuration: { thresholds: { backfillMaxAttempts: number } } }>(
      dev,
      'GET',
      '/status',
    );
    expect(status.body.configuration.thresholds.backfillMaxAttempts).toBe(5);
    // --seed: four managed scopes with exports, one registered SAS token.
    const sync = await api<{ totals: { scopes: number; synced: number; exports: number } }>(
      dev,
      'POST',
      '/exports/sync',
    );
    expect(sync.body.totals).toMatchObject({ scopes: 4, synced: 4, exports: 6 });
    const tokens = await api<unknown>(dev, 'GET', '/tokens');
    expect(JSON.stringify(tokens.body)).toContain('devstoreaccount1');

    const started = await api<{ id: string }>(dev, 'POST', '/backfills', {
      scope: SCOPE,
      datasets: ['ActualCost'],
      months: 12,
      concurrency: 2,
      destination: { storageAccount: 'devstoreaccount1', container: 'msexports' },
    });
    expect(started.status).toBe(202);
    const id = started.body.id;
    const before = await waitFor(
      async () => {
        const view = (await api<BackfillAnswer>(dev!, 'GET', `/backfills/${id}`)).body;
        return (view.progress?.counts.Completed ?? 0) >= 1 ? view : undefined;
      },
      90_000,
      'a first month completing',
    );
    expect(before.runtimeStatus).toBe('Running');
    await dev.stop();

    // npm's own form of the flag: `npm run dev --data-dir DIR` (npm_config_data_dir).
    dev = await startDev([], { DEV_SPEED: '15' }, 90_000, [`--data-dir=${dataDir}`]);
    expect(dev.ready.key).toBe(first.key);
    expect(dev.ready.api).not.toBe(first.api); // new ports, same state
    expect(JSON.stringify((await api(dev, 'GET', '/tokens')).body)).toContain('devstoreaccount1');
    const done = await waitFor(
      async () => {
        const view = (await api<BackfillAnswer>(dev!, 'GET', `/backfills/${id}`)).body;
        return view.runtimeStatus === 'Running' ? undefined : view;
      },
      240_000,
      'the resumed backfill finishing',
    );
    expect(done.runtimeStatus).toBe('Completed');
    expect(done.result?.counts).toMatchObject({ Completed: 12, Failed: 0 });
    expect(dev.stderr()).toMatch(/Durable state: \d+ instance\(s\) loaded, [1-9]\d* resumed/);
    await dev.stop();
  } finally {
    await dev?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 480_000);
