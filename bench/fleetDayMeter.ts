// Per-phase figures of bench/fleetDay.ts, taken in the process that runs the stack: wall time, the
// emulator's ARM counters by operation and status, storage requests to Azurite and how long Azurite
// took to answer them, the peak memory of this process (the host and the app; sampled every 50 ms)
// and apart from it the emulator's and Azurite's (their own processes, read from /proc), and the
// longest single function invocation the host timed.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import type { InvocationTiming } from '../dev/host/invocationTiming';
import type { RunningStack } from '../dev/stack';
import { countHttpRequests, type RequestCounter, toPortsOf } from './httpRequests';

export interface PhaseFigures {
  phase: string;
  ms: number;
  /** ARM calls by emulator operation (Exports_List, Exports_Execute, ...), throttled ones included. */
  arm: Record<string, number>;
  armCalls: number;
  /** Answers of 429 among armCalls. */
  throttled: number;
  storageRequests: number;
  /** Storage requests by method and table or container (httpRequests.ts). */
  storageByTarget: Record<string, number>;
  /** Mean time Azurite took to answer, ms: over all requests, and by the same keys. */
  storageMeanMs: number;
  storageMeanMsByTarget: Record<string, number>;
  /** Peak resident set of the emulator's and Azurite's processes, MiB (0: not known). */
  emulatorRssPeakMiB: number;
  azuriteRssPeakMiB: number;
  /** CPU time (user + system) each process spent in the phase, ms: where the time goes when a
   * phase grows faster than its work (0: not known). */
  cpuMs: { host: number; emulator: number; azurite: number };
  /** Peak resident set and heap of the process during the phase, MiB. */
  rssPeakMiB: number;
  heapPeakMiB: number;
  /** Peak heap less the heap at the phase's start, MiB: the phase's own working memory. */
  heapGrowthMiB: number;
  /** Heap still in use after a full garbage collection at the phase's end, MiB: what the host and
   * the app keep (peaks also hold garbage not yet collected, which V8 lets grow with the work's
   * pace). 0 when the process was started without --expose-gc. */
  heapRetainedMiB: number;
  invocations: number;
  failedInvocations: number;
  maxInvocation: { functionName: string; ms: number };
  /** What the phase itself reported (round totals, counts), for the reader. */
  detail: string;
}

const MiB = 1024 * 1024;

export class PhaseMeter {
  private stack?: Pick<RunningStack, 'azurite' | 'emulatorAdmin' | 'emulatorPid'>;
  private storage?: RequestCounter;
  private timings: InvocationTiming[] = [];
  private peak = { rss: 0, heap: 0, emulator: 0, azurite: 0 };
  private ticks = 0;
  private readonly sampler: NodeJS.Timeout;

  constructor() {
    this.sampler = setInterval(() => this.sample(), 50);
    this.sampler.unref();
  }

  /** Counts from now on the stack's ARM calls (emulator) and storage requests (Azurite's ports). */
  attach(stack: Pick<RunningStack, 'azurite' | 'emulatorAdmin' | 'emulatorPid'>): void {
    this.stack = stack;
    const { blobEndpoint, queueEndpoint, tableEndpoint } = stack.azurite;
    this.storage = countHttpRequests(toPortsOf(blobEndpoint, queueEndpoint, tableEndpoint));
  }

  /** The host's invocation observer (StackOptions.onInvocation). */
  readonly observe = (timing: InvocationTiming): void => {
    this.timings.push(timing);
  };

  private sample(): void {
    const m = process.memoryUsage();
    this.peak.rss = Math.max(this.peak.rss, m.rss);
    this.peak.heap = Math.max(this.peak.heap, m.heapUsed);
    // The other processes' every 250 ms: a file read each, and their memory moves slowly.
    if (this.ticks++ % 5 === 0 && this.stack) {
      this.peak.emulator = Math.max(this.peak.emulator, rssOf(this.stack.emulatorPid));
      this.peak.azurite = Math.max(this.peak.azurite, rssOf(this.stack.azurite.pid));
    }
  }

