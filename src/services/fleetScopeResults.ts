// What plan/reconcile answers for one scope, and the fleet rows a reconcile writes from it: one per
// export, with the token it carries and the reason it failed (never a secret).
import { AuthorizationError, isCostManagementError, ThrottledError } from '../azure/armErrors';
import type { ExportOutcomeRecord } from '../azure/fleetStore';
import type { Assignment } from '../domain/fleetAssignment';
import { type ExportResult, recordedOutcome, type ScopeStatus } from '../domain/fleetOutcomes';
import { redactError } from '../domain/redact';
import type { Scope } from '../domain/scope';
import type { FleetDeps } from './fleetDeps';
import { outcomePartition } from './fleetRows';
import { roleHint } from './scopeAccess';

export interface ScopeResult {
  assignmentId: string;
  scope: string;
  status: ScopeStatus;
  exports: ExportResult[];
  /** ARM calls this scope cost: Exports List and PUT. */
  calls: { list: number; put: number };
  retryAfterMs?: number;
  /** forbidden: the role to grant the app's identity at this scope. */
  roleToGrant?: string;
  error?: string;
  /** Reconcile (not plan): the rows written, one per export. */
  recorded?: ExportOutcomeRecord[];
}

/** The scope's answer when an ARM call failed: throttled (with its wait), forbidden (with the role
 * to grant) or failed. */
export function failedScope(
  base: { assignmentId: string; scope: string },
  error: unknown,
  scope: Scope,
  calls: ScopeResult['calls'],
): ScopeResult {
  if (error instanceof ThrottledError) {
    return {
      ...base,
      status: 'throttled',
      exports: [],
      calls,
      retryAfterMs: error.retryAfterMs,
      error: error.code,
    };
  }
  if (error instanceof AuthorizationError) {
    return {
      ...base,
      status: 'forbidden',
      exports: [],
      calls,
      roleToGrant: roleHint(scope),
      error: `${error.code} (HTTP ${error.status ?? '?'})`,
    };
  }
  return { ...base, status: 'failed', exports: [], calls, error: describeFailure(error) };
}

/** A failure in a few words for a row or an answer: the ARM code and status, or the redacted message. */
export function describeFailure(error: unknown): string {
  if (isCostManagementError(error))
    return `${error.code}${error.status === undefined ? '' : ` (HTTP ${error.status})`}`;
  return redactError(error)
    .replace(/^Error: /, '')
    .slice(0, 300);
}

/** Writes one outcome row per export of the scope; an export not PUT keeps the token it carried. */
export async function recordScope(
  deps: Pick<FleetDeps, 'store' | 'now'>,
  scope: Scope,
  assignment: Assignment,
  results: ExportResult[],
  scopeResult: ScopeResult,
  fingerprint?: string,
  read?: ExportOutcomeRecord[],
): Promise<ExportOutcomeRecord[]> {
  const at = deps.now().toISOString();
  const rows = read ?? (await deps.store.list<ExportOutcomeRecord>(outcomePartition(scope)));
  const previous = new Map(rows.map((o) => [o.exportName, o]));
  const written = results.map((r) => {
    const applied = r.outcome === 'created' || r.outcome === 'updated';
    const outcome = recordedOutcome(r.outcome, scopeResult.status);
    const carried = applied ? fingerprint : previous.get(r.exportName)?.tokenFingerprint;
    const error = r.error ?? (r.outcome === 'pending' ? scopeResult.error : undefined);
    const value: ExportOutcomeRecord = {
      scope: scope.canonical,
      exportName: r.exportName,
      assignmentId: assignment.id,
      outcome,
      ...(r.fields ? { fields: r.fields.map((f) => f.field) } : {}),
      ...(carried ? { tokenFingerprint: carried } : {}),
      ...(error ? { error } : {}),
      at,
    };
    return { rowKey: r.exportName, value };
  });
  await deps.store.putMany(outcomePartition(scope), written);
  return written.map((w) => w.value);
}
