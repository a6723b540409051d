// The landing catalog's use case, the story of one landing: a manifest.json landed in the exports
// container → one landing row and one file row per partition blob, older runs of the same export and
// period superseded, and the waiting backfill woken. Every write is keyed by the manifest's own facts,
// so a redelivered or duplicated event writes the same rows again (or nothing); `catalogedAt` is set
// once, on insert. The rules are pure (domain/landingPlan.ts), the conditional writes are in
// landingWrites.ts, and I/O goes through the ports of landingPorts.ts (the catalog, one blob listing,
// the durable client), so Azurite tests and benchmarks drive the same code as the function.
import type { BackfillLookup, ExportRecord } from '../azure/catalog';
import { fileRowsValid, landingKeyOf, landingRow, unresolvedPartitionKey } from '../azure/landingRows';
import { EXPORT_LANDED_EVENT, type ExportLandedEvent, type LandingKey } from '../domain/contracts';
import { type LandingIdentity, rejectedRecord, rejectionIdentities } from '../domain/landingIdentity';
import type { OwnershipKind } from '../domain/landingOwner';
import {
  type LandingFileRecord,
  landingPeriod,
  type LandingPlan,
  type LandingRecord,
  type LandingState,
  listingPrefixes,
  periodMonth,
  planLanding,
  runTimeOf,
  statesEveryByteCount,
} from '../domain/landingPlan';
import { type PlacementKind, placementProblem } from '../domain/landingTrust';
import { logEventLine } from '../domain/logEvent';
import {
  isManifestBlobName,
  type LandingRecord as ManifestRecord,
  ManifestError,
  parseManifest,
} from '../domain/manifest';
import { redactMessage } from '../domain/redact';
import { normaliseFolder } from '../domain/rootFolderPath';
import { parseScope } from '../domain/scope';
import { billingMonthOf, ownerOfManifest } from './landingOwners';
import type { LandingDependencies, LandingLog } from './landingPorts';
import { type LandingTable, LandingWrites, type PeriodRead } from './landingWrites';

export interface ManifestLanded {
  /** Container the blob is in (exports destinations: the trigger's container). */
  container: string;
  /** Blob name inside the container. */
  blobName: string;
  /** The blob's bytes as the trigger delivered them. */
  content: Buffer | string;
}

export type LandingOutcome =
  | { kind: 'ignored'; reason: string }
  | {
      kind: 'catalogued' | 'rejected';
      state: LandingState;
      landingKey: LandingKey;
      /** The scope was known (the row lives in the export's partition, supersession applies). */
      resolved: boolean;
      /** This call inserted the row / changed it; false for a redelivery that found it as is. */
      created: boolean;
      changed: boolean;
      missingBlobs: string[];
      fileRows: number;
      rejectionReason?: string;
      /** For a manifest whose claims its folder contradicts (domain/landingTrust.ts), or whose named
       * scope does not own the export writing there (domain/landingOwner.ts): which check. */
      rejectionKind?: PlacementKind | OwnershipKind;
      /** Instance the exportLanded event was raised on. */
      raisedOn?: string;
    };

/** What a use-case step hands to `finish` besides the stored landing. */
interface FinishFacts {
  created: boolean;
  changed: boolean;
  fileRows: number;
  backfill: BackfillLookup | undefined;
}

/** Thrown after an incomplete landing has been recorded: the host retries the invocation (blob
 * triggers retry 5 times, then poison-queue the event) and each retry lists the run folder again. */
export class LandingIncompleteError extends Error {
  constructor(
    readonly landingKey: LandingKey,
    readonly missingBlobs: string[],
  ) {
    super(
      `landing ${landingKey.partitionKey}/${landingKey.rowKey} is incomplete: ${missingBlobs.length} listed blob(s) not found yet (first: ${missingBlobs[0] ?? ''}); recorded, will be re-checked`,
    );
    this.name = 'LandingIncompleteError';
  }
}

/** The manifest, or a value derived from it, cannot be catalogued as it is (the cause says why). */
export class LandingInputError extends Error {
  constructor(cause: unknown) {
    super(redactMessage(cause), { cause });
    this.name = 'LandingInputError';
  }
}

/** Runs pure validation; whatever it throws is bad input, never an I/O failure. */
function validated<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw new LandingInputError(error);
  }
}

/** Validation failures (the manifest, or a value the catalog refuses) as opposed to I/O failures. */
function isInputError(error: unknown): boolean {
  return error instanceof ManifestError || error instanceof LandingInputError;
}

// ------------------------------------------------------------------------------------------ the use case

