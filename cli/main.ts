// cost-autopilot: the operators' CLI. It talks to the app's HTTP API only (base URL and function key
// from --api/--key or COST_AUTOPILOT_API/COST_AUTOPILOT_KEY), prints tables for people and the API's
// JSON with --json, and exits with the codes in client.ts (EXIT). Arguments are parsed with
// node:util parseArgs and progress drawn by progress.ts: no dependency beyond Node itself.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { redactSecrets } from '../src/domain/redact';
import { type ApiTarget, apiTarget, call, CliError, EXIT } from './client';
import { type BackfillAnswer, progressLines, ProgressWriter } from './progress';
import { table } from './table';

const USAGE = `usage: cost-autopilot <command> [options]

commands:
  status                          settings, scope access, problems (GET /api/status)
  ledger [--scope S]              month-by-month completeness (GET /api/ledger)
  tokens list                     SAS tokens: expiry and days left, never the value
  tokens add --account A --container C (--sas-token T | --sas-file F)
  tokens rotate --account A (--sas-token T | --sas-file F) [--container C]
  sync                            discover exports at every managed scope now
  backfill start --scope S --datasets D1,D2 (--months N | --from YYYY-MM --to YYYY-MM)
                 (--account A --container C | --resource-id R --container C)
                 [--root-folder P] [--concurrency N] [--follow]
  backfill show ID [--follow]     progress per dataset and month; --follow until it ends
  backfill cancel ID
  fleet profiles|assignments      list export profiles or assignments (GET /api/fleet/...)
  fleet reconcile                 start a reconcile round now
  run-timer NAME                  run a timer function now (POST /admin/functions/NAME):
                                  sasWatch, exportSync, outOfBandRuns, durableCleanup, ...

options: --api URL (COST_AUTOPILOT_API)  --key KEY (COST_AUTOPILOT_KEY)  --json  --interval SECONDS
exit codes: 0 ok · 1 done but not good (backfill not Succeeded, status degraded) · 2 usage ·
            3 the API refused the request (4xx) · 4 the API is unreachable or failed (5xx)`;

