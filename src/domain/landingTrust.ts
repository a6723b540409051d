// What a landed manifest may be trusted with. Anyone who can write to the exports container can
// write a manifest.json, so its claims are checked against what only Cost Management or the app
// know: the run against the export's run history before it completes a backfill month, and the
// manifest's names against the folder it was written in. Pure.
import type { LandingVerdict } from './contracts';
import { pathFacts } from './landingPlan';
import { runFolderOf } from './manifest';
import { redactSecrets } from './redact';

/** A run as the export's run history lists it. */
export interface HistoryRun {
  runId?: string;
  status?: string;
}

export interface RunJudgement {
  verdict: LandingVerdict;
  reason?: string;
}

const FAILED = new Set(['failed', 'timeout', 'datanotavailable', 'newdatanotavailable']);

/**
 * Whether a landed run may complete the backfill month of the export whose history this is. The
 * caller has already set aside runs the export had before the month submitted its own (stale) and
 * runs of its failed attempts. A manifest is written last by a running run, so a run still Queued
 * cannot have landed yet (pending), and a run the history does not list is no run of this export.
 */
export function judgeLandedRun(history: readonly HistoryRun[], runId: string): RunJudgement {
  const wanted = runId.toLowerCase();
  const run = history.find((r) => r.runId?.toLowerCase() === wanted);
  if (!run) {
    return {
      verdict: 'refused',
      reason: `run ${runId} is not in the export's run history: no run this app submitted`,
    };
  }
  const status = (run.status ?? '').toLowerCase();
  if (status === 'queued') {
    return { verdict: 'pending', reason: `run ${runId} is still Queued in the run history` };
  }
  if (FAILED.has(status)) {
    return { verdict: 'refused', reason: `run ${runId} ended ${run.status} in the run history` };
  }
  return { verdict: 'confirmed' };
}

// ------------------------------------------------------------------------------- where it was written

/** Why a manifest's claims do not fit the folder it was written in. */
export type PlacementKind = 'blobOutsideRunFolder' | 'exportNameMismatch' | 'runIdMismatch';

export interface PlacementProblem {
  kind: PlacementKind;
  reason: string;
}

/** What a manifest claims about itself, as far as its folder can confirm it. */
export interface ManifestClaims {
  exportName: string;
  runId: string;
  /** A legacy manifest takes its export and run from the path: nothing to compare. */
  legacy: boolean;
  blobs: readonly { blobName: string }[];
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Checks a manifest against the blob path it was written to. Azure writes a run's manifest and its
 * files in one run folder, `{root}/{export}/{yyyyMMdd-yyyyMMdd}/{yyyyMMddHHmm}/{runId}/`, naming the
 * export and run as `exportConfig.exportName` and `runInfo.runId` do (research/real-exports.md; the
 * 2023-07-01-preview manifest in microsoft/finops-toolkit#527 has the same layout). So: every blob
 * it lists is inside its own folder (no `.`/`..` or empty segments), and where the path has Azure's
 * layout, its export folder and GUID run folder name the export and run the manifest claims. A
 * hand-made manifest in some other folder layout is held only to the first rule.
 */
export function placementProblem(manifestPath: string, claims: ManifestClaims): PlacementProblem | undefined {
  const folder = runFolderOf(manifestPath);
  const prefix = folder === '' ? '' : `${folder}/`;
  for (const { blobName } of claims.blobs) {
    const rest = blobName.startsWith(prefix) ? blobName.slice(prefix.length) : undefined;
    if (rest === undefined || rest.split('/').some((s) => s === '' || s === '.' || s === '..')) {
      return {
        kind: 'blobOutsideRunFolder',
        reason: `blob ${short(blobName)} is not inside the manifest's own run folder ${short(prefix || '(container root)')}`,
      };
    }
  }
  if (claims.legacy) return undefined;
  const facts = pathFacts(manifestPath);
  if (facts.exportName !== undefined && facts.exportName.toLowerCase() !== claims.exportName.toLowerCase()) {
    return {
      kind: 'exportNameMismatch',
      reason: `exportConfig.exportName ${short(claims.exportName)} was written under export folder ${short(facts.exportName)}`,
    };
  }
  const runFolder = facts.runFolder ?? '';
  if (
    facts.period !== undefined &&
    GUID.test(runFolder) &&
    GUID.test(claims.runId) &&
    runFolder.toLowerCase() !== claims.runId.toLowerCase()
  ) {
    return {
      kind: 'runIdMismatch',
      reason: `runInfo.runId ${claims.runId} was written in run folder ${runFolder}`,
    };
  }
  return undefined;
}

function short(text: string): string {
  const safe = redactSecrets(text);
  return JSON.stringify(safe.length > 120 ? `${safe.slice(0, 120)}…` : safe);
}