/** Files written in the landing's own transaction; a run with more writes them beforehand. The rest
 * of the 100 actions hold the landing, the period row and flag changes on other runs. */
const MAX_INLINE_FILES = 90;

/** Where a parsed manifest's rows go. */
type PlanTarget = Parameters<typeof planLanding>[1];

/** One landing as read, before it is written: what the steps after the reads share. */
interface ReadLanding {
  identity: LandingIdentity;
  key: LandingKey;
  plan: LandingPlan;
  table: LandingTable;
  /** File rows written while the folder was listed (a run too large for one transaction). */
  earlyFiles: number | undefined;
  backfill: BackfillLookup | undefined;
}

/** A run's file rows go into the landing's own transaction when they fit. More than that, and when
 * they do not depend on the listing (every byte count stated), they are written while the folder is
 * listed. Planned with nothing listed, the landing row is at its largest, so if that validates, so
 * does any. */
function filesAhead(
  record: ManifestRecord,
  planWith: (listed: ReadonlyMap<string, number | undefined>) => LandingPlan,
): LandingFileRecord[] | undefined {
  if (record.blobs.length <= MAX_INLINE_FILES || !statesEveryByteCount(record.blobs)) return undefined;
  return planWith(new Map()).files;
}

export class LandingService {
  private readonly now: () => Date;
  private readonly log: LandingLog;
  private readonly writes: LandingWrites;

  constructor(private readonly deps: LandingDependencies) {
    this.now = deps.now ?? (() => new Date());
    this.log = deps.log ?? { info: () => undefined, warn: () => undefined, error: () => undefined };
    this.writes = new LandingWrites(deps.catalog, this.now);
  }

  /** Catalogues one landed blob. Non-manifests return at once without I/O. Throws only for I/O
   * failures (the host retries; every write is idempotent) and LandingIncompleteError. */
  async catalogue(event: ManifestLanded): Promise<LandingOutcome> {
    if (!isManifestBlobName(event.blobName)) return { kind: 'ignored', reason: 'not a manifest' };
    const manifestPath = event.blobName.replace(/^\/+/, '');
    let record: ManifestRecord;
    try {
      record = parseManifest(event.content, { blobPath: manifestPath });
    } catch (error) {
      return this.reject(event, manifestPath, error);
    }
    // Claims its folder contradicts (another export's or run's folder, blobs outside its own run
    // folder) are not filed under the export it names: rejected by its path alone.
    const misplaced = placementProblem(manifestPath, record);
    if (misplaced) return this.rejectUntrusted(event, manifestPath, misplaced);
    const identity = await this.identityOf(record, event.container, manifestPath);
    // The scope it names must own the export writing into its folder (services/landingOwners.ts).
    const owner = await ownerOfManifest(this.deps.owners, record, identity.scope, {
      container: event.container,
      manifestPath,
      warn: (line) => this.log.warn(line),
    });
    if (owner.rejection) return this.rejectUntrusted(event, manifestPath, owner.rejection);
    try {
      return await this.catalogueParsed(manifestPath, record, identity, owner.backfill);
    } catch (error) {
      if (!(error instanceof LandingInputError)) throw error;
      return this.reject(event, manifestPath, error, identity);
    }
  }

  /** Rejects a manifest whose claims are not to be trusted: filed by its path alone (never under
   * the scope or export it names), its reason starting with the check's kind. */
  private async rejectUntrusted(
    event: ManifestLanded,
    manifestPath: string,
    problem: { kind: PlacementKind | OwnershipKind; reason: string },
  ): Promise<LandingOutcome> {
    const error = new LandingInputError(new Error(`${problem.kind}: ${problem.reason}`));
    const outcome = await this.reject(event, manifestPath, error, undefined, false);
    return outcome.kind === 'rejected' ? { ...outcome, rejectionKind: problem.kind } : outcome;
  }

  private async identityOf(
    record: ManifestRecord,
    container: string,
    manifestPath: string,
  ): Promise<LandingIdentity> {
    const period = landingPeriod(record, manifestPath);
    let scope: string | undefined;
    if (!record.legacy && record.scopeKind !== undefined) scope = record.scope;
    else if (record.legacy)
      scope = await this.registeredScope(record.exportName, container, record.rootFolderPath);
    return {
      ...(scope !== undefined ? { scope } : {}),
      exportName: record.exportName,
      period,
      runId: record.runId,
    };
  }

