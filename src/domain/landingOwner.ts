// Which scope owns the export that writes into a landing's folder, and whether the scope a manifest
// names is that owner. A manifest's `exportConfig.resourceId` is only a claim (anyone who can write
// to the exports container can write one); what the app knows is which exports deliver where: the
// registered exports (synced from Cost Management, with their destination), the temporary exports
// backfills created (recorded with their destination when they were PUT, so the knowledge outlives
// the export), and, for an export still unknown, Cost Management's own answer for the named scope.
// Pure: the service gathers the evidence (services/landingOwners.ts).
import { pathFacts } from './landingPlan';
import { redactSecrets } from './redact';
import { normaliseFolder } from './rootFolderPath';
import { parseScope } from './scope';

/** Where a landing was written: the folder its export delivers to, and that export's name. */
export interface ExportPlace {
  /** The exports storage account, when the app knows its name (a path-style emulator endpoint maps
   * every account name to its own, so it is unknown there and not compared). */
  storageAccount?: string;
  container: string;
  /** Without leading or trailing slashes; '' for the container root. */
  rootFolderPath: string;
  exportName: string;
}

/** Where the app knows that some scope's export delivers. */
export interface OwnerEvidence {
  scope: string;
  exportName: string;
  /** Absent for a backfill row written before destinations were recorded: its scope and name are
   * then all there is, and they are trusted. */
  destination?: { storageAccount?: string; container: string; rootFolderPath: string };
  source: OwnerSource;
}

/** exports table, backfillRuns lookup row, or one ARM GET of the export. */
export type OwnerSource = 'registered' | 'backfill' | 'costManagement';

/** Why a landing's named scope is not accepted. */
export type OwnershipKind = 'scopeMismatch' | 'unregisteredExport';

export type OwnerVerdict =
  | { kind: 'owned'; scope: string; source: OwnerSource }
  | { kind: OwnershipKind; reason: string; owners: string[] };

/**
 * The place a manifest was written to. With Azure's folder layout (`{root}/{export}/{period}/…`) the
 * path says it; a hand-made manifest in another layout can only say it itself (`exportConfig.
 * exportName`, `deliveryConfig.rootFolderPath`): its blobs are still held to its own folder.
 */
export function landingPlace(
  manifestPath: string,
  container: string,
  claims: { exportName: string; rootFolderPath?: string },
  storageAccount?: string,
): ExportPlace {
  const facts = pathFacts(manifestPath);
  const inLayout = facts.exportName !== undefined;
  return {
    ...(storageAccount !== undefined ? { storageAccount } : {}),
    container,
    rootFolderPath: normaliseFolder(inLayout ? facts.rootFolderPath : claims.rootFolderPath),
    exportName: inLayout ? facts.exportName! : claims.exportName,
  };
}

const STORAGE_ACCOUNT_ID = /\/providers\/Microsoft\.Storage\/storageAccounts\/([^/]+)$/i;

/** Where an export delivers, as Cost Management describes its destination: a storage account by
 * resource id (RBAC delivery) or by name (SAS delivery), a container and a root folder. */
export function deliveredTo(d: {
  resourceId?: string;
  storageAccount?: string;
  container: string;
  rootFolderPath?: string;
}): NonNullable<OwnerEvidence['destination']> {
  const account = d.storageAccount ?? STORAGE_ACCOUNT_ID.exec(d.resourceId ?? '')?.[1];
  return {
    ...(account ? { storageAccount: account.toLowerCase() } : {}),
    container: d.container,
    rootFolderPath: normaliseFolder(d.rootFolderPath),
  };
}

/** A scope as compared: canonical (ARM ids are case-insensitive) when it parses, else the text in
 * lower case without trailing slashes. */
export function scopeIdentity(scope: string): string {
  try {
    return parseScope(scope).canonical.toLowerCase();
  } catch {
    return `/${scope.trim().replace(/^\/+|\/+$/g, '')}`.toLowerCase();
  }
}

export function sameScope(a: string, b: string): boolean {
  return scopeIdentity(a) === scopeIdentity(b);
}

/** Whether the evidence says its export delivers into this place. */
export function writesTo(evidence: OwnerEvidence, place: ExportPlace): boolean {
  if (evidence.exportName.toLowerCase() !== place.exportName.toLowerCase()) return false;
  const d = evidence.destination;
  if (!d) return evidence.source === 'backfill';
  if (d.container.toLowerCase() !== place.container.toLowerCase()) return false;
  if (normaliseFolder(d.rootFolderPath) !== normaliseFolder(place.rootFolderPath)) return false;
  const [mine, theirs] = [place.storageAccount, d.storageAccount];
  return mine === undefined || theirs === undefined || mine.toLowerCase() === theirs.toLowerCase();
}

/**
 * The verdict on a manifest naming `claimedScope`, from the evidence gathered so far: owned when an
 * export of that scope writes here; a scope mismatch (naming both) when only other scopes' exports
 * do; unregistered when no known export writes here.
 */
export function judgeOwner(
  claimedScope: string,
  place: ExportPlace,
  evidence: readonly OwnerEvidence[],
): OwnerVerdict {
  const here = evidence.filter((e) => writesTo(e, place));
  const own = here.find((e) => sameScope(e.scope, claimedScope));
  if (own) return { kind: 'owned', scope: own.scope, source: own.source };
  const owners = [...new Map(here.map((e) => [scopeIdentity(e.scope), e.scope])).values()];
  const where = `${quote(place.container)}/${quote(folderOf(place))}`;
  if (owners.length > 0) {
    const named = owners.slice(0, 3).map(quote).join(', ') + (owners.length > 3 ? ', …' : '');
    return {
      kind: 'scopeMismatch',
      owners,
      reason: `the manifest names scope ${quote(claimedScope)}, but export ${quote(place.exportName)} writing to ${where} belongs to ${named}`,
    };
  }
  return {
    kind: 'unregisteredExport',
    owners: [],
    reason:
      `no registered export ${quote(place.exportName)} of scope ${quote(claimedScope)} writes to ${where}: ` +
      'register it (add the scope to MANAGED_SCOPES and run POST /api/exports/sync), then write the ' +
      'manifest again (its path is kept on this row) to have it filed',
  };
}

function folderOf(place: ExportPlace): string {
  const root = normaliseFolder(place.rootFolderPath);
  return root === '' ? place.exportName : `${root}/${place.exportName}`;
}

function quote(text: string): string {
  const safe = redactSecrets(text);
  return JSON.stringify(safe.length > 160 ? `${safe.slice(0, 160)}…` : safe);
}
