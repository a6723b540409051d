// Onboarding in one call: the assignment (token checked), the round that ensures its exports, and
// one backfill per scope, all behind one status. The same request again is the same onboarding
// (its id comes from the assignment's), and a scope's backfill is started once: its id is kept in
// the onboarding's rows, so a later round (even in another month) starts nothing new.
import { mapWithConcurrency } from '../azure/catalog';
import type { FleetStoreApi } from '../azure/fleetStore';
import type { BackfillOutcome } from '../domain/backfillView';
import { backfillOutcome } from '../domain/backfillView';
import type { BackfillProgress } from '../domain/contracts';
import { type Assignment, FleetRequestError } from '../domain/fleetAssignment';
import { isRecord } from '../domain/json';
import { onboardingBackfill } from '../domain/onboarding';
import { parseScope, scopeKey } from '../domain/scope';
import { getAssignment, putAssignment } from './fleetAssignments';
import type { FleetDeps } from './fleetDeps';
import { findProfile } from './fleetProfiles';
import type { StartBackfill } from './healing';

export const ONBOARDING_PK = 'onboarding';
const backfillPartition = (onboardingId: string) => `onboardingBackfill|${onboardingId}`;
export const DEFAULT_BACKFILL_MONTHS = 12;
const MAX_BACKFILL_MONTHS = 36;

/** How the destination's credentials were checked when the onboarding began. */
export type TokenCheck =
  | { kind: 'sasToken'; storageAccount: string; fingerprint: string }
  | { kind: 'managedIdentity'; resourceId: string };

export interface OnboardingRecord {
  id: string;
  assignmentId: string;
  backfillMonths: number;
  tokenCheck: TokenCheck;
  createdAt: string;
}

/** One scope's backfill as the onboarding started (or found) it. */
export interface OnboardingBackfillRow {
  scope: string;
  state: 'started' | 'existing' | 'refused' | 'nothingToBackfill';
  backfillId?: string;
  errors?: { field: string; message: string }[];
  at: string;
}

export function onboardingId(assignmentId: string): string {
  return `fleet-onboard-${assignmentId}`;
}

/** The assignment (validated, token checked) and the onboarding record: created once, the same
 * request again finds it (and its first backfillMonths). */
export async function beginOnboarding(
  deps: Pick<FleetDeps, 'store' | 'tokens' | 'now'>,
  body: unknown,
): Promise<{ onboarding: OnboardingRecord; assignment: Assignment; created: boolean }> {
  if (!isRecord(body)) {
    throw new FleetRequestError(400, 'InvalidRequest', 'body: expected a JSON object', [
      { field: 'body', message: 'expected a JSON object' },
    ]);
  }
  const { backfillMonths, ...assignmentBody } = body;
  const months = backfillMonths ?? DEFAULT_BACKFILL_MONTHS;
  const monthsOk = typeof months === 'number' && Number.isInteger(months) && months >= 0;
  if (!monthsOk || months > MAX_BACKFILL_MONTHS) {
    const message = `expected a whole number from 0 to ${MAX_BACKFILL_MONTHS}`;
    throw new FleetRequestError(400, 'InvalidRequest', `backfillMonths: ${message}`, [
      { field: 'backfillMonths', message },
    ]);
  }
  const { assignment } = await putAssignment(deps, assignmentBody);
  const id = onboardingId(assignment.id);
  const existing = await deps.store.get<OnboardingRecord>(ONBOARDING_PK, id);
  if (existing) return { onboarding: existing, assignment, created: false };
  const d = assignment.destination;
  let tokenCheck: TokenCheck;
  if ('storageAccount' in d) {
    // putAssignment refused a SAS destination without a registered token.
    const token = await deps.tokens.current(d.storageAccount);
    tokenCheck = { kind: 'sasToken', storageAccount: d.storageAccount, fingerprint: token!.fingerprint };
  } else tokenCheck = { kind: 'managedIdentity', resourceId: d.resourceId };
  const onboarding: OnboardingRecord = {
    id,
    assignmentId: assignment.id,
    backfillMonths: months,
    tokenCheck,
    createdAt: deps.now().toISOString(),
  };
  await deps.store.put(ONBOARDING_PK, id, onboarding);
  return { onboarding, assignment, created: true };
}

export function getOnboarding(store: FleetStoreApi, id: string): Promise<OnboardingRecord | undefined> {
  return store.get<OnboardingRecord>(ONBOARDING_PK, id);
}