const options = {
  api: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
  follow: { type: 'boolean', short: 'f' },
  interval: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  scope: { type: 'string' },
  datasets: { type: 'string' },
  months: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  account: { type: 'string' },
  container: { type: 'string' },
  'resource-id': { type: 'string' },
  'root-folder': { type: 'string' },
  concurrency: { type: 'string' },
  'sas-token': { type: 'string' },
  'sas-file': { type: 'string' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

const out = (text: string) => process.stdout.write(`${text}\n`);

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`, EXIT.usage);
  }
  const flags = parsed.values;
  const [command, sub, ...rest] = parsed.positionals;
  if (flags.help || !command) {
    out(USAGE);
    return command || flags.help ? EXIT.ok : EXIT.usage;
  }
  const target = apiTarget(flags, env);
  switch (command) {
    case 'status':
      return status(target, flags);
    case 'ledger':
      return show(
        target,
        flags,
        'GET',
        `/ledger${flags.scope ? `?scope=${encodeURIComponent(flags.scope)}` : ''}`,
      );
    case 'sync':
      return show(target, flags, 'POST', '/exports/sync');
    case 'tokens':
      return tokens(target, flags, sub);
    case 'backfill':
      return backfill(target, flags, sub, rest[0]);
    case 'fleet':
      return fleet(target, flags, sub);
    case 'run-timer':
      return runTimer(target, flags, sub);
    default:
      throw new CliError(`unknown command "${command}"\n\n${USAGE}`, EXIT.usage);
  }
}

async function fleet(target: ApiTarget, flags: Flags, sub: string | undefined): Promise<number> {
  if (sub === 'profiles' || sub === 'assignments') return show(target, flags, 'GET', `/fleet/${sub}`);
  if (sub === 'reconcile') return show(target, flags, 'POST', '/fleet/reconcile');
  throw new CliError(`fleet: expected profiles, assignments or reconcile\n\n${USAGE}`, EXIT.usage);
}

async function runTimer(target: ApiTarget, flags: Flags, name: string | undefined): Promise<number> {
  if (!name) throw new CliError('run-timer: name the timer function (e.g. sasWatch)', EXIT.usage);
  await call(
    target,
    'POST',
    `/admin/functions/${encodeURIComponent(name)}`,
    { input: '' },
    { fromOrigin: true },
  );
  out(flags.json ? JSON.stringify({ started: name }) : `${name} started (its log says what it did)`);
  return EXIT.ok;
}

async function show(target: ApiTarget, flags: Flags, method: string, path: string): Promise<number> {
  const answer = await call(target, method, path);
  out(JSON.stringify(answer, null, flags.json ? undefined : 2));
  return EXIT.ok;
}

interface StatusAnswer {
  status: string;
  problems?: { kind: string; subject?: string; message: string; fix?: string }[];
  scopes?: { scope: string; access: string; exportsInCostManagement?: number; roleHint?: string }[];
}

async function status(target: ApiTarget, flags: Flags): Promise<number> {
  const answer = await call<StatusAnswer>(target, 'GET', '/status?format=json');
  if (flags.json) out(JSON.stringify(answer));
  else {
    out(`status: ${answer.status}`);
    out('');
    out(
      table(
        ['scope', 'access', 'exports'],
        (answer.scopes ?? []).map((s) => [s.scope, s.access, s.exportsInCostManagement]),
      ),
    );
    if (answer.problems?.length) {
      out('');
      out(
        table(
          ['problem', 'subject', 'message'],
          answer.problems.map((p) => [p.kind, p.subject, p.message]),
        ),
      );
    }
  }
  return answer.status === 'ok' ? EXIT.ok : EXIT.notOk;
}

function sasToken(flags: Flags): string {
  if (flags['sas-file']) return readFileSync(flags['sas-file'], 'utf8').trim();
  if (flags['sas-token']) return flags['sas-token'];
  throw new CliError('--sas-token or --sas-file: the account SAS is required', EXIT.usage);
}

function required(flags: Flags, name: keyof Flags): string {
  const value = flags[name];
  if (typeof value !== 'string' || value === '') throw new CliError(`--${name} is required`, EXIT.usage);
  return value;
}

async function tokens(target: ApiTarget, flags: Flags, sub: string | undefined): Promise<number> {
  if (sub === 'list') {
    const answer = await call<{ tokens: TokenRow[] }>(target, 'GET', '/tokens');
    if (flags.json) out(JSON.stringify(answer));
    else
      out(
        table(
          ['account', 'status', 'expires', 'days left', 'permissions', 'token id'],
          answer.tokens.map((t) => [
            t.storageAccount,
            t.status,
            t.expiresOn,
            t.daysLeft,
            t.permissions,
            t.tokenId,
          ]),
        ),
      );
    return EXIT.ok;
  }
  if (sub === 'add') {
    const answer = await call(target, 'POST', '/tokens', {
      storageAccount: required(flags, 'account'),
      container: required(flags, 'container'),
      sasToken: sasToken(flags),
    });
    out(flags.json ? JSON.stringify(answer) : `registered: ${redactSecrets(JSON.stringify(answer))}`);
    return EXIT.ok;
  }
  if (sub === 'rotate') {
    const account = required(flags, 'account');
    const answer = await call(target, 'POST', `/tokens/${encodeURIComponent(account)}/rotate`, {
      sasToken: sasToken(flags),
      ...(flags.container ? { container: flags.container } : {}),
    });
    out(flags.json ? JSON.stringify(answer) : redactSecrets(JSON.stringify(answer, null, 2)));
    return EXIT.ok;
  }
  throw new CliError(`tokens: expected list, add or rotate\n\n${USAGE}`, EXIT.usage);
}

interface TokenRow {
  storageAccount: string;
  status?: string;
  expiresOn?: string;
  daysLeft?: number;
  permissions?: string;
  tokenId?: string;
}

const TERMINAL = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

async function backfill(
  target: ApiTarget,
  flags: Flags,
  sub: string | undefined,
  id: string | undefined,
): Promise<number> {
  if (sub === 'start') return backfillStart(target, flags);
  if (!id) throw new CliError(`backfill ${sub ?? ''}: the backfill id is required\n\n${USAGE}`, EXIT.usage);
  if (sub === 'show') return backfillShow(target, flags, id);
  if (sub === 'cancel') return backfillCancel(target, flags, id);
  throw new CliError(`backfill: expected start, show or cancel\n\n${USAGE}`, EXIT.usage);
}

/** The POST /api/backfills body from the flags (required ones named when missing). */
function backfillBody(flags: Flags) {
  return {
    scope: required(flags, 'scope'),
    datasets: required(flags, 'datasets')
      .split(',')
      .map((d) => d.trim())
      .filter(Boolean),
    ...(flags.months !== undefined ? { months: wholeNumber('months', flags.months) } : {}),
    ...(flags.from !== undefined ? { from: flags.from } : {}),
    ...(flags.to !== undefined ? { to: flags.to } : {}),
    ...(flags.concurrency !== undefined
      ? { concurrency: wholeNumber('concurrency', flags.concurrency) }
      : {}),
    destination: {
      ...(flags['resource-id']
        ? { resourceId: flags['resource-id'] }
        : { storageAccount: required(flags, 'account') }),
      container: required(flags, 'container'),
      ...(flags['root-folder'] ? { rootFolderPath: flags['root-folder'] } : {}),
    },
  };
}

async function backfillStart(target: ApiTarget, flags: Flags): Promise<number> {
  const started = await call<{ id: string; started?: boolean; runtimeStatus?: string }>(
    target,
    'POST',
    '/backfills',
    backfillBody(flags),
  );
  if (!flags.follow) {
    out(
      flags.json
        ? JSON.stringify(started)
        : `${started.started === false ? 'already known' : 'started'}: ${started.id}`,
    );
    return EXIT.ok;
  }
  if (!flags.json) process.stderr.write(`started: ${started.id}\n`);
  return follow(target, flags, started.id);
}

async function backfillShow(target: ApiTarget, flags: Flags, id: string): Promise<number> {
  if (flags.follow) return follow(target, flags, id);
  const view = await call<BackfillAnswer>(target, 'GET', `/backfills/${encodeURIComponent(id)}`);
  out(flags.json ? JSON.stringify(view) : describe(view));
  return exitFor(view);
}

async function backfillCancel(target: ApiTarget, flags: Flags, id: string): Promise<number> {
  const view = await call<BackfillAnswer & { progress?: { cancelled?: string[] } }>(
    target,
    'DELETE',
    `/backfills/${encodeURIComponent(id)}`,
  );
  if (flags.json) out(JSON.stringify(view));
  else {
    out(describe(view));
    const cancelled = view.progress?.cancelled ?? [];
    out(cancelled.length ? `cancelled months: ${cancelled.join(', ')}` : 'no month was in flight');
  }
  return EXIT.ok;
}

function wholeNumber(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new CliError(`--${name}: expected a whole number ≥ 1, got "${raw}"`, EXIT.usage);
  return n;
}

/** Polls until the backfill ends; bars on stderr-free stdout, or one JSON line per change with --json. */
async function follow(target: ApiTarget, flags: Flags, id: string): Promise<number> {
  const interval = flags.interval !== undefined ? Number(flags.interval) : 2;
  if (!(interval > 0))
    throw new CliError(`--interval: expected seconds > 0, got "${flags.interval}"`, EXIT.usage);
  const writer = new ProgressWriter(process.stdout);
  let last = '';
  for (;;) {
    const view = await call<BackfillAnswer>(target, 'GET', `/backfills/${encodeURIComponent(id)}`);
    if (flags.json) {
      const line = JSON.stringify(view);
      if (line !== last) out(line);
      last = line;
    } else writer.update(view);
    if (TERMINAL.has(view.runtimeStatus)) {
      if (!flags.json) out(summary(view));
      return exitFor(view);
    }
    await new Promise((resolve) => setTimeout(resolve, interval * 1000));
  }
}

function describe(view: BackfillAnswer): string {
  const lines = progressLines(view);
  return view.result ? [...lines, summary(view)].join('\n') : lines.join('\n');
}

function summary(view: BackfillAnswer): string {
  const months = view.result?.months ?? [];
  const failed = months.filter((m) => m.outcome === 'Failed');
  const counts = view.result?.counts ?? {};
  const parts = Object.entries(counts).map(([k, v]) => `${v} ${k}`);
  return [
    `${view.outcome ?? view.runtimeStatus}: ${parts.join(', ')}`,
    ...(failed.length
      ? [
          table(
            ['month', 'dataset', 'error'],
            failed.map((m) => [m.month, m.dataset, m.error ?? '']),
          ),
        ]
      : []),
  ].join('\n');
}

function exitFor(view: BackfillAnswer): number {
  if (!TERMINAL.has(view.runtimeStatus)) return EXIT.ok;
  return view.outcome === 'Succeeded' ? EXIT.ok : EXIT.notOk;
}

/** Runs the CLI on this process's arguments and exits with its code. */
export function run(): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      const code = error instanceof CliError ? error.exitCode : EXIT.unavailable;
      process.stderr.write(
        `cost-autopilot: ${redactSecrets(error instanceof Error ? error.message : String(error))}\n`,
      );
      process.exit(code);
    },
  );
}

if (require.main === module) run();
