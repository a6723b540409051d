// The conditional writes one landing needs, so the landing service reads as the story of a landing: a
// new run committed with its files, flag changes and period row in one transaction; a redelivered run
// brought up to date; and a period whose runs are re-settled after such an update. Every write is
// conditional on what the decision was made from, so concurrent landings of a period never disagree.
import {
  type Catalog,
  CatalogConflictError,
  MAX_TRANSACTION_ACTIONS,
  type PeriodRecord,
  type Stored,
} from '../azure/catalog';
import type { LandingKey } from '../domain/contracts';
import {
  compareRuns,
  type LandingPlan,
  type LandingRecord,
  liveRunOf,
  planSupersession,
  ranAfterPeriod,
  sameFlags,
  sameLandingFacts,
  sameLiveRuns,
  settleNewRun,
  withFlags,
} from '../domain/landingPlan';

/** The catalog operations these writes need (Catalog satisfies it). */
export type LandingWriteCatalog = Pick<
  Catalog,
  | 'getLanding'
  | 'replaceIfMatch'
  | 'landingsByExport'
  | 'upsertLandingFiles'
  | 'getPeriod'
  | 'commitLanding'
  | 'putPeriod'
>;

/** One landing row, wherever it lives (an export's partition or an unresolved one). */
export interface LandingTable {
  create(record: LandingRecord): Promise<boolean>;
  get(key: LandingKey): Promise<Stored<LandingRecord> | undefined>;
  replaceIfMatch(record: LandingRecord, etag: string): Promise<void>;
}

/** The period row as read before committing a new run; `read` says whether an absent row was looked for. */
export interface PeriodRead {
  period?: Stored<PeriodRecord>;
  read: boolean;
}

const MAX_RECONCILE_ROUNDS = 10;
const MAX_MODIFY_ATTEMPTS = 5;

export class LandingWrites {
  constructor(
    private readonly catalog: LandingWriteCatalog,
    private readonly now: () => Date,
  ) {}

  async writeFiles(files: LandingPlan['files']): Promise<number> {
    if (files.length === 0) return 0;
    return (await this.catalog.upsertLandingFiles(files)).rows;
  }

  /** The period row a new run settles against. A run made after its period ended (a backfill month,
   * a monthly export of last month) is usually the period's first, so it commits as if there were no
   * period row, and reads it only if the commit finds one; a run during its month usually follows an
   * earlier run, so it reads first. */
  async periodBeforeCommit(runTime: number, period: string, key: LandingKey): Promise<PeriodRead> {
    if (ranAfterPeriod(runTime, period)) return { read: false };
    const stored = await this.catalog.getPeriod(key.partitionKey, period);
    return stored ? { period: stored, read: true } : { read: true };
  }

  /** Whether the period has catalogued runs (other than `runId`) though its period row is missing: a
   * row deleted by hand, or landings from before period rows. Once per export and month at most. */
  async periodRowMissing(key: LandingKey, period: string, runId: string): Promise<boolean> {
    for await (const row of this.catalog.landingsByExport(key.partitionKey, { period })) {
      if (row.runId !== runId && row.state !== 'rejected') return true;
    }
    return false;
  }

  /**
   * A run not catalogued before: its row, its files (when they fit), the flags it changes and the
   * period row, in one transaction conditional on the period row as read. A lost race reads the
   * period again. Undefined when the run turns out to be catalogued already (the caller updates it).
   * `earlyFiles` is the number of file rows already written, when they were written beforehand.
   */
  async commitNewRun(
    key: LandingKey,
    plan: LandingPlan,
    period: Stored<PeriodRecord> | undefined,
    earlyFiles: number | undefined,
  ): Promise<{ landing: LandingRecord; created: true; changed: true; fileRows: number } | undefined> {
    const { catalog } = this;
    let filesWritten = earlyFiles ?? 0;
    for (let attempt = 1; attempt <= MAX_RECONCILE_ROUNDS; attempt++) {
      if (period?.live.some((run) => run.runId === plan.landing.runId)) return undefined;
      const settled = settleNewRun(period?.live ?? [], plan.landing);
      const fits = plan.files.length + settled.changes.length + 2 <= MAX_TRANSACTION_ACTIONS;
      if (earlyFiles === undefined && !fits && filesWritten === 0) {
        filesWritten = await this.writeFiles(plan.files);
      }
      const inlineFiles = earlyFiles === undefined && fits ? plan.files : [];
      const committed = await catalog.commitLanding({
        files: inlineFiles,
        landing: settled.landing,
        flags: settled.changes,
        period: {
          landingPartition: key.partitionKey,
          period: plan.landing.period,
          live: settled.live,
          updatedAt: this.now().toISOString(),
        },
        ...(period ? { periodEtag: period.etag } : {}),
      });
      if (committed) {
        return {
          landing: settled.landing,
          created: true,
          changed: true,
          fileRows: inlineFiles.length > 0 ? inlineFiles.length : filesWritten,
        };
      }
      // Lost a race with another landing of the period, or the row exists (catalogued before).
      const [again, existing] = await Promise.all([
        catalog.getPeriod(key.partitionKey, plan.landing.period),
        catalog.getLanding(key.partitionKey, plan.landing.period, plan.landing.runId),
      ]);
      if (existing) return undefined;
      period = again;
    }
    throw new Error(
      `landings ${key.partitionKey} period ${plan.landing.period}: the period row kept changing; retry`,
    );
  }