/** Starts the backfills of a batch of scopes (the round calls this a bounded batch at a time). A
 * scope that has a row already is not started again. */
export async function startScopeBackfills(
  deps: Pick<FleetDeps, 'store' | 'now'> & { start: StartBackfill },
  input: { onboardingId: string; assignmentId: string; months: number; scopes: string[] },
): Promise<{
  started: number;
  existing: number;
  refused: number;
  problems: { scope: string; error: string }[];
}> {
  const out = { started: 0, existing: 0, refused: 0, problems: [] as { scope: string; error: string }[] };
  const assignment = await getAssignment(deps.store, input.assignmentId);
  const profile = await findProfile(deps.store, assignment.profile);
  const partition = backfillPartition(input.onboardingId);
  const rows: { rowKey: string; value: OnboardingBackfillRow }[] = [];
  for (const text of input.scopes) {
    const key = scopeKey(text);
    const known = await deps.store.get<OnboardingBackfillRow>(partition, key);
    if (known && known.state !== 'refused') {
      out.existing += 1;
      continue;
    }
    const scope = parseScope(text);
    const at = deps.now().toISOString();
    const plan = profile
      ? onboardingBackfill(profile, { ...assignment, scope, assignmentId: assignment.id }, input.months)
      : { left: [] };
    if (!plan.body) {
      rows.push({ rowKey: key, value: { scope: scope.canonical, state: 'nothingToBackfill', at } });
      continue;
    }
    const result = await deps.start(plan.body, deps.now());
    if (result.kind === 'invalid') {
      out.refused += 1;
      const errors = result.errors.map((e) => ({ field: e.field, message: e.message }));
      out.problems.push({
        scope: scope.canonical,
        error: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      });
      rows.push({ rowKey: key, value: { scope: scope.canonical, state: 'refused', errors, at } });
      continue;
    }
    const state = result.kind === 'started' ? 'started' : 'existing';
    out[state] += 1;
    rows.push({ rowKey: key, value: { scope: scope.canonical, state, backfillId: result.id, at } });
  }
  await deps.store.putMany(partition, rows);
  return out;
}

/** What a backfill's durable status says, as the onboarding view shows it. */
export interface BackfillStatusReader {
  (
    backfillId: string,
  ): Promise<{ runtimeStatus: string; customStatus?: unknown; output?: unknown } | undefined>;
}

export interface OnboardingBackfillView {
  scope: string;
  state: OnboardingBackfillRow['state'];
  backfillId?: string;
  runtimeStatus?: string;
  /** null while it runs (backfillView.ts). */
  outcome?: BackfillOutcome | null;
  progress?: Pick<BackfillProgress, 'total' | 'counts' | 'inFlight'>;
  errors?: OnboardingBackfillRow['errors'];
}

/** Each scope's backfill with its progress or outcome (the first `limit` scopes), and counts. */
export async function onboardingBackfills(
  store: FleetStoreApi,
  id: string,
  statusOf: BackfillStatusReader,
  limit = 200,
): Promise<{
  shown: number;
  truncated: boolean;
  byState: Record<string, number>;
  scopes: OnboardingBackfillView[];
}> {
  const rows = await store.list<OnboardingBackfillRow>(backfillPartition(id), limit + 1);
  const shown = rows.slice(0, limit);
  const byState: Record<string, number> = {};
  const scopes: OnboardingBackfillView[] = [];
  await mapWithConcurrency(shown, 8, async (row, index) => {
    const base = {
      scope: row.scope,
      state: row.state,
      ...(row.backfillId ? { backfillId: row.backfillId } : {}),
      ...(row.errors ? { errors: row.errors } : {}),
    };
    const status = row.backfillId ? await statusOf(row.backfillId) : undefined;
    if (!status) {
      byState[row.state] = (byState[row.state] ?? 0) + 1;
      scopes[index] = base;
      return;
    }
    const outcome = backfillOutcome(status.runtimeStatus, status.output);
    const key = outcome ?? status.runtimeStatus;
    byState[key] = (byState[key] ?? 0) + 1;
    const progress = status.customStatus as Partial<BackfillProgress> | null | undefined;
    scopes[index] = {
      ...base,
      runtimeStatus: status.runtimeStatus,
      outcome,
      ...(progress && typeof progress.total === 'number' && progress.counts
        ? { progress: { total: progress.total, counts: progress.counts, inFlight: progress.inFlight ?? [] } }
        : {}),
    };
  });
  return { shown: scopes.length, truncated: rows.length > limit, byState, scopes };
}
