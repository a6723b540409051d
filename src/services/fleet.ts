// The export fleet's use cases: assignments (a profile + destination for one scope or for every
// customer of a partner billing account), plan (desired × actual per export, no PUT) and reconcile
// (the same plan applied: create or repair owned exports, never touch others), one scope at a time
// with exactly one List call per scope and one PUT per export that needs it. Every outcome is
// recorded per export (fleet table) for status and for the next round.
import { createHash } from 'node:crypto';

import { AuthorizationError, isCostManagementError, ThrottledError } from '../azure/armErrors';
import type { BillingCustomersApi } from '../azure/billingCustomers';
import type { Catalog } from '../azure/catalog';
import type { CostExportsApi } from '../azure/costExports';
import { buildExportBody, type Export, ExportBodyError, type ExportPutBody } from '../azure/exportModels';
import type { ExportOutcomeRecord, FleetStoreApi, MemberRecord } from '../azure/fleetStore';
import type { SecretStore } from '../azure/secrets';
import {
  BUILT_IN_PROFILES,
  DEFAULT_ROOT_FOLDER_TEMPLATE,
  type DesiredExport,
  desiredExport,
  type DestinationSpec,
  type ExportPlan,
  type ExportProfile,
  exportsForScope,
  type FieldDrift,
  type FieldProblem,
  parseProfile,
  planExport,
  ProfileInputError,
  rootFolderTemplateProblems,
  scheduleWindow,
} from '../domain/exportProfile';
import { isRecord } from '../domain/json';
import { redactError } from '../domain/redact';
import { billingAgreement, parseScope, type Scope, ScopeError, scopeKey } from '../domain/scope';
import { roleHint } from './scopeAccess';

// ------------------------------------------------------------------------------------------ types

export type AssignmentTarget = { scope: string } | { billingAccountId: string };

export interface Assignment {
  id: string;
  target: AssignmentTarget;
  profile: string;
  destination: DestinationSpec & { storageTenantId?: string };
  rootFolderTemplate: string;
  createdAt: string;
}

export interface CurrentToken {
  fingerprint: string;
  /** The token's value, read from the secret store only when a PUT needs it. */
  value(): Promise<string>;
}

export interface FleetTokens {
  /** The account's active registered token, if any. */
  current(storageAccount: string): Promise<CurrentToken | undefined>;
}

export interface FleetDeps {
  store: FleetStoreApi;
  costExports: Pick<CostExportsApi, 'list' | 'createOrUpdate' | 'delete'>;
  customers: BillingCustomersApi;
  tokens: FleetTokens;
  now(): Date;
}

/** What the fleet's triggers and round activities use (built by appServices.ts). */
export interface FleetRuntime extends FleetDeps {
  concurrency: number;
  maxThrottlePauseMs?: number;
}

/** A request the app refuses: HTTP status, a code, and every offending field. */
export class FleetRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: FieldProblem[] = [],
  ) {
    super(message);
    this.name = 'FleetRequestError';
  }
}

export type ExportResultOutcome = ExportPlan['outcome'] | 'created' | 'updated' | 'failed' | 'pending';

export interface ExportResult {
  exportName: string;
  outcome: ExportResultOutcome;
  fields?: FieldDrift[];
  reason?: string;
  error?: string;
}

