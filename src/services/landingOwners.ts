// The evidence domain/landingOwner.ts judges a landing by, gathered cheapest first: which scope's
// export writes into the folder a manifest was written to. A manifest's `exportConfig.resourceId`
// is only a claim; the app knows (a) the registered exports (exports table: synced from Cost
// Management, or written by the fleet for the exports it creates), (b) the temporary exports
// backfills created (their lookup rows record the destination before the PUT, so the knowledge
// outlives the export), and failing both (c) Cost Management's own answer: one GET of the export at
// the named scope, paced by the shared budget like every other ARM call.
//
// Cost per landing: one point read for a registered export (a backfill export: the lookup row the
// landing reads anyway, handed back for reuse). Only a landing no point read vouches for scans the
// exports and backfill lookups of its export name (to name the scope that does own the folder) and
// then, if no scope does, sends the GET.
import { isCostManagementError } from '../azure/armErrors';
import type { BackfillLookup, Catalog, ExportRecord } from '../azure/catalog';
import type { CostExportsApi } from '../azure/costExports';
import {
  deliveredTo,
  type ExportPlace,
  judgeOwner,
  landingPlace,
  type OwnerEvidence,
  type OwnershipKind,
  type OwnerVerdict,
  sameScope,
  writesTo,
} from '../domain/landingOwner';
import { logEventLine } from '../domain/logEvent';
import type { LandingRecord as ManifestRecord } from '../domain/manifest';
import { redactError } from '../domain/redact';

export type OwnerCatalog = Pick<
  Catalog,
  'getExport' | 'exportsNamed' | 'findBackfillRun' | 'backfillLookupsNamed'
>;

/** What a landed manifest claims and where it was written. */
export interface OwnerClaim {
  /** Canonical scope named by `exportConfig.resourceId`. */
  scope: string;
  exportName: string;
  /** `YYYY-MM` of the run, when it has one: the backfill lookup's key. */
  month?: string;
  manifestPath: string;
  container: string;
  /** `deliveryConfig.rootFolderPath` as written (used only for a path outside Azure's layout). */
  rootFolderPath?: string;
}

export interface OwnerFinding {
  verdict: OwnerVerdict;
  /** The backfill lookup row read for the claimed scope, export and month (undefined: none), when
   * it was read: the landing reuses it instead of reading it again. */
  backfill?: { lookup: BackfillLookup | undefined };
  /** ARM GETs this judgement sent (0 or 1). */
  armCalls: number;
  /** The GET failed: what Cost Management (or the network) said, redacted, for the log. */
  armError?: string;
}

/** The port the landing service asks (built in appServices.ts). */
export interface LandingOwnerLookup {
  judge(claim: OwnerClaim): Promise<OwnerFinding>;
}

export interface LandingOwnersDeps {
  catalog: OwnerCatalog;
  /** One GET of an export (CostExportsApi.get, paced by the shared budget); absent: no fallback, an
   * export neither table knows is unregistered. */
  costExports?: Pick<CostExportsApi, 'get'>;
  /** The exports storage account's name, when its endpoint names it. Undefined for a path-style
   * endpoint (Azurite, which maps every account name to its own): accounts are then not compared. */
  storageAccount?: string;
  /** Whether an export name can be a backfill's (false skips the backfillRuns reads). Default: yes. */
  mayBelongToBackfill?: (exportName: string) => boolean;
}

/** The run's `YYYY-MM`, when the manifest's start date gives one. */
export function billingMonthOf(record: ManifestRecord): string | undefined {
  return /^\d{4}-\d{2}$/.test(record.billingMonth) ? record.billingMonth : undefined;
}

/**
 * Asks `owners` whether the scope a parsed manifest names owns the export writing into its folder.
 * A legacy manifest's scope already comes from the registered export writing there, and a manifest
 * whose scope did not parse files nothing under a scope: neither is asked about. Returns the
 * problem to reject with, or the backfill lookup row the check read (for reuse).
 */
export async function ownerOfManifest(
  owners: LandingOwnerLookup,
  record: ManifestRecord,
  scope: string | undefined,
  landed: { container: string; manifestPath: string; warn: (line: string) => void },
): Promise<{ rejection?: { kind: OwnershipKind; reason: string }; backfill?: OwnerFinding['backfill'] }> {
  if (record.legacy || scope === undefined) return {};
  const month = billingMonthOf(record);
  const finding = await owners.judge({
    scope,
    exportName: record.exportName,
    ...(month ? { month } : {}),
    manifestPath: landed.manifestPath,
    container: landed.container,
    ...(record.rootFolderPath !== undefined ? { rootFolderPath: record.rootFolderPath } : {}),
  });
  if (finding.armError !== undefined) {
    landed.warn(
      logEventLine('landing.owner.unconfirmed', {
        scope,
        exportName: record.exportName,
        manifest: landed.manifestPath,
        error: finding.armError,
      }),
    );
  }
  if (finding.verdict.kind !== 'owned') return { rejection: finding.verdict };
  return finding.backfill ? { backfill: finding.backfill } : {};
}

