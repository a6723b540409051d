// Plan (desired × actual per export, no PUT) and reconcile (the same plan applied: create or repair
// owned exports, never touch others), one scope at a time with exactly one List call per scope and
// one PUT per export that needs it. Every outcome is recorded per export (fleet table) for status
// and for the next round.
import { AuthorizationError, ThrottledError } from '../azure/armErrors';
import type { Export } from '../azure/exportModels';
import type { ExportOutcomeRecord } from '../azure/fleetStore';
import { type ExportPlan, planExport } from '../domain/exportDrift';
import {
  type DesiredExport,
  desiredExport,
  type ExportProfile,
  exportsForScope,
} from '../domain/exportProfile';
import type { Assignment } from '../domain/fleetAssignment';
import type { ExportResult } from '../domain/fleetOutcomes';
import { parseScope, type Scope } from '../domain/scope';
import type { CurrentToken, FleetDeps } from './fleetDeps';
import { putBody } from './fleetExportBody';
import { findProfile } from './fleetProfiles';
import { registerFleetExports } from './fleetRegistry';
import { departedMembers, markMembers, outcomePartition } from './fleetRows';
import { describeFailure, failedScope, recordScope, type ScopeResult } from './fleetScopeResults';

export interface ReconcileOptions {
  /** false: plan only (no PUT, nothing recorded). */
  apply: boolean;
}

export interface TargetsPage {
  scopes: string[];
  /** The customer list's next page, when there is one. */
  nextLink?: string;
}

/** One page of the scopes an assignment covers: its scope, or a page of the account's customers. */
export async function targetsPage(
  deps: Pick<FleetDeps, 'customers'>,
  assignment: Assignment,
  nextLink?: string,
): Promise<TargetsPage> {
  if ('scope' in assignment.target) return { scopes: [assignment.target.scope] };
  const page = await deps.customers.listPage(assignment.target.billingAccountId, nextLink);
  return {
    scopes: page.customers.map((c) => c.scope),
    ...(page.nextLink ? { nextLink: page.nextLink } : {}),
  };
}

/** One scope's pass over its desired exports; `stop` is set once a PUT is throttled or refused. */
interface ScopePass {
  deps: FleetDeps;
  scope: Scope;
  base: { assignmentId: string; scope: string };
  calls: ScopeResult['calls'];
  token: CurrentToken | undefined;
  now: Date;
  apply: boolean;
  stop?: ScopeResult;
  /** The desired exports live at the scope as Cost Management last answered (the PUT's answer, or
   * the listed export), by name: what the exports table registers. */
  live: Map<string, Export>;
}

/** Plans (and with `apply`, reconciles) one scope: one List call, then one PUT per export to
 * create or repair. A 429 stops the scope and reports its wait; 401/403 reports the role to grant;
 * neither throws, so a round goes on with the other scopes. */
export async function reconcileScope(
  deps: FleetDeps,
  assignment: Assignment,
  scopeText: string,
  options: ReconcileOptions,
): Promise<ScopeResult> {
  const calls = { list: 0, put: 0 };
  let scope: Scope;
  try {
    scope = parseScope(scopeText);
  } catch (error) {
    const failure = { status: 'failed' as const, exports: [], calls, error: describeFailure(error) };
    return { assignmentId: assignment.id, scope: scopeText, ...failure };
  }
  const base = { assignmentId: assignment.id, scope: scope.canonical };
  const profile = await findProfile(deps.store, assignment.profile);
  if (!profile) {
    return {
      ...base,
      status: 'failed',
      exports: [],
      calls,
      error: `profile ${assignment.profile} no longer exists`,
    };
  }
  const desired = desiredExports(profile, assignment, scope);
  const token =
    'storageAccount' in assignment.destination
      ? await deps.tokens.current(assignment.destination.storageAccount)
      : undefined;

  let listed: Export[];
  try {
    calls.list++;
    listed = await deps.costExports.list(scope);
  } catch (error) {
    const result = failedScope(base, error, scope, calls);
    if (!options.apply) return result;
    const pending = desired.map((d) => ({ exportName: d.name, outcome: 'pending' as const }));
    return { ...result, recorded: await recordScope(deps, scope, assignment, pending, result) };
  }
  const previous = await deps.store.list<ExportOutcomeRecord>(outcomePartition(scope));
  const pass: ScopePass = {
    deps,
    scope,
    base,
    calls,
    token,
    now: deps.now(),
    apply: options.apply,
    live: new Map(),
  };
  const results = await planEach(pass, desired, listed, previous);
  const result: ScopeResult = pass.stop
    ? { ...pass.stop, exports: results, calls }
    : { ...base, status: 'ok', exports: results, calls };
  if (!options.apply) return result;
  // Registered so that their landings are checked against the exports table (landingOwners.ts).
  await registerFleetExports(deps.registry, scope, [...pass.live.values()], pass.now);
  return {
    ...result,
    recorded: await recordScope(deps, scope, assignment, results, result, token?.fingerprint, previous),
  };
}