export interface ScopeResult {
  assignmentId: string;
  scope: string;
  status: 'ok' | 'throttled' | 'forbidden' | 'failed';
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

// --------------------------------------------------------------------------------------- profiles

const PROFILE_PK = 'profile';
export const ASSIGNMENT_PK = 'assignment';
/** One row per assignment: its counts by outcome as the last round that reached it left them. */
export const SUMMARY_PK = 'summary';

export async function findProfile(store: FleetStoreApi, name: string): Promise<ExportProfile | undefined> {
  return BUILT_IN_PROFILES.find((p) => p.name === name) ?? (await store.get<ExportProfile>(PROFILE_PK, name));
}

export async function listProfiles(store: FleetStoreApi): Promise<ExportProfile[]> {
  return [...BUILT_IN_PROFILES, ...(await store.list<ExportProfile>(PROFILE_PK))];
}

export async function saveProfile(store: FleetStoreApi, body: unknown): Promise<ExportProfile> {
  let profile: ExportProfile;
  try {
    profile = parseProfile(body);
  } catch (error) {
    if (error instanceof ProfileInputError) throw invalid(error.problems);
    throw error;
  }
  await store.put(PROFILE_PK, profile.name, profile);
  return profile;
}

export async function deleteProfile(store: FleetStoreApi, name: string): Promise<void> {
  if (BUILT_IN_PROFILES.some((p) => p.name === name)) {
    throw new FleetRequestError(409, 'BuiltInProfile', `${name} is built in and cannot be deleted`, [
      { field: 'name', message: 'built-in profile' },
    ]);
  }
  const users = (await listAssignments(store)).filter((a) => a.profile === name).map((a) => a.id);
  if (users.length > 0) {
    throw new FleetRequestError(409, 'ProfileInUse', `profile ${name} is used by ${users.join(', ')}`, [
      { field: 'name', message: `used by assignment(s) ${users.slice(0, 10).join(', ')}` },
    ]);
  }
  if (!(await store.remove(PROFILE_PK, name))) {
    throw new FleetRequestError(404, 'ProfileNotFound', `no profile ${name}`);
  }
}

function invalid(fields: FieldProblem[]): FleetRequestError {
  return new FleetRequestError(
    400,
    'InvalidRequest',
    fields.map((f) => `${f.field}: ${f.message}`).join('; '),
    fields,
  );
}

// ------------------------------------------------------------------------------------ assignments

const ID = /^[a-z0-9][a-z0-9-]{1,62}$/;
const ACCOUNT = /^[a-z0-9]{3,24}$/;
const CONTAINER = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const STORAGE_RESOURCE_ID =
  /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[-\w.()]{1,90}\/providers\/Microsoft\.Storage\/storageAccounts\/([a-z0-9]{3,24})$/i;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AssignmentRequest {
  id?: string;
  target: AssignmentTarget;
  profile: string;
  destination: Assignment['destination'];
  rootFolderTemplate: string;
}

/** The request's shape, every field checked; no I/O. */
export function parseAssignmentRequest(body: unknown): AssignmentRequest {
  if (!isRecord(body)) throw invalid([{ field: 'body', message: 'expected a JSON object' }]);
  const problems: FieldProblem[] = [];
  let target: AssignmentTarget | undefined;
  if ((body.scope === undefined) === (body.billingAccountId === undefined)) {
    problems.push({
      field: 'scope',
      message: 'give either scope or billingAccountId (every customer of it)',
    });
  } else if (body.scope !== undefined) {
    try {
      if (typeof body.scope !== 'string')
        throw new ScopeError('expected a scope path, e.g. /subscriptions/{id}');
      target = { scope: parseScope(body.scope).canonical };
    } catch (error) {
      problems.push({ field: 'scope', message: error instanceof ScopeError ? error.message : 'not a scope' });
    }
  } else {
    try {
      if (typeof body.billingAccountId !== 'string') throw new ScopeError('expected a billing account id');
      const account = parseScope(`/providers/Microsoft.Billing/billingAccounts/${body.billingAccountId}`);
      if (billingAgreement(account) !== 'MCA') {
        problems.push({
          field: 'billingAccountId',
          message: 'only Microsoft Partner Agreement accounts ({guid}:{guid}_{yyyy-mm-dd}) list customers',
        });
      } else target = { billingAccountId: account.billingAccountId! };
    } catch (error) {
      problems.push({
        field: 'billingAccountId',
        message: error instanceof ScopeError ? error.message.replace(/^scope "[^"]*": /, '') : 'not valid',
      });
    }
  }
  if (typeof body.profile !== 'string' || body.profile === '') {
    problems.push({ field: 'profile', message: 'expected a profile name, e.g. flexera-csp or finops-hubs' });
  }
  if (body.id !== undefined && (typeof body.id !== 'string' || !ID.test(body.id))) {
    problems.push({ field: 'id', message: 'expected 2-63 lower-case letters, digits and hyphens' });
  }
  const destination = parseDestination(problems, body.destination);
  const template = body.rootFolderTemplate ?? DEFAULT_ROOT_FOLDER_TEMPLATE;
  problems.push(...rootFolderTemplateProblems(template));
  if (problems.length > 0 || !target || !destination) throw invalid(problems);
  return {
    ...(typeof body.id === 'string' ? { id: body.id } : {}),
    target,
    profile: body.profile as string,
    destination,
    rootFolderTemplate: template as string,
  };
}

function parseDestination(problems: FieldProblem[], value: unknown): Assignment['destination'] | undefined {
  if (!isRecord(value)) {
    problems.push({
      field: 'destination',
      message: 'expected { storageAccount, container } (a registered SAS token) or { resourceId, container }',
    });
    return undefined;
  }
  const before = problems.length;
  if (!(typeof value.container === 'string' && CONTAINER.test(value.container))) {
    problems.push({
      field: 'destination.container',
      message: `expected a container name (3-63 lower-case letters, digits, single hyphens), got ${JSON.stringify(value.container)}`,
    });
  }
  if (
    value.storageTenantId !== undefined &&
    !(typeof value.storageTenantId === 'string' && GUID.test(value.storageTenantId))
  ) {
    problems.push({
      field: 'destination.storageTenantId',
      message: 'expected the storage tenant id (a GUID)',
    });
  }
  if ('sasToken' in value) {
    problems.push({
      field: 'destination.sasToken',
      message:
        'not accepted here: register the token with POST /api/tokens, the fleet uses the account current one',
    });
  }
  const tenant =
    typeof value.storageTenantId === 'string' ? { storageTenantId: value.storageTenantId.toLowerCase() } : {};
  if ((value.storageAccount === undefined) === (value.resourceId === undefined)) {
    problems.push({ field: 'destination', message: 'give either storageAccount or resourceId' });
    return undefined;
  }
  if (value.storageAccount !== undefined) {
    if (!(typeof value.storageAccount === 'string' && ACCOUNT.test(value.storageAccount))) {
      problems.push({
        field: 'destination.storageAccount',
        message: 'expected 3-24 lower-case letters and digits',
      });
    }
    if (problems.length > before) return undefined;
    return {
      storageAccount: value.storageAccount as string,
      container: value.container as string,
      ...tenant,
    };
  }
  if (!(typeof value.resourceId === 'string' && STORAGE_RESOURCE_ID.test(value.resourceId))) {
    problems.push({
      field: 'destination.resourceId',
      message:
        'expected /subscriptions/{guid}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}',
    });
  }
  if (problems.length > before) return undefined;
  return { resourceId: value.resourceId as string, container: value.container as string, ...tenant };
}

/** The same request always gets the same id (profile + target), so creating it twice is one assignment. */
export function assignmentIdFor(request: Pick<AssignmentRequest, 'profile' | 'target'>): string {
  const target =
    'scope' in request.target
      ? scopeKey(request.target.scope)
      : `customers|${request.target.billingAccountId.toLowerCase()}`;
  const hash = createHash('sha256').update(`${request.profile}\n${target}`).digest('hex').slice(0, 10);
  return `${request.profile}-${hash}`.slice(0, 63);
}

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
    throw invalid([
      { field: 'profile', message: `no profile ${JSON.stringify(request.profile)}; known: ${known}` },
    ]);
  }
  const scopeForCheck: Scope | 'customer' =
    'scope' in request.target ? parseScope(request.target.scope) : 'customer';
  const { exports, problems } = exportsForScope(profile, scopeForCheck);
  if (problems.length > 0) throw invalid(problems);
  if (exports.length === 0) {
    throw invalid([{ field: 'profile', message: `profile ${profile.name} has no export this scope offers` }]);
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
  const found = ID.test(id) ? await store.get<Assignment>(ASSIGNMENT_PK, id) : undefined;
  if (!found) throw new FleetRequestError(404, 'AssignmentNotFound', `no assignment ${JSON.stringify(id)}`);
  return found;
}

