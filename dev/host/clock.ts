// Time for the local host and the durable engine. Production code never sees this: it is how the
// stand-in host schedules timers (durable timers, retry back-off, NCRONTAB timers, blob polls).
// RealClock runs on setTimeout for `npm run dev`; VirtualClock lets tests move time by hand and wait
// until every piece of host work started so far has finished, with no real sleeping.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once the clock reaches `atMs` (immediately-ish if it already has). */
  setTimer(atMs: number, callback: () => void): TimerHandle;
  /** Registers host work so `idle()` (and a virtual clock's `runUntilIdle()`) waits for it. */
  track<T>(work: Promise<T>): Promise<T>;
  /** Resolves once no tracked work is pending. */
  idle(): Promise<void>;
}

abstract class TrackingClock implements Clock {
  private readonly pending = new Set<Promise<unknown>>();

  abstract now(): number;
  abstract setTimer(atMs: number, callback: () => void): TimerHandle;

  track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.pending.add(settled);
    void settled.then(() => this.pending.delete(settled));
    return work;
  }

  get pendingWork(): number {
    return this.pending.size;
  }

  async idle(): Promise<void> {
    // Work may start more work when it settles; loop until a macrotask turn finds nothing pending.
    for (;;) {
      while (this.pending.size > 0) await Promise.all([...this.pending]);
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.pending.size === 0) return;
    }
  }
}

// setTimeout overflows above 2^31-1 ms (about 24.8 days); long timers re-arm in steps.
const MAX_TIMEOUT_MS = 2_147_483_647;

export class RealClock extends TrackingClock {
  now(): number {
    return Date.now();
  }

  setTimer(atMs: number, callback: () => void): TimerHandle {
    let handle: NodeJS.Timeout | undefined;
    let cancelled = false;
    const arm = () => {
      const delay = atMs - Date.now();
      if (delay > MAX_TIMEOUT_MS) {
        handle = setTimeout(arm, MAX_TIMEOUT_MS);
      } else {
        handle = setTimeout(
          () => {
            if (!cancelled) callback();
          },
          Math.max(0, delay),
        );
      }
    };
    arm();
    return {
      cancel: () => {
        cancelled = true;
        if (handle) clearTimeout(handle);
      },
    };
  }
}

interface VirtualTimer {
  at: number;
  seq: number;
  callback: () => void;
}

/** A clock that only moves when told to. Timers due at the same instant fire in creation order. */
export class VirtualClock extends TrackingClock {
  private current: number;
  private seq = 0;
  private timers: VirtualTimer[] = [];

  constructor(start: Date | number = Date.UTC(2025, 0, 1)) {
    super();
    this.current = typeof start === 'number' ? start : start.getTime();
    if (!Number.isFinite(this.current)) throw new Error('VirtualClock start: expected a valid date');
  }

  now(): number {
    return this.current;
  }

  setTimer(atMs: number, callback: () => void): TimerHandle {
    const timer: VirtualTimer = { at: atMs, seq: this.seq++, callback };
    this.timers.push(timer);
    return { cancel: () => void (this.timers = this.timers.filter((t) => t !== timer)) };
  }

  /** When the earliest pending timer is due, or undefined if none is pending. */
  nextTimerAt(): number | undefined {
    return this.earliest()?.at;
  }

  /** Fires every timer already due (in time order) and waits for all work, repeatedly, until nothing is left. */
  async runUntilIdle(): Promise<void> {
    for (;;) {
      await this.idle();
      const due = this.earliest();
      if (!due || due.at > this.current) return;
      this.fire(due);
    }
  }

  /** Moves time forward by `ms`, stopping at each timer on the way so everything happens in order. */
  async advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0)
      throw new Error(`advance(ms): expected a non-negative number, got ${ms}`);
    await this.advanceTo(this.current + ms);
  }

  async advanceTo(target: Date | number): Promise<void> {
    const end = typeof target === 'number' ? target : target.getTime();
    if (end < this.current) throw new Error('advanceTo: the virtual clock cannot go backwards');
    for (;;) {
      await this.runUntilIdle();
      const next = this.earliest();
      if (!next || next.at > end) break;
      this.current = Math.max(this.current, next.at);
    }
    this.current = end;
    await this.runUntilIdle();
  }

  /** Advances timer by timer until `done()` holds (checked whenever the host is idle). */
  async runUntil(done: () => boolean, options: { maxMs?: number } = {}): Promise<void> {
    const limit = this.current + (options.maxMs ?? 366 * 24 * 3600_000);
    await this.runUntilIdle();
    while (!done()) {
      const next = this.earliest();
      if (!next) throw new Error('runUntil: nothing is scheduled and the condition still does not hold');
      if (next.at > limit)
        throw new Error(`runUntil: condition still false after ${options.maxMs ?? '366 days of'} ms`);
      this.current = Math.max(this.current, next.at);
      await this.runUntilIdle();
    }
  }

  private earliest(): VirtualTimer | undefined {
    let best: VirtualTimer | undefined;
    for (const t of this.timers)
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    return best;
  }

  private fire(timer: VirtualTimer): void {
    this.timers = this.timers.filter((t) => t !== timer);
    timer.callback();
  }
}