  /** Brings an existing row up to date with a redelivered manifest, keeping `catalogedAt` and the
   * supersession flags; a complete row is never downgraded. */
  async update(
    table: LandingTable,
    key: LandingKey,
    next: LandingRecord,
  ): Promise<{ record: LandingRecord; changed: boolean }> {
    for (let attempt = 1; ; attempt++) {
      const existing = await table.get(key);
      if (!existing) {
        if (await table.create(next)) return { record: next, changed: true };
        if (attempt >= MAX_MODIFY_ATTEMPTS) {
          throw new Error(`landing ${key.partitionKey}/${key.rowKey} kept appearing and vanishing; retry`);
        }
        continue;
      }
      const merged: LandingRecord = {
        ...withFlags(next, existing),
        catalogedAt: existing.catalogedAt,
      };
      if (
        sameLandingFacts(existing, merged) ||
        (existing.state === 'complete' && merged.state !== 'complete')
      ) {
        return { record: existing, changed: false };
      }
      try {
        await table.replaceIfMatch(merged, existing.etag);
        return { record: merged, changed: true };
      } catch (error) {
        if (!(error instanceof CatalogConflictError) || attempt >= MAX_MODIFY_ATTEMPTS) throw error;
      }
    }
  }

  /** Lists the period's runs and writes the flags planSupersession asks for, each write conditional on
   * the ETag the decision was made from, then the period row, conditional on the ETag it had before
   * the listing: so a new run committed meanwhile (which only the period row shows) makes this round
   * start again. A lost race re-lists and decides again. Returns this run's row as it ends up.
   * `wroteLanding`: this call wrote the landing row, so the period row is rewritten even if it looks
   * the same, and a new run committed meanwhile (settled without this row) makes the write fail. */
  async reconcile(
    period: string,
    key: LandingKey,
    wroteLanding: boolean,
  ): Promise<LandingRecord | undefined> {
    const partition = key.partitionKey;
    for (let round = 1; ; round++) {
      const stored = await this.catalog.getPeriod(partition, period);
      const rows: Stored<LandingRecord>[] = [];
      for await (const row of this.catalog.landingsByExport(partition, { period })) rows.push(row);
      const { settled, own, wrote, conflict } = await this.writeFlags(rows, key, wroteLanding);
      if (!conflict) {
        const live = settled
          .filter((r) => r.state !== 'rejected' && !r.superseded)
          .sort(compareRuns)
          .map(liveRunOf);
        // A redelivery that changed nothing leaves the period row as it is too.
        if (!wrote && stored && sameLiveRuns(stored.live, live)) return own;
        const record = { landingPartition: partition, period, live, updatedAt: this.now().toISOString() };
        if (await this.catalog.putPeriod(record, stored?.etag)) return own;
      }
      if (round >= MAX_RECONCILE_ROUNDS) {
        throw new Error(`landings ${partition} period ${period}: supersession kept conflicting; retry`);
      }
    }
  }

  /** Writes the flags planSupersession gives each row, each on the ETag it was read with. */
  private async writeFlags(
    rows: readonly Stored<LandingRecord>[],
    key: LandingKey,
    wroteLanding: boolean,
  ): Promise<{ settled: LandingRecord[]; own?: LandingRecord; wrote: boolean; conflict: boolean }> {
    const flags = planSupersession(rows);
    let conflict = false;
    let wrote = wroteLanding;
    let own: LandingRecord | undefined;
    const settled: LandingRecord[] = [];
    await Promise.all(
      rows.map(async (row) => {
        const want = flags.get(row)!;
        // A superseded run keeps the run it was first superseded by (see settleNewRun).
        const same = sameFlags(row, want) || (row.superseded && want.superseded);
        const result = same ? row : withFlags(row, want);
        settled.push(result);
        if (row.rowKey === key.rowKey) own = result;
        if (result === row) return;
        wrote = true;
        try {
          await this.catalog.replaceIfMatch('landings', result, row.etag);
        } catch (error) {
          if (!(error instanceof CatalogConflictError)) throw error;
          conflict = true;
        }
      }),
    );
    return { settled, ...(own ? { own } : {}), wrote, conflict };
  }
}
