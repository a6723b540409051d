// The fleet's per-assignment summaries: a round that finishes an assignment writes its counts by
// outcome (and the first exports that need a person) as one row, so /api/status and the fleet
// view read O(assignments) rows, never one per export.
import type { ExportOutcomeRecord, FleetStoreApi } from '../azure/fleetStore';
import type { Assignment } from '../domain/fleetAssignment';
import {
  type AssignmentSummary,
  type AssignmentTally,
  ATTENTION_OUTCOMES,
  type AttentionItem,
} from '../domain/fleetContracts';
import { ASSIGNMENT_PK, departedMembers, SUMMARY_PK } from './fleetRows';
import type { ScopeResult } from './fleetScopeResults';

/** One scope's recorded rows as counts, and the ones that need a person (for the round's tally). */
export function scopeTally(result: Pick<ScopeResult, 'recorded'>): {
  recorded: Record<string, number>;
  attention: AttentionItem[];
} {
  const recorded: Record<string, number> = {};
  const attention: AttentionItem[] = [];
  for (const row of result.recorded ?? []) {
    recorded[row.outcome] = (recorded[row.outcome] ?? 0) + 1;
    if (ATTENTION_OUTCOMES.includes(row.outcome)) {
      attention.push({
        scope: row.scope,
        exportName: row.exportName,
        outcome: row.outcome,
        ...(row.error ? { error: row.error } : {}),
      });
    }
  }
  return { recorded, attention };
}

/** The end of an assignment's round: departed customers (reported, never deleted) and its summary. */
export async function finishAssignment(
  store: FleetStoreApi,
  input: { assignmentId: string; tick: string; tally: AssignmentTally },
  now: Date,
): Promise<string[]> {
  const departed = await departedMembers(store, input.assignmentId, input.tick);
  const summary: AssignmentSummary = {
    assignmentId: input.assignmentId,
    tick: input.tick,
    at: now.toISOString(),
    ...input.tally,
    departed: departed.length,
  };
  await store.put(SUMMARY_PK, input.assignmentId, summary);
  return departed;
}

export function assignmentSummary(
  store: FleetStoreApi,
  assignmentId: string,
): Promise<AssignmentSummary | undefined> {
  return store.get<AssignmentSummary>(SUMMARY_PK, assignmentId);
}

export interface FleetStatus {
  assignments: number;
  /** Exports the last round of each assignment reached. */
  exports: number;
  byOutcome: Record<string, number>;
  /** True when an assignment had more exports needing a person than its summary keeps. */
  truncated: boolean;
  /** Exports whose last outcome needs a person: failed, forbidden, throttled, not-owned. */
  attention: (AttentionItem & Pick<ExportOutcomeRecord, 'assignmentId' | 'at'>)[];
  /** Assignments no round has finished yet (their exports are not counted). */
  notReconciled: number;
}

const MAX_STATUS_ATTENTION = 200;

/** What /api/status shows of the fleet: one summary row per assignment, summed. */
export async function fleetStatus(store: FleetStoreApi): Promise<FleetStatus> {
  const [assignments, summaries] = await Promise.all([
    store.list<Assignment>(ASSIGNMENT_PK),
    store.list<AssignmentSummary>(SUMMARY_PK),
  ]);
  const current = new Set(assignments.map((a) => a.id));
  const byOutcome: Record<string, number> = {};
  const attention: FleetStatus['attention'] = [];
  let exports = 0;
  let truncated = false;
  let reconciled = 0;
  for (const s of summaries.filter((x) => current.has(x.assignmentId))) {
    reconciled += 1;
    exports += s.exports;
    for (const [k, v] of Object.entries(s.byOutcome)) byOutcome[k] = (byOutcome[k] ?? 0) + v;
    const needing = ATTENTION_OUTCOMES.reduce((n, o) => n + (s.byOutcome[o] ?? 0), 0);
    if (needing > s.attention.length) truncated = true;
    for (const a of s.attention) {
      if (attention.length >= MAX_STATUS_ATTENTION) truncated = true;
      else attention.push({ ...a, assignmentId: s.assignmentId, at: s.at });
    }
  }
  return {
    assignments: assignments.length,
    exports,
    byOutcome,
    truncated,
    attention,
    notReconciled: assignments.length - reconciled,
  };
}
