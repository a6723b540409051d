// Backfill use cases around the orchestration: its input (validated request, checked token, timing
// from settings), the ids of its month sub-orchestrations, and the clean-up after a cancellation.
// Parsing the request is services/backfillRequest.ts, the token check services/backfillToken.ts,
// the per-month activities services/backfillActivities.ts.
import type { AppConfig } from '../config';
import { DEFAULT_BACKFILL_PREFIX } from '../domain/backfillPlan';
import {
  type BackfillDestination,
  type BackfillInput,
  type BackfillTiming,
  monthInstanceId,
} from '../domain/contracts';
import { type BackfillDeps, deleteExportIfPresent, toCallResult } from './backfillActivities';
import type { ParsedBackfill } from './backfillRequest';

// ------------------------------------------------------------------------- the orchestration input

/** Orchestration timing from settings. */
export function backfillTiming(settings: AppConfig['backfill']): BackfillTiming {
  const poll = settings.pollIntervalMinutes * 60_000;
  return {
    maxAttempts: settings.maxAttempts,
    pollIntervalMs: poll,
    maxPollIntervalMs: Math.max(poll, Math.min(poll * 8, 120 * 60_000)),
    landingTimeoutMs: settings.landingTimeoutMinutes * 60_000,
    retryBaseMs: 60_000,
    retryMaxMs: 30 * 60_000,
    maxThrottleWaits: 100,
  };
}

export function buildBackfillInput(
  parsed: ParsedBackfill,
  destination: BackfillDestination,
  timing: BackfillTiming,
  run = 1,
): BackfillInput {
  const r = parsed.request;
  return {
    backfillId: parsed.instanceId,
    run,
    scope: r.scope.canonical,
    datasets: r.datasets,
    windows: parsed.windows,
    destination,
    format: r.format,
    compression: r.compression,
    ...(r.dataVersion !== undefined ? { dataVersion: r.dataVersion } : {}),
    concurrency: r.concurrency,
    keepExports: r.keepExports,
    exportNamePrefix: DEFAULT_BACKFILL_PREFIX,
    timing,
  };
}

/** The sub-orchestration ids a backfill run uses (for DELETE, which terminates them too). */
export function monthInstanceIds(
  input: Pick<BackfillInput, 'backfillId' | 'run' | 'datasets' | 'windows'>,
): string[] {
  return input.windows.flatMap((w) =>
    input.datasets.map((d) => monthInstanceId(input.backfillId, input.run, d, w.month)),
  );
}

// ------------------------------------------------------------------------------------ cancellation

export interface CleanupSummary {
  deleted: string[];
  failed: { exportName: string; error: string }[];
}

/** After DELETE terminated the orchestration: removes the exports of months still in flight and
 * marks them cancelled. Finished months already cleaned up after themselves. */
export async function cleanupBackfill(deps: BackfillDeps, backfillId: string): Promise<CleanupSummary> {
  const now = deps.now ?? (() => new Date());
  const summary: CleanupSummary = { deleted: [], failed: [] };
  for await (const run of deps.catalog.listBackfillRuns(backfillId)) {
    if (run.status !== 'pending' && run.status !== 'submitted') continue;
    try {
      await deleteExportIfPresent(deps.costExports, run.scope, run.exportName);
      await deps.catalog.upsertBackfillRun({
        backfillId: run.backfillId,
        dataset: run.dataset,
        month: run.month,
        exportName: run.exportName,
        scope: run.scope,
        instanceId: run.instanceId,
        status: 'cancelled',
        ...(run.runId !== undefined ? { runId: run.runId } : {}),
        ...(run.attempts !== undefined ? { attempts: run.attempts } : {}),
        ...(run.destination ? { destination: run.destination } : {}),
        updatedAt: now().toISOString(),
      });
      summary.deleted.push(run.exportName);
    } catch (error) {
      const result = toCallResult(error);
      summary.failed.push({
        exportName: run.exportName,
        error:
          result.kind === 'throttled'
            ? 'throttled; delete it later'
            : result.kind === 'error'
              ? result.message
              : '',
      });
    }
  }
  return summary;
}
