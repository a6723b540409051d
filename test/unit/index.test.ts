// The entry point registers every trigger file, and each registration is one the host can load.
import '../../src/index';

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { registrations } from '../../dev/host/functionsCoreStub';

const functionsDir = path.join(__dirname, '../../src/functions');

describe('src/index.ts', () => {
  it('imports every file in src/functions/', () => {
    const files = readdirSync(functionsDir)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `./functions/${f.replace(/\.ts$/, '')}`);
    const source = readFileSync(path.join(__dirname, '../../src/index.ts'), 'utf8');
    const imported = [...source.matchAll(/^import '(\.\/functions\/[^']+)';$/gm)].map((m) => m[1]);
    expect(imported.sort()).toEqual(files.sort());
  });

  it('registers uniquely named functions, each with one trigger the host knows', () => {
    const names = registrations.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    const known = ['httpTrigger', 'timerTrigger', 'blobTrigger', 'orchestrationTrigger', 'activityTrigger'];
    for (const r of registrations) expect(known).toContain(r.trigger.type);
    // Function names become URLs and log categories: the host allows letters, digits, _ and -.
    for (const name of names) expect(name).toMatch(/^[A-Za-z][A-Za-z0-9_-]{0,127}$/);
  });

  it('resolves every timer schedule from an app setting, so operators can change it without a deploy', () => {
    const timers = registrations.filter((r) => r.trigger.type === 'timerTrigger');
    expect(timers.map((t) => t.name).sort()).toEqual([
      'durableCleanup',
      'exportSync',
      'fleetReconcile',
      'ledgerSweep',
      'outOfBandRuns',
      'sasWatch',
    ]);
    for (const t of timers) expect(String(t.trigger.schedule)).toMatch(/^%[A-Z_]+_SCHEDULE%$/);
  });

  it('finds every %SETTING% a binding references in local.settings.sample.json, which the dev stack starts from', () => {
    // The host refuses to start a function whose %SETTING% is unset (a missing schedule once hung CI).
    const sample = JSON.parse(
      readFileSync(path.join(__dirname, '../../local.settings.sample.json'), 'utf8'),
    ) as {
      Values: Record<string, string>;
    };
    const referenced = new Set(
      registrations.flatMap((r) =>
        Object.values(r.bindings).flatMap((b) =>
          [...JSON.stringify(b).matchAll(/%([A-Za-z0-9_]+)%/g)].map((m) => m[1]!),
        ),
      ),
    );
    expect([...referenced].sort()).toEqual(
      expect.arrayContaining(['DURABLE_CLEANUP_SCHEDULE', 'EXPORT_SYNC_SCHEDULE', 'EXPORTS_CONTAINER']),
    );
    for (const name of referenced) expect(sample.Values[name]).toMatch(/\S/);
  });

  it('puts every HTTP route under a distinct method + route pair', () => {
    const routes = registrations
      .filter((r) => r.trigger.type === 'httpTrigger')
      .flatMap((r) =>
        ((r.trigger.methods as string[]) ?? ['GET']).map((m) => `${m} ${String(r.trigger.route)}`),
      );
    expect(new Set(routes).size).toBe(routes.length);
  });
});