  /** A legacy manifest names no scope: the registered export delivering there does, when exactly one
   * matches (name, container and root folder). Legacy manifests are rare, so a registry scan is fine. */
  private async registeredScope(
    exportName: string,
    container: string,
    rootFolderPath: string | undefined,
  ): Promise<string | undefined> {
    const root = normaliseFolder(rootFolderPath);
    const matches: ExportRecord[] = [];
    for await (const e of this.deps.catalog.listExports()) {
      if (
        e.exportName.toLowerCase() === exportName.toLowerCase() &&
        e.destination.container === container &&
        normaliseFolder(e.destination.rootFolderPath) === root
      ) {
        matches.push(e);
        if (matches.length > 1) return undefined;
      }
    }
    try {
      return matches[0] ? parseScope(matches[0].scope).canonical : undefined;
    } catch {
      return undefined; // a registry row with a broken scope claims nothing
    }
  }

  private async catalogueParsed(
    manifestPath: string,
    record: ManifestRecord,
    identity: LandingIdentity,
    /** The backfill lookup row, when the owner check read it already. */
    known?: { lookup: BackfillLookup | undefined },
  ): Promise<LandingOutcome> {
    const key = validated(() => landingKeyOf(identity));
    const planWith = this.planner(record, identity, {
      scope: identity.scope ?? '',
      landingPartition: key.partitionKey,
      period: identity.period,
      manifestPath,
      catalogedAt: this.now().toISOString(),
    });
    const read = await this.readAtOnce(manifestPath, record, identity, key, planWith, known);
    const plan = planWith(read.listed);
    const { periodRead, earlyFiles, backfill } = read;
    const table = this.tableFor(identity);
    const landing: ReadLanding = { identity, key, plan, table, earlyFiles, backfill };
    const kept = plan.missing.length > 0 ? await this.keptComplete(landing) : undefined;
    if (kept) return kept;
    const landed = periodRead && (await this.commitIfNew(identity, key, plan, periodRead, earlyFiles));
    if (landed) return this.settled(identity, key, landed.landing, { ...landed, backfill });
    return this.catalogueAgain(landing);
  }

  /** Independent of each other, so at once: the listing, the backfill lookup, the period row (a new
   * run needs nothing else to settle) and the early file rows. */
  private async readAtOnce(
    manifestPath: string,
    record: ManifestRecord,
    identity: LandingIdentity,
    key: LandingKey,
    planWith: (listed: ReadonlyMap<string, number | undefined>) => LandingPlan,
    known: { lookup: BackfillLookup | undefined } | undefined,
  ) {
    const resolved = identity.scope !== undefined;
    const early = resolved ? filesAhead(record, planWith) : undefined;
    const month = billingMonthOf(record);
    const runTime = runTimeOf({ submittedTime: record.submittedTime?.toISOString(), manifestPath });
    const [listed, backfill, periodRead, earlyFiles] = await Promise.all([
      this.listBlobs(record.blobs.map((b) => b.blobName)),
      known ? known.lookup : this.backfillFor(identity, record.exportName, month),
      resolved ? this.writes.periodBeforeCommit(runTime, identity.period, key) : undefined,
      early ? this.writes.writeFiles(early) : undefined,
    ]);
    return { listed, backfill, periodRead, earlyFiles };
  }

  /** Unusual path: files are missing after a late redelivery (an overwriting run deleted them) or a
   * race. A landing once complete stays complete (its files were there when it was catalogued). */
  private async keptComplete(landing: ReadLanding): Promise<LandingOutcome | undefined> {
    const { identity, key, earlyFiles, backfill } = landing;
    const existing = await landing.table.get(key);
    if (existing?.state !== 'complete') return undefined;
    // Files rewritten unchanged if at all: the same manifest.
    const facts = { created: false, changed: false, fileRows: earlyFiles ?? 0, backfill };
    return this.finish(identity, key, existing, facts);
  }

  /** Catalogued before (a redelivery, a retried incomplete run), or not under an export's scope.
   * Files first: a landing row never points at file rows that are not there. */
  private async catalogueAgain(landing: ReadLanding): Promise<LandingOutcome> {
    const { identity, key, plan, table, backfill } = landing;
    const fileRows = landing.earlyFiles ?? (await this.writes.writeFiles(plan.files));
    let created = false;
    let changed = false;
    let stored: LandingRecord = plan.landing;
    if (await table.create(plan.landing)) created = true;
    else ({ record: stored, changed } = await this.writes.update(table, key, plan.landing));
    if (identity.scope !== undefined && stored.state !== 'rejected') {
      stored = (await this.writes.reconcile(identity.period, key, created || changed)) ?? stored;
    }
    return this.settled(identity, key, stored, { created, changed, fileRows, backfill });
  }

