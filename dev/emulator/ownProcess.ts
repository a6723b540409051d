// The emulator in a Node process of its own, for benchmarks that measure the app's memory and CPU
// apart from the emulator's (its exports, runs, TLS server and deliveries would otherwise be counted
// as the host's). Same options and same client as startEmulator; the child runs ./processMain.ts
// with tsx's loader, so it works from tsx scripts and from jest alike.
import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { EmulatorAdmin } from './admin';
import type { FromChild, ToChild } from './processMain';
import type { EmulatorOptions, RunningEmulator } from './server';

export interface EmulatorProcess extends RunningEmulator {
  /** The child's process id (its memory can be read from /proc/PID/status). */
  pid: number;
}

const START_TIMEOUT_MS = 60_000;

export async function startEmulatorProcess(options: EmulatorOptions = {}): Promise<EmulatorProcess> {
  const child = fork(path.join(__dirname, 'processMain.ts'), [], {
    execArgv: ['--import', pathToFileURL(require.resolve('tsx')).href],
    // Structured clone: Infinity (speedFactor "max") and Dates survive the trip, JSON would not.
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const started = await new Promise<{ url: string; caPem: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error('emulator process: no answer within 60 s')),
      START_TIMEOUT_MS,
    );
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill();
      reject(error);
    };
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`emulator process exited (${code}) before it started`)));
    child.once('message', (message: FromChild) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      if (message.kind === 'started') resolve(message);
      else fail(new Error(`emulator process: ${message.kind === 'failed' ? message.message : message.kind}`));
    });
    child.send({ kind: 'start', options } satisfies ToChild);
  });
  const admin = new EmulatorAdmin(started.url, started.caPem);
  let stopped: Promise<void> | undefined;
  return {
    url: started.url,
    caPem: started.caPem,
    ...(options.caFile ? { caPath: options.caFile } : {}),
    admin,
    pid: child.pid ?? -1,
    stop: () => (stopped ??= stopChild(child, admin)),
  };
}

function stopChild(child: ChildProcess, admin: EmulatorAdmin): Promise<void> {
  admin.close();
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    // A child that does not stop in 10 s is killed: stopping must never hang the caller.
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (child.connected) child.send({ kind: 'stop' } satisfies ToChild);
    else child.kill();
  });
}
