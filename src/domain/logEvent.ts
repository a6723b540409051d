// One log line per operational event (a backfill started or cancelled, a month's attempt or
// outcome), as a JSON object whose `event` names it. context.log sends the line to Application
// Insights as a trace's `message`; `parse_json(message)` turns its fields into columns there
// (docs/operations.md, "Logs"). Values are primitives, long text is cut, and every string goes
// through redactSecrets, so a SAS signature or key can never reach the log.
import { redactSecrets } from './redact';

export type LogEventName =
  'backfill.started' | 'backfill.cancelled' | 'backfill.month.attempt' | 'backfill.month.finished';

export type LogFieldValue = string | number | boolean | null;

const MAX_TEXT = 500;

export function logEventLine(event: LogEventName, fields: Record<string, LogFieldValue | undefined>): string {
  const clean: Record<string, LogFieldValue> = { event };
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || name === 'event') continue;
    clean[name] =
      typeof value === 'string'
        ? redactSecrets(value.length > MAX_TEXT ? `${value.slice(0, MAX_TEXT - 1)}…` : value)
        : value;
  }
  return JSON.stringify(clean);
}
