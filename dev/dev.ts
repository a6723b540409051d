// `npm run dev`: the whole app on this machine (Azurite + Exports emulator + local Functions host)
// until Ctrl-C. The first line this process writes to stdout is one JSON object,
// {api, key, emulator, emulatorCa, storage, dataDir}, so scripts, tests and the CLI can drive the
// running app over HTTP (`npm run --silent dev` keeps npm's own banner off stdout); everything for
// people goes to stderr. Options: see DEV_USAGE in dev/devOptions.ts.
import { DEV_USAGE, parseDevOptions } from './devOptions';
import { seed, SEED_SCOPES } from './seed';
import { DEFAULT_SCOPE, sampleSettings, startStack } from './stack';

async function main(): Promise<void> {
  const options = parseDevOptions(process.argv.slice(2), process.env, Object.keys(sampleSettings()));
  if (options === 'help') {
    process.stderr.write(`${DEV_USAGE}\n`);
    return;
  }
  // Ctrl-C is how `npm run dev` normally ends: exit 0 once everything has stopped.
  const stack = await startStack({
    speedFactor: options.speedFactor,
    exitOnSignal: () => 0,
    managedScopes: options.seed ? [...SEED_SCOPES] : [DEFAULT_SCOPE],
    settings: options.settings,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
  });
  const seeded = options.seed
    ? await seed({
        api: stack.api,
        functionKey: stack.functionKey,
        emulator: stack.emulator,
        emulatorCa: stack.emulatorCa,
      })
    : undefined;
  const ready = {
    api: stack.api,
    key: stack.functionKey,
    emulator: stack.emulator,
    emulatorCa: stack.emulatorCa,
    storage: stack.storage,
    dataDir: stack.dataDir ?? null,
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  const origin = new URL(stack.api).origin;
  process.stderr.write(
    [
      '',
      'Cost Export Autopilot is running locally.',
      `  app API:        ${stack.api}   (e.g. GET ${stack.api}/tokens)`,
      `  function key:   ${stack.functionKey}   (x-functions-key; also "key" in the JSON line)`,
      `  emulator:       ${stack.emulator}   (admin: ${stack.emulator}/_admin/counters)`,
      `  emulator CA:    ${stack.emulatorCa}`,
      `  managed scopes: ${stack.settings.MANAGED_SCOPES}`,
      `  storage:        Azurite, ${stack.dataDir ? `kept in ${stack.dataDir}` : 'in memory'} (connection string in the JSON line)`,
      ...(seeded
        ? [
            `  seeded:         ${seeded.created} new export(s)${seeded.tokenRegistered ? ', SAS token registered' : ''}`,
          ]
        : []),
      `  fire a timer:   curl -X POST ${origin}/admin/functions/sasWatch -H "x-functions-key: $KEY" -d '{}'`,
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