  /** Plans the rows for what the listing found, validating every row before the first write, so bad
   * input never leaves a partial landing. With every byte count in the manifest (Azure always writes
   * them) the file rows do not depend on the listing: they are checked once. */
  private planner(
    record: ManifestRecord,
    identity: LandingIdentity,
    target: PlanTarget,
  ): (listed: ReadonlyMap<string, number | undefined>) => LandingPlan {
    const sized = statesEveryByteCount(record.blobs);
    let checkedFiles: LandingFileRecord[] | undefined;
    return (listed) =>
      validated(() => {
        const planned = planLanding(record, target, listed);
        landingRow(identity, planned.landing);
        if (checkedFiles) return { ...planned, files: checkedFiles };
        fileRowsValid(planned.files);
        if (sized) checkedFiles = planned.files;
        return planned;
      });
  }

  /** Commits a run not catalogued before against the period row as read. A missing period row the
   * period's landings should have had is left to reconcile, which rebuilds it (undefined). */
  private async commitIfNew(
    identity: LandingIdentity,
    key: LandingKey,
    plan: LandingPlan,
    { period, read }: PeriodRead,
    earlyFiles: number | undefined,
  ): Promise<(Omit<FinishFacts, 'backfill'> & { landing: LandingRecord }) | undefined> {
    if (read && !period && (await this.writes.periodRowMissing(key, identity.period, identity.runId))) {
      return undefined;
    }
    return this.writes.commitNewRun(key, plan, period, earlyFiles);
  }

  /** Finishes a catalogued landing; an incomplete one that is still live throws for a retry. */
  private async settled(
    identity: LandingIdentity,
    key: LandingKey,
    stored: LandingRecord,
    extra: FinishFacts,
  ): Promise<LandingOutcome> {
    const outcome = await this.finish(identity, key, stored, extra);
    if (stored.state === 'incomplete' && !stored.superseded) {
      throw new LandingIncompleteError(key, stored.missingBlobs);
    }
    return outcome;
  }

  private async finish(
    identity: LandingIdentity,
    key: LandingKey,
    landing: LandingRecord,
    extra: FinishFacts,
  ): Promise<LandingOutcome> {
    const lookup = extra.backfill;
    let raisedOn: string | undefined;
    if (lookup && landing.state !== 'incomplete') {
      raisedOn = await this.raise(lookup, identity, key, landing);
    }
    const outcome: LandingOutcome = {
      kind: landing.state === 'rejected' ? 'rejected' : 'catalogued',
      state: landing.state,
      landingKey: key,
      resolved: identity.scope !== undefined,
      created: extra.created,
      changed: extra.changed,
      missingBlobs: landing.missingBlobs,
      fileRows: extra.fileRows,
      ...(landing.rejectionReason ? { rejectionReason: landing.rejectionReason } : {}),
      ...(raisedOn ? { raisedOn } : {}),
    };
    const line = logEventLine(landing.state === 'rejected' ? 'landing.rejected' : 'landing.catalogued', {
      landing: `${key.partitionKey}/${key.rowKey}`,
      exportName: landing.exportName,
      scope: identity.scope ?? landing.scope,
      period: landing.period,
      runId: landing.runId,
      state: landing.state,
      write: extra.created ? 'new' : extra.changed ? 'updated' : 'unchanged',
      current: landing.current ?? false,
      supersededBy: landing.superseded ? (landing.supersededBy ?? null) : undefined,
      blobs: landing.blobCount,
      rows: landing.rowCount,
      bytes: landing.totalBytes,
      reason: landing.rejectionReason,
      backfillId: lookup?.backfillId,
      wokeBackfill: raisedOn !== undefined,
    });
    if (landing.state === 'rejected') this.log.warn(line);
    else this.log.info(line);
    return outcome;
  }

  /** Wakes the backfill waiting for this export and month. A missing instance is logged, not fatal;
   * other failures throw so the host retries (the catalogue writes are idempotent). */
  private async raise(
    lookup: BackfillLookup,
    identity: LandingIdentity,
    key: LandingKey,
    landing: LandingRecord,
  ): Promise<string | undefined> {
    if (!this.deps.raiseEvent) {
      this.log.warn(
        `landing ${landing.exportName} ${landing.period}: backfill ${lookup.backfillId} waits, but no durable client is bound`,
      );
      return undefined;
    }
    const payload: ExportLandedEvent = {
      exportName: landing.exportName,
      scope: identity.scope ?? landing.scope,
      billingMonth: lookup.month,
      runId: landing.runId,
      state: landing.state,
      rowCount: landing.rowCount,
      landingKey: key,
    };
    if ((await this.deps.raiseEvent(lookup.instanceId, EXPORT_LANDED_EVENT, payload)) === 'notFound') {
      this.log.warn(
        logEventLine('landing.unclaimed', {
          exportName: landing.exportName,
          period: landing.period,
          runId: landing.runId,
          backfillId: lookup.backfillId,
          reason: `backfill instance ${lookup.instanceId} did not take ${EXPORT_LANDED_EVENT}: no such instance`,
        }),
      );
      return undefined;
    }
    return lookup.instanceId;
  }

