// Out-of-band runs: find the exports whose policy makes them due (one table page at a time), run one
// (claimed first with an ETag-guarded write, so two overlapping rounds never run the same export
// twice), and set an export's policy. The decision itself is domain/outOfBandPolicy.ts; the fan-out
// is the outOfBandRound orchestration, which calls these through activities.
import { isCostManagementError, ThrottledError } from '../azure/armErrors';
import {
  type Catalog,
  CatalogConflictError,
  type ExportRecord,
  exportsWithOutOfBandPolicy,
} from '../azure/catalog';
import type { CostExportsApi } from '../azure/costExports';
import {
  outOfBandDecision,
  type OutOfBandOptions,
  type OutOfBandOutcome,
  type OutOfBandPolicy,
  type OutOfBandSkipReason,
} from '../domain/outOfBandPolicy';
import { redactError } from '../domain/redact';

export type OutOfBandCatalog = Pick<
  Catalog,
  'page' | 'getExport' | 'modifyExport' | 'recordOutOfBandAttempt'
>;

/** What the out-of-band timer and its activities use. */
export interface OutOfBandRuntime {
  catalog: OutOfBandCatalog;
  costExports: Pick<CostExportsApi, 'run'>;
  /** Parallel runs per round (OUT_OF_BAND_CONCURRENCY). */
  concurrency: number;
  /** Exports read per page (and per orchestration generation). Default 200. */
  pageSize?: number;
  now(): Date;
}

export interface DueExport {
  scope: string;
  exportName: string;
}

export type SkipCounts = Partial<Record<OutOfBandSkipReason | 'conflict', number>>;

export interface DuePage {
  due: DueExport[];
  /** Rows read on this page (only exports with a policy are read). */
  scanned: number;
  skipped: SkipCounts;
  /** Absent on the last page. */
  continuationToken?: string;
}

/** One page of exports with a policy, and which of them are due at `now`. */
export async function findDueExports(
  catalog: Pick<Catalog, 'page'>,
  options: { now: Date; continuationToken?: string; pageSize?: number; policy?: OutOfBandOptions },
): Promise<DuePage> {
  const page = await catalog.page(exportsWithOutOfBandPolicy(), {
    maxPageSize: options.pageSize ?? 200,
    ...(options.continuationToken ? { continuationToken: options.continuationToken } : {}),
  });
  const due: DueExport[] = [];
  const skipped: SkipCounts = {};
  for (const record of page.items) {
    const decision = outOfBandDecision(record, options.now, options.policy);
    if (decision.due) due.push({ scope: record.scope, exportName: record.exportName });
    else skipped[decision.reason] = (skipped[decision.reason] ?? 0) + 1;
  }
  return {
    due,
    scanned: page.items.length,
    skipped,
    ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
  };
}

export interface RunResult extends DueExport {
  outcome: OutOfBandOutcome;
  /** Why it was skipped (not due any more, missing, another round claimed it). */
  reason?: OutOfBandSkipReason | 'conflict' | 'notRegistered';
  /** Throttled: the wait Cost Management asked for. */
  retryAfterMs?: number;
  /** Failed: the service's answer, redacted. */
  error?: string;
}

/**
 * Runs one export out of band if it is still due: claims it (lastOutOfBand = submitted, guarded by
 * the row's ETag, after deciding again on the fresh row), then POSTs run. A 429 turns the claim into
 * `throttled` (due again at the next tick); any other refusal into `failed` (waits the interval).
 */
export async function runOutOfBandExport(
  catalog: Pick<OutOfBandCatalog, 'modifyExport' | 'recordOutOfBandAttempt'>,
  costExports: Pick<CostExportsApi, 'run'>,
  target: DueExport & { now: Date; policy?: OutOfBandOptions },
): Promise<RunResult> {
  const { scope, exportName, now } = target;
  const at = now.toISOString();
  let skip: OutOfBandSkipReason | undefined;
  let claimed: ExportRecord | undefined;
  try {
    claimed = await catalog.modifyExport(scope, exportName, (current) => {
      const decision = outOfBandDecision(current, now, target.policy);
      if (!decision.due) {
        skip = decision.reason;
        return undefined;
      }
      skip = undefined;
      return { ...current, lastOutOfBand: { status: 'submitted', at } };
    });
  } catch (error) {
    if (error instanceof CatalogConflictError)
      return { scope, exportName, outcome: 'skipped', reason: 'conflict' };
    throw error;
  }
  if (!claimed) return { scope, exportName, outcome: 'skipped', reason: 'notRegistered' };
  if (skip) return { scope, exportName, outcome: 'skipped', reason: skip };

  try {
    await costExports.run(scope, exportName);
    return { scope, exportName, outcome: 'submitted' };
  } catch (error) {
    if (!isCostManagementError(error)) throw error;
    const throttled = error instanceof ThrottledError;
    await catalog.recordOutOfBandAttempt(scope, exportName, {
      status: throttled ? 'throttled' : 'failed',
      at,
    });
    return throttled
      ? { scope, exportName, outcome: 'throttled', retryAfterMs: error.retryAfterMs }
      : { scope, exportName, outcome: 'failed', error: redactError(error) };
  }
}

export type SetPolicyResult = { found: true; record: ExportRecord } | { found: false };

/** Sets (or, with undefined, removes) an export's out-of-band policy. */
export async function setOutOfBandPolicy(
  catalog: Pick<OutOfBandCatalog, 'modifyExport'>,
  scope: string,
  exportName: string,
  policy: OutOfBandPolicy | undefined,
  now: Date,
): Promise<SetPolicyResult> {
  const record = await catalog.modifyExport(scope, exportName, (current) => {
    const { outOfBand: _previous, ...rest } = current;
    return { ...rest, ...(policy ? { outOfBand: policy } : {}), updatedAt: now.toISOString() };
  });
  return record ? { found: true, record } : { found: false };
}