export function listAssignments(store: FleetStoreApi): Promise<Assignment[]> {
  return store.list<Assignment>(ASSIGNMENT_PK);
}

/** Stops reconciling it. Owned exports stay unless `deleteExports` asks for their removal. */
export async function removeAssignment(
  deps: Pick<FleetDeps, 'store' | 'costExports'>,
  id: string,
  options: { deleteExports?: boolean } = {},
): Promise<{ removed: true; deletedExports: string[]; failed: string[] }> {
  const assignment = await getAssignment(deps.store, id);
  const deleted: string[] = [];
  const failed: string[] = [];
  if (options.deleteExports) {
    for (const member of await deps.store.list<MemberRecord>(`member|${id}`)) {
      const outcomes = await deps.store.list<ExportOutcomeRecord>(`outcome|${scopeKey(member.scope)}`);
      for (const o of outcomes.filter(
        (x) => x.assignmentId === id && ['created', 'updated', 'unchanged'].includes(x.outcome),
      )) {
        try {
          await deps.costExports.delete(member.scope, o.exportName);
          deleted.push(`${member.scope}/${o.exportName}`);
        } catch (error) {
          if (isCostManagementError(error) && error.status === 404) continue;
          failed.push(`${member.scope}/${o.exportName}: ${describe(error)}`);
        }
      }
    }
  }
  await deps.store.remove(ASSIGNMENT_PK, assignment.id);
  await deps.store.remove(SUMMARY_PK, assignment.id);
  return { removed: true, deletedExports: deleted, failed };
}