  private async reject(
    event: ManifestLanded,
    manifestPath: string,
    error: unknown,
    parsed?: LandingIdentity,
    trustContent = true,
  ): Promise<LandingOutcome> {
    if (!isInputError(error)) throw error;
    const reason = redactMessage(error instanceof LandingInputError ? error.cause : error);
    this.log.error(
      logEventLine('landing.rejected', { container: event.container, manifest: manifestPath, reason }),
    );
    const catalogedAt = this.now().toISOString();
    for (const identity of rejectionIdentities(event.content, manifestPath, parsed, trustContent)) {
      let record: LandingRecord;
      let key: LandingKey;
      try {
        key = landingKeyOf(identity);
        record = rejectedRecord(identity, manifestPath, reason, catalogedAt);
        landingRow(identity, record);
      } catch {
        continue; // this identity cannot be stored; try the next, coarser one
      }
      const table = this.tableFor(identity);
      if (await table.create(record)) {
        return this.finish(identity, key, record, {
          created: true,
          changed: true,
          fileRows: 0,
          backfill: await this.backfillFor(identity, record.exportName, periodMonth(record.period)),
        });
      }
      const existing = await table.get(key);
      if (existing && existing.state !== 'rejected') {
        // The same run was catalogued from a valid manifest: a broken copy does not undo it.
        this.log.warn(
          `landing ${key.partitionKey}/${key.rowKey} kept: it was catalogued from a valid manifest`,
        );
        return this.finish(identity, key, existing, {
          created: false,
          changed: false,
          fileRows: 0,
          backfill: undefined,
        });
      }
      const { record: stored, changed } = await this.writes.update(table, key, record);
      return this.finish(identity, key, stored, {
        created: false,
        changed,
        fileRows: 0,
        backfill: undefined,
      });
    }
    // Unreachable: the last identity (hashed path) always maps.
    throw new Error(`manifest ${manifestPath}: could not record the rejection`);
  }

  /** The backfill waiting for this export and month, if one can be (one point read). */
  private backfillFor(
    identity: LandingIdentity,
    exportName: string,
    month: string | undefined,
  ): Promise<BackfillLookup | undefined> {
    const { scope } = identity;
    if (
      scope === undefined ||
      month === undefined ||
      !(this.deps.mayBelongToBackfill?.(exportName) ?? true)
    ) {
      return Promise.resolve(undefined);
    }
    return this.deps.catalog.findBackfillRun(scope, exportName, month);
  }

  private async listBlobs(names: readonly string[]): Promise<Map<string, number | undefined>> {
    const wanted = new Set(names);
    const found = new Map<string, number | undefined>();
    if (wanted.size === 0) return found;
    // One blob: one read of it is the same single request as a listing, and a cheaper one.
    if (wanted.size === 1 && this.deps.blobs.stat) {
      const [name] = wanted;
      const stat = await this.deps.blobs.stat(name!);
      if (stat) found.set(name!, stat.size);
      return found;
    }
    for (const prefix of listingPrefixes(names)) {
      for await (const blob of this.deps.blobs.list(prefix)) {
        if (wanted.has(blob.name)) found.set(blob.name, blob.size);
      }
    }
    return found;
  }

  private tableFor(identity: LandingIdentity): LandingTable {
    const { catalog, unresolved } = this.deps;
    if (identity.scope === undefined) {
      const partitionKey = unresolvedPartitionKey(identity.exportName);
      return {
        create: (record) => unresolved.create(partitionKey, record),
        get: (key) => unresolved.get(key.partitionKey, key.rowKey),
        replaceIfMatch: (record, etag) => unresolved.replaceIfMatch(partitionKey, record, etag),
      };
    }
    const scope = identity.scope;
    return {
      create: (record) => catalog.createLanding({ ...record, scope }),
      get: async (key) => {
        const row = await catalog.getLanding(key.partitionKey, identity.period, identity.runId);
        return row && row.rowKey === key.rowKey ? row : undefined;
      },
      replaceIfMatch: async (record, etag) => {
        await catalog.replaceIfMatch('landings', { ...record, scope }, etag);
      },
    };
  }
}
