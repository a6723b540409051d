// What onboarding backfills at a scope: one backfill request (the body POST /api/backfills takes)
// covering the profile's cost exports that share the first one's format, compression and dataset
// version, delivered under the folder the standing exports share. Pure.
import { desiredExport, type DestinationSpec, type ExportProfile, exportsForScope } from './exportProfile';
import type { ExportDataset, Scope } from './scope';

/** Datasets a month-by-month backfill can fill (a price sheet or reservation list has no history). */
const BACKFILL_DATASETS: readonly ExportDataset[] = ['ActualCost', 'AmortizedCost', 'FocusCost', 'Usage'];

export interface OnboardingBackfillPlan {
  /** The POST /api/backfills body, or undefined when the profile has nothing to backfill here. */
  body?: Record<string, unknown>;
  /** Profile exports the backfill leaves out, and why. */
  left: { exportName: string; reason: string }[];
}

export function onboardingBackfill(
  profile: ExportProfile,
  context: { scope: Scope; assignmentId: string; destination: DestinationSpec; rootFolderTemplate: string },
  months: number,
): OnboardingBackfillPlan {
  const desired = exportsForScope(profile, context.scope).exports.map((e) =>
    desiredExport(profile, e, context),
  );
  const left: OnboardingBackfillPlan['left'] = [];
  const first = desired.find((d) => BACKFILL_DATASETS.includes(d.dataset));
  const chosen = desired.filter((d) => {
    if (!BACKFILL_DATASETS.includes(d.dataset)) {
      left.push({ exportName: d.name, reason: `${d.dataset} has no monthly history to backfill` });
      return false;
    }
    if (
      d.format !== first!.format ||
      d.compression !== first!.compression ||
      d.dataVersion !== first!.dataVersion
    ) {
      left.push({
        exportName: d.name,
        reason: `its format differs from ${first!.name}'s (one backfill per scope)`,
      });
      return false;
    }
    return true;
  });
  if (!first || months <= 0) return { left };
  const root = commonFolder(chosen.map((d) => d.destination.rootFolderPath));
  const destination =
    'resourceId' in context.destination
      ? { resourceId: context.destination.resourceId, container: context.destination.container }
      : { storageAccount: context.destination.storageAccount, container: context.destination.container };
  return {
    body: {
      scope: context.scope.canonical,
      datasets: [...new Set(chosen.map((d) => d.dataset))],
      months,
      destination: { ...destination, ...(root ? { rootFolderPath: root } : {}) },
      format: first.format,
      compression: first.compression,
      ...(first.dataVersion ? { dataVersion: first.dataVersion } : {}),
    },
    left,
  };
}

/** The leading folders every path shares (`a/b/actualcost`, `a/b/amortizedcost` → `a/b`). */
export function commonFolder(paths: readonly string[]): string {
  if (paths.length === 0) return '';
  const split = paths.map((p) => p.split('/').filter(Boolean));
  const common: string[] = [];
  for (let i = 0; i < split[0]!.length; i++) {
    const segment = split[0]![i]!;
    if (!split.every((s) => s[i] === segment)) break;
    common.push(segment);
  }
  return common.join('/');
}
