// One log line per operational event (a backfill, month, round, landing, reconcile or token event),
// as a JSON object whose `event` names it. The Node worker's context.log cannot attach custom
// properties to a trace (azure-functions-nodejs-library#227): the line arrives as the trace's
// `message`, and the workspace function `CostAutopilotEvents` (infra/modules/monitoring.bicep)
// unpacks its fields into columns (docs/operations.md, "Logs"). Values are primitives, long text is
// cut, and every string goes through redactSecrets, so a SAS signature or key never reaches the log.
import { redactSecrets } from './redact';

export type LogEventName =
  | 'backfill.started'
  | 'backfill.cancelled'
  | 'backfill.month.attempt'
  | 'backfill.month.finished'
  | 'landing.catalogued'
  | 'landing.rejected'
  | 'landing.incomplete'
  | 'landing.unclaimed'
  | 'landing.owner.unconfirmed'
  | 'round.started'
  | 'round.skipped'
  | 'round.finished'
  | 'sync.finished'
  | 'sync.scope'
  | 'reconcile.scope'
  | 'reconcile.onboarding'
  | 'outOfBand.refused'
  | 'token.registered'
  | 'token.rotated'
  | 'token.rotation.failed'
  | 'sasWatch.finished'
  | 'durable.purged'
  | 'ledger.sweep'
  | 'backfill.landing.refused';

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
