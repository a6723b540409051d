// What plan/reconcile says about each export of a scope, and the outcome its fleet row records.
// Pure: no I/O.
import type { ExportPlan, FieldDrift } from './exportDrift';

export type ExportResultOutcome = ExportPlan['outcome'] | 'created' | 'updated' | 'failed' | 'pending';

export interface ExportResult {
  exportName: string;
  outcome: ExportResultOutcome;
  fields?: FieldDrift[];
  reason?: string;
  error?: string;
}

/** How one scope's plan or reconcile ended. */
export type ScopeStatus = 'ok' | 'throttled' | 'forbidden' | 'failed';

/** The outcome an export's fleet row keeps (what status shows and the next round reads back). */
export type RecordedOutcome =
  'created' | 'updated' | 'unchanged' | 'not-owned' | 'failed' | 'forbidden' | 'throttled';

/** The outcome an export's row records: a PUT that never went out (pending) takes the scope's
 * reason (forbidden, throttled, failed); a planned create/update that was not applied failed. */
export function recordedOutcome(outcome: ExportResultOutcome, scopeStatus: ScopeStatus): RecordedOutcome {
  if (outcome === 'pending') {
    return scopeStatus === 'forbidden' ? 'forbidden' : scopeStatus === 'throttled' ? 'throttled' : 'failed';
  }
  return outcome === 'create' || outcome === 'update' ? 'failed' : outcome;
}
