// Per-phase figures of bench/fleetDay.ts, taken in the process that runs the stack: wall time, the
// emulator's ARM counters by operation and status, storage requests to Azurite, the process's peak
// memory (sampled every 50 ms) and the longest single function invocation the host timed.
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
  /** Peak resident set and heap of the process during the phase, MiB. */
  rssPeakMiB: number;
  heapPeakMiB: number;
  /** Peak heap less the heap at the phase's start, MiB: the phase's own working memory. */
  heapGrowthMiB: number;
  invocations: number;
  failedInvocations: number;
  maxInvocation: { functionName: string; ms: number };
  /** What the phase itself reported (round totals, counts), for the reader. */
  detail: string;
}

const MiB = 1024 * 1024;

export class PhaseMeter {
  private stack?: Pick<RunningStack, 'azurite' | 'emulatorAdmin'>;
  private storage?: RequestCounter;
  private timings: InvocationTiming[] = [];
  private peak = { rss: 0, heap: 0 };
  private readonly sampler: NodeJS.Timeout;

  constructor() {
    this.sampler = setInterval(() => this.sample(), 50);
    this.sampler.unref();
  }

  /** Counts from now on the stack's ARM calls (emulator) and storage requests (Azurite's ports). */
  attach(stack: Pick<RunningStack, 'azurite' | 'emulatorAdmin'>): void {
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
    this.peak = { rss: 0, heap: 0 };
    this.sample();
    storage.reset();
    const started = performance.now();
    const result = await work();
    const ms = performance.now() - started;
    const storageRequests = storage.total();
    this.sample();
    // Progress on stderr (a 5,000-scope run takes many minutes); the figures go to stdout at the end.
    process.stderr.write(
      `  [fleetDay] ${name}: ${(ms / 1000).toFixed(1)} s, ${storageRequests} storage requests\n`,
    );
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
      rssPeakMiB: this.peak.rss / MiB,
      heapPeakMiB: this.peak.heap / MiB,
      heapGrowthMiB: Math.max(0, this.peak.heap - heapStart) / MiB,
      invocations: this.timings.length,
      failedInvocations: this.timings.filter((t) => t.failed).length,
      maxInvocation: { functionName: longest?.functionName ?? '-', ms: longest?.ms ?? 0 },
      detail: describe(result),
    };
  }

  stop(): void {
    clearInterval(this.sampler);
  }
}