/** The exports the profile wants at this scope, named and placed for the assignment. */
function desiredExports(profile: ExportProfile, assignment: Assignment, scope: Scope): DesiredExport[] {
  return exportsForScope(profile, scope).exports.map((e) =>
    desiredExport(profile, e, {
      scope,
      assignmentId: assignment.id,
      destination: assignment.destination,
      rootFolderTemplate: assignment.rootFolderTemplate,
    }),
  );
}

/** Each desired export against the listed one (matched by name, any case), one after another. */
async function planEach(
  pass: ScopePass,
  desired: DesiredExport[],
  listed: Export[],
  previous: ExportOutcomeRecord[],
): Promise<ExportResult[]> {
  const byName = new Map(listed.map((e) => [(e.name ?? '').toLowerCase(), e]));
  const carried = new Map(previous.map((o) => [o.exportName, o.tokenFingerprint]));
  const results: ExportResult[] = [];
  for (const d of desired) {
    results.push(await planOne(pass, d, byName.get(d.name.toLowerCase()), carried.get(d.name)));
  }
  return results;
}

/** One export's plan, applied when the pass applies and has not stopped; after a stop, a create or
 * update is pending. */
async function planOne(
  pass: ScopePass,
  d: DesiredExport,
  actual: Export | undefined,
  carriedFingerprint: string | undefined,
): Promise<ExportResult> {
  const plan = planExport(d, actual, {
    now: pass.now,
    ...(pass.token ? { currentTokenFingerprint: pass.token.fingerprint } : {}),
    ...(carriedFingerprint ? { carriedTokenFingerprint: carriedFingerprint } : {}),
  });
  if (actual && plan.outcome !== 'not-owned')
    pass.live.set(d.name, { ...actual, name: actual.name ?? d.name });
  const shown: ExportResult = {
    exportName: plan.exportName,
    outcome: plan.outcome,
    ...(plan.fields ? { fields: plan.fields } : {}),
    ...(plan.reason ? { reason: plan.reason } : {}),
  };
  const writes = plan.outcome === 'create' || plan.outcome === 'update';
  if (!pass.apply || pass.stop || !writes) {
    return pass.stop && writes ? { ...shown, outcome: 'pending' } : shown;
  }
  return applyPlan(pass, d, actual, shown, plan.outcome);
}

/** One PUT. A throttled or refused PUT stops the pass (this export pending); any other failure is
 * this export's alone. */
async function applyPlan(
  pass: ScopePass,
  d: DesiredExport,
  actual: Export | undefined,
  shown: ExportResult,
  outcome: ExportPlan['outcome'],
): Promise<ExportResult> {
  try {
    const body = await putBody(d, actual, pass.token, pass.now);
    pass.calls.put++;
    const put = await pass.deps.costExports.createOrUpdate(pass.scope, d.name, body);
    pass.live.set(d.name, { ...put.export, name: put.export.name ?? d.name });
    return { ...shown, outcome: outcome === 'create' ? 'created' : 'updated' };
  } catch (error) {
    if (error instanceof ThrottledError || error instanceof AuthorizationError) {
      pass.stop = failedScope(pass.base, error, pass.scope, pass.calls);
      return { ...shown, outcome: 'pending' };
    }
    return { ...shown, outcome: 'failed', error: describeFailure(error) };
  }
}

/** Plans or reconciles every scope of an assignment inline, up to `maxScopes` (larger fleets go
 * through the durable round). */
export async function reconcileAssignmentInline(
  deps: FleetDeps,
  assignment: Assignment,
  options: ReconcileOptions & { maxScopes?: number; concurrency?: number; tick?: string },
): Promise<{ scopes: ScopeResult[]; truncated: boolean; departed: string[] }> {
  const max = options.maxScopes ?? 200;
  const tick = options.tick ?? deps.now().toISOString();
  const results: ScopeResult[] = [];
  let next: string | undefined;
  let truncated = false;
  do {
    const page = await targetsPage(deps, assignment, next);
    const scopes = page.scopes.slice(0, max - results.length);
    truncated =
      scopes.length < page.scopes.length ||
      (page.nextLink !== undefined && results.length + scopes.length >= max);
    const pageResults: ScopeResult[] = new Array<ScopeResult>(scopes.length);
    let index = 0;
    const worker = async () => {
      while (index < scopes.length) {
        const i = index++;
        pageResults[i] = await reconcileScope(deps, assignment, scopes[i]!, options);
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, scopes.length) }, worker));
    results.push(...pageResults);
    if (options.apply) await markMembers(deps.store, assignment.id, scopes, tick);
    next = truncated ? undefined : page.nextLink;
  } while (next);
  const departed = options.apply && !truncated ? await departedMembers(deps.store, assignment.id, tick) : [];
  return { scopes: results, truncated, departed };
}