// ------------------------------------------------------------------------------- targets (scopes)

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

/** Marks scopes as seen by round `tick`, so the end of the round can report departed ones. */
export async function markMembers(
  store: FleetStoreApi,
  assignmentId: string,
  scopes: string[],
  tick: string,
): Promise<void> {
  await store.putMany(
    `member|${assignmentId}`,
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
  return (await store.list<MemberRecord>(`member|${assignmentId}`))
    .filter((m) => m.seenIn !== tick)
    .map((m) => m.scope);
}

// -------------------------------------------------------------------------------- plan/reconcile

export interface ReconcileOptions {
  /** false: plan only (no PUT, nothing recorded). */
  apply: boolean;
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
    return {
      assignmentId: assignment.id,
      scope: scopeText,
      status: 'failed',
      exports: [],
      calls,
      error: describe(error),
    };
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
  const desired = exportsForScope(profile, scope).exports.map((e) =>
    desiredExport(profile, e, {
      scope,
      assignmentId: assignment.id,
      destination: assignment.destination,
      rootFolderTemplate: assignment.rootFolderTemplate,
    }),
  );
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
    return { ...result, recorded: await record(deps, scope, assignment, pending, result) };
  }
  const byName = new Map(listed.map((e) => [(e.name ?? '').toLowerCase(), e]));
  const previous = await deps.store.list<ExportOutcomeRecord>(`outcome|${scopeKey(scope)}`);
  const carried = new Map(previous.map((o) => [o.exportName, o.tokenFingerprint]));
  const now = deps.now();
  const results: ExportResult[] = [];
  let stop: ScopeResult | undefined;
  for (const d of desired) {
    const actual = byName.get(d.name.toLowerCase());
    const plan = planExport(d, actual, {
      now,
      ...(token ? { currentTokenFingerprint: token.fingerprint } : {}),
      ...(carried.get(d.name) ? { carriedTokenFingerprint: carried.get(d.name)! } : {}),
    });
    const shown: ExportResult = {
      exportName: plan.exportName,
      outcome: plan.outcome,
      ...(plan.fields ? { fields: plan.fields } : {}),
      ...(plan.reason ? { reason: plan.reason } : {}),
    };
    if (!options.apply || stop || (plan.outcome !== 'create' && plan.outcome !== 'update')) {
      results.push(
        stop && (plan.outcome === 'create' || plan.outcome === 'update')
          ? { ...shown, outcome: 'pending' }
          : shown,
      );
      continue;
    }
    try {
      const body = await putBody(d, actual, token, now);
      calls.put++;
      await deps.costExports.createOrUpdate(scope, d.name, body);
      results.push({ ...shown, outcome: plan.outcome === 'create' ? 'created' : 'updated' });
    } catch (error) {
      if (error instanceof ThrottledError || error instanceof AuthorizationError) {
        stop = failedScope(base, error, scope, calls);
        results.push({ ...shown, outcome: 'pending' });
      } else {
        results.push({ ...shown, outcome: 'failed', error: describe(error) });
      }
    }
  }
  const result: ScopeResult = stop
    ? { ...stop, exports: results, calls }
    : { ...base, status: 'ok', exports: results, calls };
  if (!options.apply) return result;
  return {
    ...result,
    recorded: await record(deps, scope, assignment, results, result, token?.fingerprint, previous),
  };
}

