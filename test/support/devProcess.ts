// `npm run dev` as a test drives it: spawned in its own process group, its JSON line read from
// stdout, stopped with SIGINT as Ctrl-C would, and waited for.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');

/** Whether a process is still running (signal 0 only checks that it exists). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface DevReady {
  api: string;
  key: string;
  emulator: string;
  emulatorCa: string;
  storage: string;
  dataDir: string | null;
}

export interface DevProcess {
  child: ChildProcess;
  ready: DevReady;
  stdout: () => string;
  stderr: () => string;
  /** SIGINT to the group; resolves with the exit code once everything stopped. */
  stop(): Promise<number | null>;
}

/** Starts `npm run --silent dev` with `args` after `--` (or none) and waits for its JSON line. */
export async function startDev(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 90_000,
  npmArgs: string[] = [],
): Promise<DevProcess> {
  const child = spawn(
    'npm',
    ['run', '--silent', 'dev', ...npmArgs, ...(args.length ? ['--', ...args] : [])],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  };
  const deadline = Date.now() + timeoutMs;
  while (!out.includes('\n')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      kill();
      throw new Error(`npm run dev printed no JSON line; stderr:\n${err.slice(-3000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const ready = JSON.parse(out.slice(0, out.indexOf('\n'))) as DevReady;
  return {
    child,
    ready,
    stdout: () => out,
    stderr: () => err,
    async stop() {
      try {
        process.kill(-child.pid!, 'SIGINT');
      } catch {
        return child.exitCode;
      }
      const timer = setTimeout(kill, 30_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** GET/POST against the app with the stack's key; the body parsed as JSON. */
export async function api<T = unknown>(
  dev: DevProcess,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${dev.ready.api}${route}`, {
    method,
    headers: {
      'x-functions-key': dev.ready.key,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Polls `probe` once a second until it returns a value (not undefined). */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}
