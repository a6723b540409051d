// Writes one structured event line (domain/logEvent.ts) at the level the event deserves, so a
// trigger says what happened in one call and Application Insights gets the severity right.
import type { InvocationContext } from '@azure/functions';

import { logEventLine, type LogEventName, type LogFieldValue } from '../domain/logEvent';

export type EventLevel = 'info' | 'warn' | 'error';

export type EventSink = Pick<InvocationContext, 'log' | 'warn' | 'error'>;

export function logEvent(
  sink: EventSink,
  level: EventLevel,
  event: LogEventName,
  fields: Record<string, LogFieldValue | undefined>,
): void {
  const line = logEventLine(event, fields);
  if (level === 'error') sink.error(line);
  else if (level === 'warn') sink.warn(line);
  else sink.log(line);
}
