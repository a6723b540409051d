// The scopes export sync lists: MANAGED_SCOPES first, then the member scopes of the export fleet (a
// partner's customers, thousands of them, which no app setting could hold), read from the fleet
// table a page at a time with the table's continuation token as the round's cursor. A member
// counts while the fleet manages its exports: its assignment still exists and the assignment's last
// finished round still saw it (a customer that left is reported by the fleet, not synced here).
// Each scope is synced once per round: a member scope in MANAGED_SCOPES, or one already reached by
// an assignment that sorts before its own, is skipped.
import { mapWithConcurrency } from '../azure/catalog';
import type { MemberRecord } from '../azure/fleetStore';
import type { Assignment } from '../domain/fleetAssignment';
import type { AssignmentSummary } from '../domain/fleetContracts';
import { scopeKey } from '../domain/scope';
import { isCurrentMember, scopesRead, type SyncCursor } from '../domain/syncCursor';
import type { ExportSyncRuntime, FleetMemberSource } from './exportRegistry';
import { ASSIGNMENT_PK, MEMBER_PREFIX, memberPartition, SUMMARY_PK } from './fleetRows';

export interface SyncScopesPage {
  scopes: string[];
  /** Where the next page starts; absent on the last page. */
  next?: SyncCursor;
  /** How many of `scopes` came from the fleet. */
  fromFleet: number;
}

/** Point reads in flight while a page checks the assignments before a member's own. */
const MEMBER_CHECKS = 8;

function keyOf(scope: string): string | undefined {
  try {
    return scopeKey(scope);
  } catch {
    return undefined; // not a scope: synced (and reported failed) as given
  }
}

function managedKeys(scopes: readonly string[]): Set<string> {
  return new Set(scopes.map(keyOf).filter((k): k is string => k !== undefined));
}

/** The assignments that exist now, each with the tick of its last finished round (if any). */
async function currentAssignments(store: FleetMemberSource): Promise<Map<string, string | undefined>> {
  const [assignments, summaries] = await Promise.all([
    store.list<Assignment>(ASSIGNMENT_PK),
    store.list<AssignmentSummary>(SUMMARY_PK),
  ]);
  const ticks = new Map(summaries.map((s) => [s.assignmentId, s.tick]));
  return new Map(assignments.map((a) => [a.id, ticks.get(a.id)]));
}

/** Whether an assignment that sorts before `assignmentId` (so its member rows came first in the
 * scan) counts the scope too. One point read per such assignment: none with a single assignment. */
async function reachedEarlier(
  store: FleetMemberSource,
  assignments: Map<string, string | undefined>,
  assignmentId: string,
  key: string,
): Promise<boolean> {
  for (const [id, lastTick] of assignments) {
    if (id >= assignmentId) continue;
    const row = await store.get<MemberRecord>(memberPartition(id), key);
    if (row && isCurrentMember(row.seenIn, lastTick)) return true;
  }
  return false;
}

/** One page of the fleet's member scopes (at most `pageSize` rows read), without the ones that do
 * not count or are synced elsewhere in the round. */
export async function fleetScopesPage(
  store: FleetMemberSource,
  managed: ReadonlySet<string>,
  pageSize: number,
  token?: string,
): Promise<{ scopes: string[]; continuationToken?: string }> {
  const page = await store.pageByPrefix<MemberRecord>(MEMBER_PREFIX, pageSize, token);
  const next = page.continuationToken ? { continuationToken: page.continuationToken } : {};
  if (page.items.length === 0) return { scopes: [], ...next };
  const assignments = await currentAssignments(store);
  const kept: (string | undefined)[] = new Array<string | undefined>(page.items.length);
  await mapWithConcurrency(page.items, MEMBER_CHECKS, async (m, i) => {
    if (!assignments.has(m.assignmentId)) return; // the assignment was removed
    if (!isCurrentMember(m.seenIn, assignments.get(m.assignmentId))) return; // the customer left
    const key = keyOf(m.scope);
    if (
      key !== undefined &&
      (managed.has(key) || (await reachedEarlier(store, assignments, m.assignmentId, key)))
    )
      return;
    kept[i] = m.scope;
  });
  return { scopes: kept.filter((s): s is string => s !== undefined), ...next };
}

/** The page of a round at `cursor`: a slice of MANAGED_SCOPES, or a page of the fleet's members. */
export async function syncScopesPage(
  rt: Pick<ExportSyncRuntime, 'scopes' | 'fleet'>,
  cursor: SyncCursor | undefined,
  pageSize: number,
): Promise<SyncScopesPage> {
  const read = scopesRead(rt.scopes.length, cursor, pageSize, rt.fleet !== undefined);
  if (read.part === 'managed') {
    return {
      scopes: rt.scopes.slice(read.start, read.end),
      ...(read.next ? { next: read.next } : {}),
      fromFleet: 0,
    };
  }
  if (read.part === 'done' || !rt.fleet) return { scopes: [], fromFleet: 0 };
  const page = await fleetScopesPage(rt.fleet, managedKeys(rt.scopes), pageSize, read.token);
  return {
    scopes: page.scopes,
    ...(page.continuationToken ? { next: { part: 'fleet', token: page.continuationToken } } : {}),
    fromFleet: page.scopes.length,
  };
}

/** What POST /api/exports/sync does: sync `scopes` inline, or start a round when there are more than
 * `max`, or when one small read (at most max + 1 member rows) cannot show that there are not. */
export type InlineDecision =
  | { inline: true; scopes: string[]; fromFleet: number }
  | { inline: false; managedScopes: number; fleetScopesSeen: number };

export async function inlineDecision(
  rt: Pick<ExportSyncRuntime, 'scopes' | 'fleet'>,
  max: number,
): Promise<InlineDecision> {
  const managed = rt.scopes.length;
  if (managed > max) return { inline: false, managedScopes: managed, fleetScopesSeen: 0 };
  if (!rt.fleet) return { inline: true, scopes: [...rt.scopes], fromFleet: 0 };
  const page = await fleetScopesPage(rt.fleet, managedKeys(rt.scopes), max + 1 - managed);
  if (page.continuationToken !== undefined || managed + page.scopes.length > max) {
    return { inline: false, managedScopes: managed, fleetScopesSeen: page.scopes.length };
  }
  return { inline: true, scopes: [...rt.scopes, ...page.scopes], fromFleet: page.scopes.length };
}
