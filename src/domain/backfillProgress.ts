// The custom status a backfill and each of its months show while they run. Durable Functions caps a
// custom status at 16 KB of UTF-16 JSON text (learn.microsoft.com, "Custom orchestration status"), and
// an orchestration that sets a bigger one fails. So the status holds counts, the months in flight and
// the last few outcomes with short errors: its size does not grow with the length of the backfill.
// Every month's full result stays in the orchestration output and the backfillRuns table.
import type { BackfillProgress, MonthOutcome } from './contracts';
import type { ExportDataset } from './scope';

/** Finished months the parent's status keeps, newest last. */
export const RECENT_OUTCOMES = 5;
/** Error text in a status is cut to this many characters (the full text is in the output). */
export const STATUS_ERROR_CHARS = 200;

export function shortError(text: string): string {
  return text.length <= STATUS_ERROR_CHARS ? text : `${text.slice(0, STATUS_ERROR_CHARS - 1)}…`;
}

export type RecentOutcome = BackfillProgress['recent'][number];

/** `recent` with one more finished month, oldest dropped past RECENT_OUTCOMES. */
export function withRecent(
  recent: readonly RecentOutcome[],
  month: { dataset: ExportDataset; month: string; outcome: MonthOutcome; error?: string },
): RecentOutcome[] {
  const entry: RecentOutcome = {
    dataset: month.dataset,
    month: month.month,
    outcome: month.outcome,
    ...(month.error !== undefined ? { error: shortError(month.error) } : {}),
  };
  return [...recent, entry].slice(-RECENT_OUTCOMES);
}
