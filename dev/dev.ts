// `npm run dev`: the whole app on this machine (Azurite + Exports emulator + local Functions host)
// until Ctrl-C. The first line on stdout is one JSON object, {api, emulator, emulatorCa, storage}, so
// scripts and tests can drive the running app over HTTP; everything for people goes to stderr.
// Options (environment): DEV_SPEED — emulator speed factor (number, or "max"); default 20.
import { startStack } from './stack';
import { speedFromEnv } from './demo/options';

async function main(): Promise<void> {
  // Ctrl-C is how `npm run dev` normally ends: exit 0 once everything has stopped.
  const stack = await startStack({ speedFactor: speedFromEnv('DEV_SPEED', 20), exitOnSignal: () => 0 });
  const ready = {
    api: stack.api,
    emulator: stack.emulator,
    emulatorCa: stack.emulatorCa,
    storage: stack.storage,
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  process.stderr.write(
    [
      '',
      'Cost Export Autopilot is running locally.',
      `  app API:        ${stack.api}   (e.g. GET ${stack.api}/tokens)`,
      `  emulator:       ${stack.emulator}   (admin: ${stack.emulator}/_admin/counters)`,
      `  emulator CA:    ${stack.emulatorCa}`,
      `  managed scopes: ${stack.settings.MANAGED_SCOPES}`,
      '  storage:        Azurite, in memory (connection string in the JSON line above)',
      '',
      'Try `npm run demo` for the whole story end to end. Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `npm run dev failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
