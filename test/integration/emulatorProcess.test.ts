// The emulator in a process of its own (what bench/fleetDay.ts runs, so the host's memory figures
// are the app's): it starts with the options given (structured clone: Infinity survives), answers
// ARM over HTTPS with its throttle, is steered through the same admin client, and its process is
// gone after stop.
import https from 'node:https';

import { startEmulatorProcess } from '../../dev/emulator/ownProcess';
import { alive } from '../support/devProcess';

const SCOPE = '/subscriptions/00000000-0000-0000-0000-0000000000aa';

function get(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, headers: { authorization: 'Bearer x' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

test('runs in its own process, serves and counts ARM calls, and goes away on stop', async () => {
  const emulator = await startEmulatorProcess({
    speedFactor: Infinity,
    throttle: { otherPerScope: { limit: 2, windowSeconds: 60 } },
  });
  try {
    expect(emulator.pid).not.toBe(process.pid);
    expect(alive(emulator.pid)).toBe(true);
    const list = `${emulator.url}${SCOPE}/providers/Microsoft.CostManagement/exports?api-version=2025-03-01`;
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push(await get(list, emulator.caPem));
    expect(statuses).toEqual([200, 200, 429]);
    const counters = await emulator.admin.counters();
    expect(counters.byOperation.Exports_List).toBe(3);
    expect(counters.byStatus['429']).toBe(1);
  } finally {
    await emulator.stop();
  }
  expect(alive(emulator.pid)).toBe(false);
});