function failedScope(
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
  return { ...base, status: 'failed', exports: [], calls, error: describe(error) };
}

/** The PUT body for a desired export: eTag and schedule start kept from the export it repairs, the
 * schedule's end extended, the SAS token the account's current one. */
async function putBody(
  d: DesiredExport,
  actual: Export | undefined,
  token: CurrentToken | undefined,
  now: Date,
): Promise<ExportPutBody> {
  const from = actual?.properties.schedule?.recurrencePeriod?.from;
  const window = scheduleWindow(
    now,
    from && Date.parse(from) < Date.parse(scheduleWindow(now).to) ? from : undefined,
  );
  const destination =
    'resourceId' in d.destination
      ? {
          resourceId: d.destination.resourceId,
          container: d.destination.container,
          rootFolderPath: d.destination.rootFolderPath,
        }
      : {
          storageAccount: d.destination.storageAccount,
          container: d.destination.container,
          rootFolderPath: d.destination.rootFolderPath,
          sasToken: await requireToken(token),
        };
  try {
    return buildExportBody({
      dataset: d.dataset,
      timeframe: d.timeframe,
      destination,
      format: d.format,
      compression: d.compression,
      ...(d.granularity ? { granularity: d.granularity } : {}),
      ...(d.dataVersion ? { dataVersion: d.dataVersion } : {}),
      partitionData: d.partitionData,
      dataOverwriteBehavior: d.overwrite,
      description: d.description,
      schedule: { status: 'Active', recurrence: d.recurrence, recurrencePeriod: window },
      ...(actual?.eTag ? { eTag: actual.eTag } : {}),
    });
  } catch (error) {
    if (error instanceof ExportBodyError)
      throw new Error(`export body refused: ${error.problems.map((p) => p.field).join(', ')}`);
    throw error;
  }
}

async function requireToken(token: CurrentToken | undefined): Promise<string> {
  if (!token) throw new Error('no active SAS token is registered for the destination account');
  return token.value();
}

async function record(
  deps: FleetDeps,
  scope: Scope,
  assignment: Assignment,
  results: ExportResult[],
  scopeResult: ScopeResult,
  fingerprint?: string,
  read?: ExportOutcomeRecord[],
): Promise<ExportOutcomeRecord[]> {
  const at = deps.now().toISOString();
  const rows = read ?? (await deps.store.list<ExportOutcomeRecord>(`outcome|${scopeKey(scope)}`));
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
  await deps.store.putMany(`outcome|${scopeKey(scope)}`, written);
  return written.map((w) => w.value);
}

/** The outcome an export's row records: a PUT that never went out (pending) takes the scope's
 * reason (forbidden, throttled, failed); a planned create/update that was not applied failed. */
