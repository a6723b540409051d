// Progress of the demo's backfill: a redrawn bar on a terminal, plain periodic lines elsewhere (CI,
// pipes), so logs stay readable. Formatting is pure; the reporter only decides when to write.

export interface ProgressSnapshot {
  /** Durable runtime status: Pending, Running, Completed, Failed, Terminated. */
  runtimeStatus: string;
  total: number;
  completed: number;
  noData: number;
  failed: number;
  running: number;
  /** `Dataset YYYY-MM` labels in flight. */
  inFlight: string[];
}

export function doneCount(s: ProgressSnapshot): number {
  return s.completed + s.noData + s.failed;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(0)}s`;
}

function tally(s: ProgressSnapshot): string {
  const parts = [`${s.completed} completed`];
  if (s.noData > 0) parts.push(`${s.noData} no data`);
  if (s.failed > 0) parts.push(`${s.failed} failed`);
  parts.push(`${s.running} running`);
  return parts.join(', ');
}

/** `[#########...........]  9/24  38%  7 completed, 2 running  12s` fitted to `columns`. */
export function renderBar(s: ProgressSnapshot, elapsedMs: number, columns = 80): string {
  const done = doneCount(s);
  const ratio = s.total > 0 ? done / s.total : 0;
  const percent = `${Math.floor(ratio * 100)}%`.padStart(4);
  const counter = `${String(done).padStart(String(s.total).length)}/${s.total}`;
  const tail = `${counter} ${percent}  ${tally(s)}  ${seconds(elapsedMs)}`;
  const width = Math.max(10, Math.min(30, columns - tail.length - 5));
  const filled = Math.round(ratio * width);
  const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]  ${tail}`;
  return line.length > columns - 1 ? line.slice(0, columns - 1) : line;
}

/** One self-contained line for logs: `[12s] backfill Running: 9/24 done (7 completed, 2 running); in flight: ActualCost 2025-03`. */
export function renderLine(s: ProgressSnapshot, elapsedMs: number): string {
  const flight = s.inFlight.length > 0 ? `; in flight: ${s.inFlight.join(', ')}` : '';
  return `[${seconds(elapsedMs)}] backfill ${s.runtimeStatus}: ${doneCount(s)}/${s.total} done (${tally(s)})${flight}`;
}

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Writes progress to `out`: redraws one line on a TTY; otherwise a line when the tally changes or
 * every `plainIntervalMs`, whichever comes first. */
export class ProgressReporter {
  private drawn = false;
  private lastPlain = '';
  private lastPlainAt = -Infinity;

  constructor(
    private readonly out: ProgressOutput,
    private readonly options: { tty: boolean; plainIntervalMs?: number; now?: () => number } = {
      tty: out.isTTY === true,
    },
  ) {}

  update(s: ProgressSnapshot, elapsedMs: number): void {
    if (this.options.tty) {
      // A pseudo-terminal may report 0 columns; assume the classic 80 then.
      const columns = this.out.columns && this.out.columns >= 40 ? this.out.columns : 80;
      this.out.write(`\r\x1b[2K${renderBar(s, elapsedMs, columns)}`);
      this.drawn = true;
      return;
    }
    const now = (this.options.now ?? Date.now)();
    const key = `${s.runtimeStatus}|${doneCount(s)}|${s.running}`;
    if (key !== this.lastPlain || now - this.lastPlainAt >= (this.options.plainIntervalMs ?? 10_000)) {
      this.out.write(`${renderLine(s, elapsedMs)}\n`);
      this.lastPlain = key;
      this.lastPlainAt = now;
    }
  }

  /** A message that must not be overwritten by the bar. */
  message(text: string): void {
    this.clear();
    this.out.write(`${text}\n`);
  }

  /** Ends the bar's line so following output starts clean. */
  finish(): void {
    if (this.options.tty && this.drawn) this.out.write('\n');
    this.drawn = false;
  }

  /** Erases the bar (it is redrawn on the next update) so another line can be written. */
  clear(): void {
    if (this.options.tty && this.drawn) this.out.write('\r\x1b[2K');
    this.drawn = false;
  }
}
