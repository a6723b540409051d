// The fleet table's partitions (azure/fleetStore.ts lists them) and the plain reads and writes of
// them the fleet's use cases share: assignments, the scopes a round reached, export outcomes.
import type { ExportOutcomeRecord, FleetStoreApi, MemberRecord } from '../azure/fleetStore';
import type { Assignment } from '../domain/fleetAssignment';
import { type Scope, scopeKey } from '../domain/scope';

export const PROFILE_PK = 'profile';
export const ASSIGNMENT_PK = 'assignment';
/** One row per assignment: its counts by outcome as the last round that reached it left them. */
export const SUMMARY_PK = 'summary';

/** Every assignment's member partition starts with this (export sync pages through them all). */
export const MEMBER_PREFIX = 'member|';
/** The scopes an assignment reached, one row each. */
export const memberPartition = (assignmentId: string): string => `${MEMBER_PREFIX}${assignmentId}`;
/** The last outcome of every export the fleet manages at a scope, one row each. */
export const outcomePartition = (scope: Scope | string): string => `outcome|${scopeKey(scope)}`;

export function listAssignments(store: FleetStoreApi): Promise<Assignment[]> {
  return store.list<Assignment>(ASSIGNMENT_PK);
}

/** Marks scopes as seen by round `tick`, so the end of the round can report departed ones. */
export async function markMembers(
  store: FleetStoreApi,
  assignmentId: string,
  scopes: string[],
  tick: string,
): Promise<void> {
  await store.putMany(
    memberPartition(assignmentId),
    scopes.map((scope) => ({
      rowKey: scopeKey(scope),
      value: { assignmentId, scope, seenIn: tick } satisfies MemberRecord,
    })),
  );
}

/** Scopes the assignment reached before but round `tick` did not: customers that left. Reported, never deleted. */
export async function departedMembers(
  store: FleetStoreApi,
  assignmentId: string,
  tick: string,
): Promise<string[]> {
  return (await store.list<MemberRecord>(memberPartition(assignmentId)))
    .filter((m) => m.seenIn !== tick)
    .map((m) => m.scope);
}

/** Every export outcome the fleet recorded for the scopes an assignment reached (status, views). */
export async function outcomesOf(
  store: FleetStoreApi,
  assignmentId: string,
  limit = 500,
): Promise<ExportOutcomeRecord[]> {
  const out: ExportOutcomeRecord[] = [];
  for (const member of await store.list<MemberRecord>(memberPartition(assignmentId), limit)) {
    out.push(
      ...(await store.list<ExportOutcomeRecord>(outcomePartition(member.scope))).filter(
        (o) => o.assignmentId === assignmentId,
      ),
    );
    if (out.length >= limit) break;
  }
  return out.slice(0, limit);
}