export function recordedOutcome(
  outcome: ExportResultOutcome,
  scopeStatus: ScopeResult['status'],
): ExportOutcomeRecord['outcome'] {
  if (outcome === 'pending') {
    return scopeStatus === 'forbidden' ? 'forbidden' : scopeStatus === 'throttled' ? 'throttled' : 'failed';
  }
  return outcome === 'create' || outcome === 'update' ? 'failed' : outcome;
}

function describe(error: unknown): string {
  if (isCostManagementError(error))
    return `${error.code}${error.status === undefined ? '' : ` (HTTP ${error.status})`}`;
  return redactError(error)
    .replace(/^Error: /, '')
    .slice(0, 300);
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

// ----------------------------------------------------------------------------------- hand-off URLs

export interface HandOff {
  scope: string;
  storageAccount: string;
  container: string;
  storageTenantId?: string;
  /** Flexera CSP bill connect: one URL per export, `https://{account}.blob.core.windows.net/{container}/{directory}/{export}`. */
  exportUrls: Record<string, string>;
  /** FinOps hubs: the folder its ingestion reads (container + root folder). */
  finopsHubsFolders: string[];
}

/** The URLs a consumer needs for a scope, so nobody assembles them by hand. */
export function handOffFor(profile: ExportProfile, assignment: Assignment, scopeText: string): HandOff {
  const scope = parseScope(scopeText);
  const d = assignment.destination;
  const account =
    'storageAccount' in d ? d.storageAccount : STORAGE_RESOURCE_ID.exec(d.resourceId)![1]!.toLowerCase();
  const exportUrls: Record<string, string> = {};
  const folders = new Set<string>();
  for (const e of exportsForScope(profile, scope).exports) {
    const desired = desiredExport(profile, e, {
      scope,
      assignmentId: assignment.id,
      destination: d,
      rootFolderTemplate: assignment.rootFolderTemplate,
    });
    const path = [d.container, desired.destination.rootFolderPath, desired.name]
      .filter(Boolean)
      .map(encodePath)
      .join('/');
    exportUrls[e.key] = `https://${account}.blob.core.windows.net/${path}`;
    folders.add([d.container, desired.destination.rootFolderPath].filter(Boolean).join('/'));
  }
  return {
    scope: scope.canonical,
    storageAccount: account,
    container: d.container,
    ...(d.storageTenantId ? { storageTenantId: d.storageTenantId } : {}),
    exportUrls,
    finopsHubsFolders: [...folders],
  };
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** Every export outcome the fleet recorded for the scopes an assignment reached (status, views). */
export async function outcomesOf(
  store: FleetStoreApi,
  assignmentId: string,
  limit = 500,
): Promise<ExportOutcomeRecord[]> {
  const out: ExportOutcomeRecord[] = [];
  for (const member of await store.list<MemberRecord>(`member|${assignmentId}`, limit)) {
    out.push(
      ...(await store.list<ExportOutcomeRecord>(`outcome|${scopeKey(member.scope)}`)).filter(
        (o) => o.assignmentId === assignmentId,
      ),
    );
    if (out.length >= limit) break;
  }
  return out.slice(0, limit);
}

// ----------------------------------------------------------------------------------------- tokens

/** The account's current token from the token registry (metadata) and the secret store (value). */
export function registeredTokens(
  catalog: Pick<Catalog, 'listTokens'>,
  secrets: Pick<SecretStore, 'get'>,
): FleetTokens {
  return {
    async current(storageAccount) {
      let newest:
        { fingerprint: string; secretName: string; secretVersion?: string; expiresOn: string } | undefined;
      for await (const t of catalog.listTokens(storageAccount)) {
        if (t.status !== 'active') continue;
        if (!newest || t.expiresOn > newest.expiresOn) newest = t;
      }
      if (!newest) return undefined;
      const { fingerprint, secretName, secretVersion } = newest;
      return {
        fingerprint,
        value: async () => {
          const value = await secrets.get(secretName, secretVersion);
          if (!value) throw new Error(`the secret of token ${fingerprint} is missing from the secret store`);
          return value;
        },
      };
    },
  };
}
