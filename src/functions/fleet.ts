// The export fleet over HTTP (a function key, or an Entra role with AUTH_MODE=entra) and its timer.
// Thin: validation and use cases are in domain/fleetAssignment.ts and services/fleet*.ts, the round
// in workflows/fleetRound.ts.
//   GET/POST  /api/fleet/profiles          DELETE /api/fleet/profiles/{name}
//   GET/POST  /api/fleet/assignments       GET/DELETE /api/fleet/assignments/{id}[?deleteExports=true]
//   POST      /api/fleet/assignments/{id}/plan[?scope=…]   desired × actual, no PUT
//   POST      /api/fleet/reconcile         starts a round (all assignments, or {assignmentId})
//   GET       /api/fleet/rounds/{id}       a round's progress and totals
//   POST      /api/fleet/onboard           assignment + round + one backfill per scope, idempotent
//   GET       /api/fleet/onboardings/{id}  everything about one onboarding (token, exports, backfills)
// Errors: {error:{code,message,fields:[{field,message}]}}.
import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
  type Timer,
} from '@azure/functions';
import * as df from 'durable-functions';

import { isCostManagementError, ThrottledError } from '../azure/armErrors';
import { instanceStatus } from '../azure/durableClient';
import { FleetRequestError } from '../domain/fleetAssignment';
import { handOffFor } from '../domain/fleetHandOff';
import { redactError } from '../domain/redact';
import { appService } from '../services/appServices';
import { getAssignment, putAssignment, removeAssignment } from '../services/fleetAssignments';
import type { FleetRuntime } from '../services/fleetDeps';
import { deleteProfile, findProfile, listProfiles, saveProfile } from '../services/fleetProfiles';
import { reconcileAssignmentInline, reconcileScope, targetsPage } from '../services/fleetReconcile';
import { listAssignments, markMembers, outcomesOf } from '../services/fleetRows';
import { assignmentSummary, finishAssignment, scopeTally } from '../services/fleetSummary';
import {
  beginOnboarding,
  getOnboarding,
  onboardingBackfills,
  type OnboardingRecord,
  startScopeBackfills,
} from '../services/onboarding';
import { logRoundStart, startRoundOnce } from '../services/rounds';
import {
  type AssignmentDoneInput,
  type BackfillsInput,
  type BackfillsOutput,
  FLEET_ASSIGNMENT_DONE_ACTIVITY,
  FLEET_BACKFILLS_ACTIVITY,
  FLEET_ROUND,
  FLEET_SCOPE_ACTIVITY,
  FLEET_TARGETS_ACTIVITY,
  fleetRound,
  type FleetRoundInput,
  type ScopeActivityInput,
  type ScopeSummary,
  type TargetsPageInput,
  type TargetsPageOutput,
} from '../workflows/fleetRound';
import { beginBackfill } from './backfill';
import { type EventSink, logEvent } from './eventLog';
import { HttpError, httpHandler, readJsonBody, routeAuthLevel } from './http';

// ------------------------------------------------------------------------------------- HTTP edge

async function readBody(request: HttpRequest): Promise<unknown> {
  return (await readJsonBody(request, { optional: true })) ?? {};
}

