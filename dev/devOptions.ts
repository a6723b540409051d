// What `npm run dev` is asked for, from its arguments and environment, validated with messages
// naming the flag or variable. Flags work both after `--` (`npm run dev -- --data-dir .dev`) and
// before it (`npm run dev --data-dir .dev`), where npm takes them as its own config and hands them
// to the script as npm_config_data_dir / npm_config_seed.
import { parseArgs } from 'node:util';

import { speedFromEnv } from './demo/options';

/** Settings that point the app at this stack's Azurite and emulator: never taken from the environment. */
export const STACK_OWNED_SETTINGS: ReadonlySet<string> = new Set([
  'AzureWebJobsStorage',
  'ExportsStorage',
  'STORAGE_BLOB_ENDPOINT_TEMPLATE',
  'COST_MANAGEMENT_ENDPOINT',
  'COST_MANAGEMENT_CA_FILE',
]);

export interface DevOptions {
  dataDir?: string;
  seed: boolean;
  speedFactor: number;
  /** App settings set in the environment (names from local.settings.sample.json), applied last. */
  settings: Record<string, string>;
}

export const DEV_USAGE = `usage: npm run dev [-- --data-dir DIR] [-- --seed]
  --data-dir DIR  keep Azurite's data, the emulator's exports and runs, the orchestrations and the
                  function key in DIR; a restart resumes where the last run stopped
  --seed          create realistic exports at four managed scopes and register their SAS token
environment: DEV_SPEED (emulator speed, number or "max", default 20) and any app setting of
local.settings.sample.json (e.g. BACKFILL_MAX_ATTEMPTS=5), except the storage and endpoint ones`;

export function parseDevOptions(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  knownSettings: readonly string[],
): DevOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'data-dir': { type: 'string' },
      seed: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const fromNpm = env.npm_config_data_dir?.trim();
  const dataDir = values['data-dir'] ?? (fromNpm ? fromNpm : undefined);
  if (dataDir !== undefined && dataDir.trim() === '') throw new Error('--data-dir: expected a folder path');
  const seedFromNpm = env.npm_config_seed;
  const seed = values.seed ?? (seedFromNpm !== undefined && seedFromNpm !== '' && seedFromNpm !== 'false');
  const settings: Record<string, string> = {};
  for (const name of knownSettings) {
    const value = env[name];
    if (value !== undefined && !STACK_OWNED_SETTINGS.has(name)) settings[name] = value;
  }
  return {
    ...(dataDir !== undefined ? { dataDir } : {}),
    seed,
    speedFactor: speedFromEnv('DEV_SPEED', 20, env),
    settings,
  };
}
