// The fleet's assignments: create (or find, unchanged) one after checking its profile, its scope and
// its destination's token; read one; remove one, and with it, on request, the exports it owns.
import { isCostManagementError } from '../azure/armErrors';
import type { ExportOutcomeRecord, FleetStoreApi, MemberRecord } from '../azure/fleetStore';
import { exportsForScope } from '../domain/exportProfile';
import {
  type Assignment,
  assignmentIdFor,
  FleetRequestError,
  invalidRequest,
  isAssignmentId,
  parseAssignmentRequest,
} from '../domain/fleetAssignment';
import { parseScope, type Scope } from '../domain/scope';
import type { FleetDeps } from './fleetDeps';
import { findProfile, listProfiles } from './fleetProfiles';
import { ASSIGNMENT_PK, memberPartition, outcomePartition, SUMMARY_PK } from './fleetRows';
import { describeFailure } from './fleetScopeResults';

/** Creates (or, unchanged, finds) an assignment: the profile exists, its datasets are offered at the
 * target's scope kind, and a SAS destination has a registered token. */
export async function putAssignment(
  deps: Pick<FleetDeps, 'store' | 'tokens' | 'now'>,
  body: unknown,
): Promise<{ assignment: Assignment; created: boolean }> {
  const request = parseAssignmentRequest(body);
  const profile = await findProfile(deps.store, request.profile);
  if (!profile) {
    const known = (await listProfiles(deps.store)).map((p) => p.name).join(', ');
    throw invalidRequest([
      { field: 'profile', message: `no profile ${JSON.stringify(request.profile)}; known: ${known}` },
    ]);
  }
  const scopeForCheck: Scope | 'customer' =
    'scope' in request.target ? parseScope(request.target.scope) : 'customer';
  const { exports, problems } = exportsForScope(profile, scopeForCheck);
  if (problems.length > 0) throw invalidRequest(problems);
  if (exports.length === 0) {
    throw invalidRequest([
      { field: 'profile', message: `profile ${profile.name} has no export this scope offers` },
    ]);
  }
  if ('storageAccount' in request.destination) {
    const token = await deps.tokens.current(request.destination.storageAccount);
    if (!token) {
      throw new FleetRequestError(
        422,
        'NoRegisteredToken',
        `no active SAS token is registered for ${request.destination.storageAccount}`,
        [{ field: 'destination.storageAccount', message: 'register a token first: POST /api/tokens' }],
      );
    }
  }
  const id = request.id ?? assignmentIdFor(request);
  const existing = await deps.store.get<Assignment>(ASSIGNMENT_PK, id);
  const assignment: Assignment = {
    id,
    target: request.target,
    profile: profile.name,
    destination: request.destination,
    rootFolderTemplate: request.rootFolderTemplate,
    createdAt: existing?.createdAt ?? deps.now().toISOString(),
  };
  await deps.store.put(ASSIGNMENT_PK, id, assignment);
  return { assignment, created: existing === undefined };
}

export async function getAssignment(store: FleetStoreApi, id: string): Promise<Assignment> {
  const found = isAssignmentId(id) ? await store.get<Assignment>(ASSIGNMENT_PK, id) : undefined;
  if (!found) throw new FleetRequestError(404, 'AssignmentNotFound', `no assignment ${JSON.stringify(id)}`);
  return found;
}

/** Stops reconciling it. Owned exports stay unless `deleteExports` asks for their removal. */
export async function removeAssignment(
  deps: Pick<FleetDeps, 'store' | 'costExports'>,
  id: string,
  options: { deleteExports?: boolean } = {},
): Promise<{ removed: true; deletedExports: string[]; failed: string[] }> {
  const assignment = await getAssignment(deps.store, id);
  const outcome = { deleted: [] as string[], failed: [] as string[] };
  if (options.deleteExports) await deleteOwnedExports(deps, id, outcome);
  await deps.store.remove(ASSIGNMENT_PK, assignment.id);
  await deps.store.remove(SUMMARY_PK, assignment.id);
  return { removed: true, deletedExports: outcome.deleted, failed: outcome.failed };
}

/** Deletes every export the assignment created or keeps, scope by scope; one already gone is no failure. */
async function deleteOwnedExports(
  deps: Pick<FleetDeps, 'store' | 'costExports'>,
  id: string,
  outcome: { deleted: string[]; failed: string[] },
): Promise<void> {
  for (const member of await deps.store.list<MemberRecord>(memberPartition(id))) {
    const outcomes = await deps.store.list<ExportOutcomeRecord>(outcomePartition(member.scope));
    for (const o of outcomes.filter(
      (x) => x.assignmentId === id && ['created', 'updated', 'unchanged'].includes(x.outcome),
    )) {
      try {
        await deps.costExports.delete(member.scope, o.exportName);
        outcome.deleted.push(`${member.scope}/${o.exportName}`);
      } catch (error) {
        if (isCostManagementError(error) && error.status === 404) continue;
        outcome.failed.push(`${member.scope}/${o.exportName}: ${describeFailure(error)}`);
      }
    }
  }
}