/** The one HTTP edge (functions/http.ts), with the fleet's refusals in its error shape. */
function handler(
  body: (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>,
): (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return httpHandler('fleet', async (request, context) => {
    try {
      return await body(request, context);
    } catch (error) {
      if (error instanceof FleetRequestError) {
        throw new HttpError(error.status, error.code, error.message, error.fields);
      }
      throw error;
    }
  });
}

/** `{origin}/api/fleet/{path}`: the app's own routes, never a durable webhook with its key. */
function appUrl(request: HttpRequest, path: string): string {
  const url = new URL(request.url);
  const base = url.pathname.replace(/\/fleet(\/.*)?$/i, '/fleet');
  return `${url.origin}${base}/${path}`;
}

// --------------------------------------------------------------------------------- profiles

async function profilesHttp(request: HttpRequest): Promise<HttpResponseInit> {
  const rt = await appService('fleet');
  if (request.method === 'GET') return { status: 200, jsonBody: { profiles: await listProfiles(rt.store) } };
  return { status: 201, jsonBody: await saveProfile(rt.store, await readBody(request)) };
}

async function profileHttp(request: HttpRequest): Promise<HttpResponseInit> {
  await deleteProfile((await appService('fleet')).store, request.params.name ?? '');
  return { status: 204 };
}

// ------------------------------------------------------------------------------ assignments

async function assignmentsHttp(request: HttpRequest): Promise<HttpResponseInit> {
  const rt = await appService('fleet');
  if (request.method === 'GET')
    return { status: 200, jsonBody: { assignments: await listAssignments(rt.store) } };
  const { assignment, created } = await putAssignment(rt, await readBody(request));
  return {
    status: created ? 201 : 200,
    headers: { Location: appUrl(request, `assignments/${assignment.id}`) },
    jsonBody: await assignmentView(rt, request, assignment.id),
  };
}

async function assignmentView(
  rt: FleetRuntime,
  request: HttpRequest,
  id: string,
): Promise<Record<string, unknown>> {
  const assignment = await getAssignment(rt.store, id);
  const profile = await findProfile(rt.store, assignment.profile);
  // The summary counts every export (one row); the per-export list stops at 500.
  const [outcomes, summary] = await Promise.all([
    outcomesOf(rt.store, id, 500),
    assignmentSummary(rt.store, id),
  ]);
  const scopes = [...new Set(outcomes.map((o) => o.scope))];
  if ('scope' in assignment.target && !scopes.includes(assignment.target.scope))
    scopes.unshift(assignment.target.scope);
  return {
    ...assignment,
    url: appUrl(request, `assignments/${id}`),
    planUrl: appUrl(request, `assignments/${id}/plan`),
    handOff: profile ? scopes.slice(0, 500).map((s) => handOffFor(profile, assignment, s)) : [],
    summary: summary ?? null,
    outcomes,
  };
}

async function assignmentHttp(request: HttpRequest): Promise<HttpResponseInit> {
  const rt = await appService('fleet');
  const id = request.params.id ?? '';
  if (request.method === 'GET') return { status: 200, jsonBody: await assignmentView(rt, request, id) };
  const deleteExports = request.query.get('deleteExports') === 'true';
  return { status: 200, jsonBody: await removeAssignment(rt, id, { deleteExports }) };
}

async function planHttp(request: HttpRequest): Promise<HttpResponseInit> {
  const rt = await appService('fleet');
  const assignment = await getAssignment(rt.store, request.params.id ?? '');
  const scope = request.query.get('scope');
  if (scope) {
    return {
      status: 200,
      jsonBody: {
        assignmentId: assignment.id,
        scopes: [await reconcileScope(rt, assignment, scope, { apply: false })],
      },
    };
  }
  const plan = await reconcileAssignmentInline(rt, assignment, { apply: false, concurrency: rt.concurrency });
  return { status: 200, jsonBody: { assignmentId: assignment.id, ...plan } };
}

// ----------------------------------------------------------------------------- rounds and onboarding

function roundInput(rt: FleetRuntime, tick: string, assignmentIds: string[]): FleetRoundInput {
  return {
    tick,
    assignmentIds,
    apply: true,
    concurrency: rt.concurrency,
    ...(rt.maxThrottlePauseMs !== undefined ? { maxThrottlePauseMs: rt.maxThrottlePauseMs } : {}),
  };
}

async function roundView(
  request: HttpRequest,
  context: InvocationContext,
  id: string,
  kind: 'rounds' | 'onboardings',
) {
  const status = await instanceStatus(df.getClient(context), id);
  if (!status) return undefined;
  return {
    id,
    statusUrl: appUrl(request, `${kind}/${id}`),
    runtimeStatus: status.runtimeStatus,
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
    progress: status.customStatus ?? null,
    result: status.output ?? null,
  };
}

async function reconcileHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const rt = await appService('fleet');
  const body = await readBody(request);
  const only = (body as { assignmentId?: unknown }).assignmentId;
  const ids =
    typeof only === 'string'
      ? [(await getAssignment(rt.store, only)).id]
      : (await listAssignments(rt.store)).map((a) => a.id);
  const now = rt.now();
  const id = `${FLEET_ROUND}-http-${now.getTime()}`;
  await df
    .getClient(context)
    .startNew(FLEET_ROUND, { instanceId: id, input: roundInput(rt, now.toISOString(), ids) });
  const statusUrl = appUrl(request, `rounds/${id}`);
  return {
    status: 202,
    headers: { Location: statusUrl },
    jsonBody: { id, statusUrl, assignments: ids.length },
  };
}

async function roundHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  const view = /^[\w.-]{1,120}$/.test(id) ? await roundView(request, context, id, 'rounds') : undefined;
  if (!view) throw new FleetRequestError(404, 'RoundNotFound', `no round ${JSON.stringify(id)}`);
  return { status: 200, jsonBody: view };
}