/** Owners named in a rejection at most (a scan stops once it has this many). */
const MAX_OWNERS = 5;

export class LandingOwners implements LandingOwnerLookup {
  constructor(private readonly deps: LandingOwnersDeps) {}

  async judge(claim: OwnerClaim): Promise<OwnerFinding> {
    const place = landingPlace(
      claim.manifestPath,
      claim.container,
      {
        exportName: claim.exportName,
        ...(claim.rootFolderPath !== undefined ? { rootFolderPath: claim.rootFolderPath } : {}),
      },
      this.deps.storageAccount,
    );
    const month = claim.month;
    const backfillMonth =
      month !== undefined && (this.deps.mayBelongToBackfill?.(claim.exportName) ?? true) ? month : undefined;
    const { evidence, backfill } = await this.pointReads(claim, place, backfillMonth);
    const finding = (armCalls: number): OwnerFinding => ({
      verdict: judgeOwner(claim.scope, place, evidence),
      ...(backfill ? { backfill } : {}),
      armCalls,
    });
    if (owned(claim, place, evidence)) return finding(0);
    await this.scans(claim, place, backfillMonth, evidence);
    const verdict = judgeOwner(claim.scope, place, evidence);
    if (verdict.kind !== 'unregisteredExport' || !this.deps.costExports) return finding(0);
    // (c) Nobody known writes here: ask Cost Management about the named scope's export, once.
    try {
      const e = await this.deps.costExports.get(claim.scope, claim.exportName);
      evidence.push({
        scope: claim.scope,
        exportName: e.name ?? claim.exportName,
        destination: deliveredTo(e.properties.deliveryInfo.destination),
        source: 'costManagement',
      });
      return finding(1);
    } catch (error) {
      const cause = isCostManagementError(error)
        ? `${error.code}${error.status === undefined ? '' : ` (HTTP ${error.status})`}`
        : 'no answer';
      const reason = `${verdict.reason}; Cost Management did not confirm the export: ${cause}`;
      return { ...finding(1), verdict: { ...verdict, reason }, armError: redactError(error).slice(0, 500) };
    }
  }

  /** (b) the backfill lookup row, first for a backfill's export name (the landing needs that row
   * anyway), then (a) the registered export of the named scope unless (b) vouched for it. */
  private async pointReads(
    claim: OwnerClaim,
    place: ExportPlace,
    backfillMonth: string | undefined,
  ): Promise<{ evidence: OwnerEvidence[]; backfill?: { lookup: BackfillLookup | undefined } }> {
    const { catalog } = this.deps;
    const evidence: OwnerEvidence[] = [];
    let backfill: { lookup: BackfillLookup | undefined } | undefined;
    if (backfillMonth !== undefined) {
      const lookup = await catalog.findBackfillRun(claim.scope, claim.exportName, backfillMonth);
      backfill = { lookup };
      if (lookup) evidence.push(fromBackfill(lookup));
    }
    if (!owned(claim, place, evidence)) {
      const registered = await catalog.getExport(claim.scope, claim.exportName);
      if (registered) evidence.push(fromRegistry(registered));
    }
    return { evidence, ...(backfill ? { backfill } : {}) };
  }

  /** No point read vouches for the landing: which scopes' exports of that name do write here? */
  private async scans(
    claim: OwnerClaim,
    place: ExportPlace,
    backfillMonth: string | undefined,
    evidence: OwnerEvidence[],
  ): Promise<void> {
    for await (const e of this.deps.catalog.exportsNamed(claim.exportName)) {
      if (pushIfHere(evidence, fromRegistry(e), place)) return;
    }
    if (backfillMonth === undefined) return;
    for await (const lookup of this.deps.catalog.backfillLookupsNamed(claim.exportName, backfillMonth)) {
      if (pushIfHere(evidence, fromBackfill(lookup), place)) return;
    }
  }
}

function owned(claim: OwnerClaim, place: ExportPlace, evidence: readonly OwnerEvidence[]): boolean {
  return evidence.some((e) => sameScope(e.scope, claim.scope) && writesTo(e, place));
}

function heldBy(evidence: readonly OwnerEvidence[], place: ExportPlace): number {
  return evidence.filter((e) => writesTo(e, place)).length;
}

/** Keeps evidence that writes here; true once enough owners are known to name them. */
function pushIfHere(evidence: OwnerEvidence[], e: OwnerEvidence, place: ExportPlace): boolean {
  if (writesTo(e, place)) evidence.push(e);
  return heldBy(evidence, place) >= MAX_OWNERS;
}

function fromRegistry(e: ExportRecord): OwnerEvidence {
  return {
    scope: e.scope,
    exportName: e.exportName,
    destination: deliveredTo(e.destination),
    source: 'registered',
  };
}

function fromBackfill(lookup: BackfillLookup): OwnerEvidence {
  return {
    scope: lookup.scope,
    exportName: lookup.exportName,
    ...(lookup.destination ? { destination: deliveredTo(lookup.destination) } : {}),
    source: 'backfill',
  };
}
