// Fires timerTrigger functions on their schedule: six-field NCRONTAB (or a TimeSpan `hh:mm:ss`,
// which App Service plans accept), `%SETTING%` resolved from env, `runOnStartup` honoured. The
// argument has the host's Timer shape. Invocations of one function never overlap (the host holds a
// singleton lock per timer function).
import type { Timer } from '@azure/functions';

import type { Clock, TimerHandle } from './clock';
import { timeSpanMs } from './durable/history';
import type { CapturedRegistration } from './functionsCoreStub';
import { type NcrontabSchedule, nextOccurrence, parseNcrontab } from './ncrontab';
import { type HostEnv, resolveSettings } from './settings';

export type TimerInvoker = (registration: CapturedRegistration, timer: Timer) => Promise<unknown>;

export class TimerTriggerRunner {
  readonly expression: string;
  private readonly cron?: NcrontabSchedule;
  private readonly intervalMs?: number;
  private handle?: TimerHandle;
  private last?: Date;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** When the next scheduled run is due (undefined before start / after stop). */
  nextRun?: Date;

  constructor(
    readonly registration: CapturedRegistration,
    env: HostEnv,
    private readonly clock: Clock,
    private readonly invoke: TimerInvoker,
  ) {
    const raw = registration.trigger.schedule;
    const where = `timer function "${registration.name}" schedule`;
    if (typeof raw !== 'string' || raw.trim() === '') throw new Error(`${where}: missing`);
    this.expression = resolveSettings(raw, env, where).trim();
    try {
      if (/^\d+(\.\d+)?:\d{2}:\d{2}$/.test(this.expression)) this.intervalMs = timeSpanMs(this.expression);
      else this.cron = parseNcrontab(this.expression);
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`);
    }
  }

  start(): void {
    if (this.registration.trigger.runOnStartup === true) void this.fire(new Date(this.clock.now()), false);
    this.arm(new Date(this.clock.now()));
  }

  stop(): void {
    this.stopped = true;
    this.handle?.cancel();
    this.nextRun = undefined;
  }

  /** Runs the function now, as the admin API does; resolves with its result. */
  fireNow(): Promise<unknown> {
    return this.fire(new Date(this.clock.now()), false);
  }

  private next(after: Date): Date {
    return this.cron ? nextOccurrence(this.cron, after) : new Date(after.getTime() + this.intervalMs!);
  }

  private arm(after: Date): void {
    if (this.stopped) return;
    const due = this.next(after);
    this.nextRun = due;
    this.handle = this.clock.setTimer(due.getTime(), () => {
      this.arm(due);
      void this.fire(due, true);
    });
  }

  private fire(scheduled: Date, onSchedule: boolean): Promise<unknown> {
    const run = this.running.then(() => {
      const now = new Date(this.clock.now());
      const timer: Timer = {
        isPastDue: onSchedule && now.getTime() - scheduled.getTime() > 1000,
        schedule: { adjustForDST: false },
        scheduleStatus: {
          last: (this.last ?? new Date(0)).toISOString(),
          next: (this.nextRun ?? this.next(now)).toISOString(),
          lastUpdated: now.toISOString(),
        },
      };
      this.last = scheduled;
      return this.invoke(this.registration, timer);
    });
    this.running = run.catch(() => undefined);
    return this.clock.track(run);
  }
}