/** Onboarding = the assignment (same request → same id; token checked), the round that ensures
 * its exports and starts one backfill per scope, started once: the same request again returns the
 * same onboarding and starts nothing. */
async function onboardHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const rt = await appService('fleet');
  const { onboarding, assignment } = await beginOnboarding(rt, await readBody(request));
  const id = onboarding.id;
  const client = df.getClient(context);
  const existing = await instanceStatus(client, id);
  if (!existing) {
    const input: FleetRoundInput = {
      ...roundInput(rt, onboarding.createdAt, [assignment.id]),
      backfill: { onboardingId: id, months: onboarding.backfillMonths },
    };
    await client.startNew(FLEET_ROUND, { instanceId: id, input });
    logEvent(context, 'info', 'reconcile.onboarding', {
      instanceId: id,
      assignmentId: assignment.id,
      backfillMonths: onboarding.backfillMonths,
    });
  }
  const statusUrl = appUrl(request, `onboardings/${id}`);
  return {
    status: existing ? 200 : 202,
    headers: { Location: statusUrl },
    jsonBody: {
      id,
      statusUrl,
      started: !existing,
      backfillMonths: onboarding.backfillMonths,
      tokenCheck: onboarding.tokenCheck,
      assignment: await assignmentView(rt, request, assignment.id),
    },
  };
}

/** `{origin}/api/backfills/{id}`: a backfill's own status route. */
function backfillUrl(request: HttpRequest, id: string): string {
  const url = new URL(request.url);
  return `${url.origin}${url.pathname.replace(/\/fleet(\/.*)?$/i, '/backfills')}/${id}`;
}

async function onboardingHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  const rt = await appService('fleet');
  const onboarding: OnboardingRecord | undefined = /^fleet-onboard-[a-z0-9-]{2,63}$/.test(id)
    ? await getOnboarding(rt.store, id)
    : undefined;
  const view = onboarding ? await roundView(request, context, id, 'onboardings') : undefined;
  if (!onboarding || !view) {
    throw new FleetRequestError(404, 'OnboardingNotFound', `no onboarding ${JSON.stringify(id)}`);
  }
  const client = df.getClient(context);
  const backfills = await onboardingBackfills(rt.store, id, (backfillId) =>
    instanceStatus(client, backfillId),
  );
  return {
    status: 200,
    jsonBody: {
      ...view,
      tokenCheck: onboarding.tokenCheck,
      backfillMonths: onboarding.backfillMonths,
      backfills: {
        ...backfills,
        scopes: backfills.scopes.map((b) => ({
          ...b,
          ...(b.backfillId ? { statusUrl: backfillUrl(request, b.backfillId) } : {}),
        })),
      },
      assignment: await assignmentView(rt, request, onboarding.assignmentId),
    },
  };
}

export async function fleetTimer(timer: Timer, context: InvocationContext): Promise<unknown> {
  const rt = await appService('fleet');
  const now = rt.now();
  const ids = (await listAssignments(rt.store)).map((a) => a.id);
  const result = await startRoundOnce(df.getClient(context), {
    orchestrator: FLEET_ROUND,
    now,
    timer,
    input: roundInput(rt, now.toISOString(), ids),
  });
  logRoundStart(context, 'fleetReconcile', result, { assignments: ids.length });
  return result;
}

// ---------------------------------------------------------------------------------- activities

export async function targetsPageActivity(input: TargetsPageInput): Promise<TargetsPageOutput> {
  try {
    const rt = await appService('fleet');
    let assignment;
    try {
      assignment = await getAssignment(rt.store, input.assignmentId);
    } catch {
      return { ok: false, error: 'the assignment was removed', gone: true };
    }
    const page = await targetsPage(rt, assignment, input.nextLink);
    await markMembers(rt.store, assignment.id, page.scopes, input.tick);
    return { ok: true, scopes: page.scopes, ...(page.nextLink ? { nextLink: page.nextLink } : {}) };
  } catch (error) {
    return {
      ok: false,
      error: isCostManagementError(error)
        ? `${error.code} (HTTP ${error.status ?? '?'})`
        : redactError(error).slice(0, 300),
      ...(error instanceof ThrottledError ? { retryAfterMs: error.retryAfterMs } : {}),
    };
  }
}