  /** Runs `work` as one phase; what it returns is summarised by `describe` into the detail text. */
  async phase<T>(
    name: string,
    work: () => Promise<T>,
    describe: (result: T) => string,
  ): Promise<PhaseFigures> {
    const stack = this.stack;
    const storage = this.storage;
    if (!stack || !storage) throw new Error('PhaseMeter: attach(stack) first');
    await stack.emulatorAdmin.resetCounters();
    this.timings = [];
    const heapStart = process.memoryUsage().heapUsed;
    this.peak = { rss: 0, heap: 0, emulator: 0, azurite: 0 };
    this.ticks = 0;
    this.sample();
    storage.reset();
    const cpuStart = this.cpu();
    const started = performance.now();
    const result = await work();
    const ms = performance.now() - started;
    const cpuEnd = this.cpu();
    const storageRequests = storage.total();
    this.ticks = 0;
    this.sample();
    // Progress on stderr (a 5,000-scope run takes many minutes); the figures go to stdout at the end.
    process.stderr.write(
      `  [fleetDay] ${name}: ${(ms / 1000).toFixed(1)} s, ${storageRequests} storage requests\n`,
    );
    const heapRetained = retainedHeap();
    const counters = await stack.emulatorAdmin.counters();
    const longest = this.timings.reduce<InvocationTiming | undefined>(
      (a, t) => (a && a.ms >= t.ms ? a : t),
      undefined,
    );
    return {
      phase: name,
      ms,
      arm: counters.byOperation,
      armCalls: counters.total,
      throttled: counters.byStatus['429'] ?? 0,
      storageRequests,
      storageByTarget: storage.byTarget(),
      storageMeanMs: meanOf(storage.byTarget(), storage.meanMsByTarget()),
      storageMeanMsByTarget: storage.meanMsByTarget(),
      emulatorRssPeakMiB: this.peak.emulator / MiB,
      azuriteRssPeakMiB: this.peak.azurite / MiB,
      cpuMs: {
        host: cpuEnd.host - cpuStart.host,
        emulator: cpuEnd.emulator - cpuStart.emulator,
        azurite: cpuEnd.azurite - cpuStart.azurite,
      },
      rssPeakMiB: this.peak.rss / MiB,
      heapPeakMiB: this.peak.heap / MiB,
      heapGrowthMiB: Math.max(0, this.peak.heap - heapStart) / MiB,
      heapRetainedMiB: heapRetained / MiB,
      invocations: this.timings.length,
      failedInvocations: this.timings.filter((t) => t.failed).length,
      maxInvocation: { functionName: longest?.functionName ?? '-', ms: longest?.ms ?? 0 },
      detail: describe(result),
    };
  }

  private cpu(): { host: number; emulator: number; azurite: number } {
    const own = process.cpuUsage();
    return {
      host: (own.user + own.system) / 1000,
      emulator: cpuMsOf(this.stack?.emulatorPid),
      azurite: cpuMsOf(this.stack?.azurite.pid),
    };
  }

  stop(): void {
    clearInterval(this.sampler);
  }
}

/** A process's resident set in bytes from /proc (Linux); 0 when it cannot be read. */
function rssOf(pid: number | undefined): number {
  if (pid === undefined || pid <= 0) return 0;
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

function meanOf(counts: Record<string, number>, means: Record<string, number>): number {
  let n = 0;
  let ms = 0;
  for (const [key, count] of Object.entries(counts)) {
    n += count;
    ms += count * (means[key] ?? 0);
  }
  return n ? ms / n : 0;
}

/** The heap in use right after a full collection (needs node --expose-gc; 0 without). */
function retainedHeap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return 0;
  gc();
  return process.memoryUsage().heapUsed;
}

/** Linux's clock ticks per second for /proc/PID/stat times (USER_HZ: 100 on every mainstream kernel). */
const USER_HZ = 100;

/** A process's CPU time so far (user + system), ms, from /proc (Linux); 0 when it cannot be read. */
function cpuMsOf(pid: number | undefined): number {
  if (pid === undefined || pid <= 0) return 0;
  try {
    // Fields after the command's closing parenthesis: state is the 3rd field, utime the 14th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return 0;
  }
}
