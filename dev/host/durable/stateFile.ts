// Keeps the local durable engine's instances in a JSON file, so `npm run dev --data-dir DIR` resumes
// its orchestrations after a restart as the real host does from its task hub. Written atomically
// (temp file + rename) once a second when something changed, and once more on stop.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { DurableEngine, EngineState } from './engine';

export function readEngineState(file: string): EngineState | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as EngineState;
  } catch (error) {
    throw new Error(
      `durable state file ${file} is not valid JSON (${error instanceof Error ? error.message : String(error)}); ` +
        'move it away to start with no orchestrations',
    );
  }
}

export interface EngineStateWriter {
  /** Writes now if anything changed since the last write. */
  flush(): void;
  stop(): void;
}

export function writeEngineStatePeriodically(
  engine: DurableEngine,
  file: string,
  intervalMs = 1_000,
): EngineStateWriter {
  mkdirSync(path.dirname(file), { recursive: true });
  let last = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const flush = () => {
    const text = JSON.stringify(engine.exportState());
    if (text === last) return;
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, text);
    renameSync(temp, file);
    last = text;
  };
  const timer = setInterval(flush, intervalMs);
  timer.unref();
  return {
    flush,
    stop() {
      clearInterval(timer);
      flush();
    },
  };
}