export async function scopeActivity(input: ScopeActivityInput, context?: EventSink): Promise<ScopeSummary> {
  try {
    const rt = await appService('fleet');
    const assignment = await getAssignment(rt.store, input.assignmentId);
    const r = await reconcileScope(rt, assignment, input.scope, { apply: input.apply });
    const outcomes: Record<string, number> = {};
    for (const e of r.exports) outcomes[e.outcome] = (outcomes[e.outcome] ?? 0) + 1;
    if (context) {
      logEvent(context, r.status === 'ok' ? 'info' : 'warn', 'reconcile.scope', {
        assignmentId: input.assignmentId,
        scope: r.scope,
        status: r.status,
        apply: input.apply,
        outcomes: JSON.stringify(outcomes),
        listCalls: r.calls.list,
        putCalls: r.calls.put,
        retryAfterMs: r.retryAfterMs,
        roleToGrant: r.roleToGrant,
        error: r.error,
      });
    }
    const { recorded, attention } = scopeTally(r);
    return {
      scope: r.scope,
      status: r.status,
      outcomes,
      recorded,
      ...(attention.length > 0 ? { attention } : {}),
      calls: r.calls,
      ...(r.retryAfterMs !== undefined ? { retryAfterMs: r.retryAfterMs } : {}),
      ...(r.roleToGrant ? { roleToGrant: r.roleToGrant } : {}),
      ...(r.error ? { error: r.error } : {}),
    };
  } catch (error) {
    return {
      scope: input.scope,
      status: 'failed',
      outcomes: {},
      calls: { list: 0, put: 0 },
      error: redactError(error).slice(0, 300),
    };
  }
}

export async function assignmentDoneActivity(input: AssignmentDoneInput): Promise<string[]> {
  const rt = await appService('fleet');
  return finishAssignment(rt.store, input, rt.now());
}

/** Starts one onboarding batch's backfills through the backfill start path (POST /api/backfills). */
export async function backfillsActivity(
  input: BackfillsInput,
  context: InvocationContext,
): Promise<BackfillsOutput> {
  const rt = await appService('fleet');
  const config = await appService('config');
  const client = df.getClient(context);
  return startScopeBackfills(
    { store: rt.store, now: () => rt.now(), start: (body, now) => beginBackfill(client, body, now, config) },
    input,
  );
}

// ------------------------------------------------------------------------------- registrations

export const FLEET_TIMER = 'fleetReconcile';

app.timer(FLEET_TIMER, {
  schedule: '%FLEET_RECONCILE_SCHEDULE%',
  extraInputs: [df.input.durableClient()],
  handler: fleetTimer,
});

const routes: [
  string,
  string,
  string[],
  (r: HttpRequest, c: InvocationContext) => Promise<HttpResponseInit>,
][] = [
  ['fleetProfiles', 'fleet/profiles', ['GET', 'POST'], profilesHttp],
  ['fleetProfile', 'fleet/profiles/{name}', ['DELETE'], profileHttp],
  ['fleetAssignments', 'fleet/assignments', ['GET', 'POST'], assignmentsHttp],
  ['fleetAssignment', 'fleet/assignments/{id}', ['GET', 'DELETE'], assignmentHttp],
  ['fleetPlan', 'fleet/assignments/{id}/plan', ['POST'], planHttp],
  ['fleetReconcileNow', 'fleet/reconcile', ['POST'], reconcileHttp],
  ['fleetRound', 'fleet/rounds/{id}', ['GET'], roundHttp],
  ['fleetOnboard', 'fleet/onboard', ['POST'], onboardHttp],
  ['fleetOnboarding', 'fleet/onboardings/{id}', ['GET'], onboardingHttp],
];
for (const [name, route, methods, body] of routes) {
  app.http(name, {
    route,
    methods: methods as ('GET' | 'POST' | 'DELETE')[],
    authLevel: routeAuthLevel(),
    extraInputs: [df.input.durableClient()],
    handler: handler(body),
  });
}

df.app.orchestration(FLEET_ROUND, fleetRound);
df.app.activity(FLEET_TARGETS_ACTIVITY, { handler: targetsPageActivity });
df.app.activity(FLEET_SCOPE_ACTIVITY, { handler: scopeActivity });
df.app.activity(FLEET_ASSIGNMENT_DONE_ACTIVITY, { handler: assignmentDoneActivity });
df.app.activity(FLEET_BACKFILLS_ACTIVITY, {
  extraInputs: [df.input.durableClient()],
  handler: backfillsActivity,
});
