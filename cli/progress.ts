// `backfill show --follow`: one bar per dataset (months finished of the total) and one line per
// month in flight (phase, attempt, last error, next retry). On a terminal the block is redrawn in
// place; otherwise (CI, a pipe) a plain block is written only when something changed.

export interface BackfillAnswer {
  id: string;
  runtimeStatus: string;
  outcome: string | null;
  byDataset?: {
    dataset: string;
    total: number;
    Completed: number;
    NoData: number;
    Failed: number;
    running: number;
    pending: number;
    Cancelled?: number;
  }[];
  inFlight?: {
    dataset: string;
    month: string;
    phase: string;
    attempt: number;
    maxAttempts: number | null;
    lastError: string | null;
    nextRetryAt: string | null;
  }[];
  progress?: { counts?: Record<string, number>; total?: number } | null;
  result?: {
    counts?: Record<string, number>;
    months?: { dataset: string; month: string; outcome: string; error?: string }[];
  } | null;
}

const BAR = 30;

export function bar(done: number, total: number, width = BAR): string {
  const filled = total > 0 ? Math.round((Math.min(done, total) / total) * width) : 0;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

/** The lines describing one answer: a bar per dataset, then the months in flight. */
export function progressLines(view: BackfillAnswer, now = new Date()): string[] {
  const lines = [`backfill ${view.id}: ${view.runtimeStatus}${view.outcome ? ` (${view.outcome})` : ''}`];
  for (const d of view.byDataset ?? []) {
    const done = d.Completed + d.NoData + d.Failed;
    const extra = [
      d.Failed ? `${d.Failed} failed` : '',
      d.NoData ? `${d.NoData} no data` : '',
      d.running ? `${d.running} running` : '',
      d.Cancelled ? `${d.Cancelled} cancelled` : '',
    ].filter(Boolean);
    lines.push(
      `  ${d.dataset.padEnd(24)} ${bar(done, d.total)} ${String(done).padStart(3)}/${d.total} months${extra.length ? `  ${extra.join(', ')}` : ''}`,
    );
  }
  for (const m of view.inFlight ?? []) {
    const attempt = m.attempt > 0 ? `attempt ${m.attempt}${m.maxAttempts ? `/${m.maxAttempts}` : ''}` : '';
    const retry = m.nextRetryAt
      ? `next retry in ${Math.max(0, Math.round((Date.parse(m.nextRetryAt) - now.getTime()) / 1000))}s`
      : '';
    const error = m.lastError
      ? `last error: ${m.lastError.length > 100 ? `${m.lastError.slice(0, 99)}…` : m.lastError}`
      : '';
    lines.push(`    ${m.month} ${m.dataset}: ${[m.phase, attempt, retry, error].filter(Boolean).join(', ')}`);
  }
  return lines;
}

export class ProgressWriter {
  private drawn = 0;
  private last = '';

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    private readonly tty = out.isTTY === true,
  ) {}

  update(view: BackfillAnswer): void {
    const lines = progressLines(view);
    const text = lines.join('\n');
    if (this.tty) {
      const width = this.out.columns ?? 120;
      const clipped = lines.map((l) => (l.length > width ? l.slice(0, width - 1) : l));
      // Move up over the previous block, clear it, draw the new one.
      this.out.write(`${this.drawn > 0 ? `\x1b[${this.drawn}A` : ''}\x1b[0J${clipped.join('\n')}\n`);
      this.drawn = clipped.length;
    } else if (text.replace(/next retry in \d+s/g, '') !== this.last) {
      this.out.write(`${text}\n`);
    }
    this.last = text.replace(/next retry in \d+s/g, '');
  }
}
