// The catalog in Azure Table Storage: registered exports, SAS token metadata, landed runs and their
// files, and which backfill waits for which export. Writes are idempotent upserts (a redelivered event
// changes nothing); reads stream page by page; read-modify-write goes through ETags.
import type { TransactionAction } from '@azure/data-tables';

import type { LandingFlagChange } from '../domain/landingPlan';
import type { Scope } from '../domain/scope';
import { ADAPTER_TABLES } from './appTables';
import {
  backfillKeys,
  type BackfillLookup,
  backfillLookupFromRow,
  backfillLookupKeys,
  type BackfillRunRecord,
} from './catalog/backfillRecords';
import { CatalogConflictError, wonRace } from './catalog/conflicts';
import {
  exportKeys,
  type ExportLastRun,
  type ExportRecord,
  lastRunProperties,
  type OutOfBandAttempt,
  outOfBandAttemptProperties,
} from './catalog/exportRecords';
import { assertNoSecrets, compact } from './catalog/guards';
import { landingFilesPrefix } from './catalog/keys';
import { type LandingCommit, landingCommitActions } from './catalog/landingCommit';
import {
  landingFileFromRow,
  type LandingFileRecord,
  landingFileToRow,
  landingKeys,
  type LandingRecord,
  periodFromRow,
  periodKeys,
  type PeriodRecord,
  periodToRow,
} from './catalog/landingRecords';
import {
  type CatalogOptions,
  catalogSettings,
  type CatalogTableClient,
  type ModifyOptions,
  type Page,
  type PageOptions,
} from './catalog/options';
import {
  allRows,
  backfillLookupsNamed,
  backfillRunsOf,
  type CatalogQuery,
  exportsNamed,
  exportsOfScope,
  landingFilesFilter,
  landingsOfExport,
  tokensOfAccount,
} from './catalog/queries';
import { MAPPINGS, type RecordTypes, type Stored, TABLE_KINDS, type TableKind } from './catalog/records';
import { tokenKeys, type TokenRecord } from './catalog/tokenRecords';
import {
  MAX_TRANSACTION_ACTIONS,
  type Row,
  type UpsertManyResult,
  upsertRowsInTransactions,
} from './catalog/transactions';
import { storageRefusal, unlessMissing, wentThrough } from './storageRefusal';

export type { LandingFlagChange };
export * from './catalog/backfillRecords';
export { CatalogConflictError } from './catalog/conflicts';
export * from './catalog/exportRecords';
export {
  CatalogDataError,
  CatalogSecretError,
  looksLikeSecret,
  MAX_STRING_PROPERTY_LENGTH,
} from './catalog/guards';
export * from './catalog/keys';
export type { LandingCommit } from './catalog/landingCommit';
export * from './catalog/landingRecords';
export * from './catalog/ledgerRecords';
export type {
  CatalogOptions,
  CatalogTableClient,
  ModifyOptions,
  Page,
  PageOptions,
  TableClientFactory,
} from './catalog/options';
export * from './catalog/queries';
export * from './catalog/records';
export * from './catalog/tokenRecords';
export {
  mapWithConcurrency,
  MAX_TRANSACTION_ACTIONS,
  planTransactions,
  type Row,
  type UpsertManyOptions,
  type UpsertManyResult,
  upsertRowsInTransactions,
} from './catalog/transactions';

type Keys = { partitionKey: string; rowKey: string };

export class Catalog {
  private readonly clients = new Map<TableKind, CatalogTableClient>();
  private readonly prefix: string;
  private readonly concurrency: number;
  private readonly pageSize: number;

  constructor(private readonly options: CatalogOptions) {
    const settings = catalogSettings(options);
    this.prefix = settings.prefix;
    this.concurrency = settings.concurrency;
    this.pageSize = settings.pageSize;
  }

  tableName(table: TableKind): string {
    return `${this.prefix}${table}`;
  }

  /** Creates every table the app uses that does not exist yet, under this catalog's prefix: the
   * catalog's own (TABLE_KINDS) and the other adapters' (ADAPTER_TABLES: alert state, fleet, throttle
   * budget). Safe to call at every start. */
  async ensureTables(): Promise<void> {
    await Promise.all([
      ...TABLE_KINDS.map((t) => this.client(t).createTable()),
      ...ADAPTER_TABLES.map((name) => this.options.tableClient(`${this.prefix}${name}`).createTable()),
    ]);
  }

  // ------------------------------------------------------------------------------------ generic writes

  /** Idempotent upsert (Replace): writing the same record again leaves an identical row. */
  async upsert<K extends TableKind>(table: K, record: RecordTypes[K]): Promise<void> {
    const rows = this.rowsOf(table, record);
    await Promise.all(rows.map((row) => this.client(table).upsertEntity(row, 'Replace')));
  }

  /** Upserts many records in transactions of ≤100 rows per partition, partitions in parallel
   * (bounded). Validates every record before anything is sent. */
  async upsertMany<K extends TableKind>(
    table: K,
    records: readonly RecordTypes[K][],
  ): Promise<UpsertManyResult> {
    const rows = records.flatMap((r) => this.rowsOf(table, r));
    return upsertRowsInTransactions(this.client(table), rows, { concurrency: this.concurrency });
  }

  /** Replaces the row only if its ETag is still `etag`; returns the new ETag. */
  async replaceIfMatch<K extends TableKind>(table: K, record: RecordTypes[K], etag: string): Promise<string> {
    const [row, ...rest] = this.rowsOf(table, record);
    const response = await this.conditional(table, row!, () =>
      this.client(table).updateEntity(row!, 'Replace', { etag }),
    );
    await Promise.all(rest.map((r) => this.client(table).upsertEntity(r, 'Replace')));
    return response.etag ?? '';
  }

  /** Read-modify-write with ETags, retried when another writer got there first. `change` returns the
   * new record, or undefined to leave the row as it is; it must keep the keys. Returns undefined when
   * the row does not exist. */
  async modify<K extends TableKind>(
    table: K,
    keys: Keys,
    change: (current: RecordTypes[K]) => RecordTypes[K] | undefined,
    options: ModifyOptions = {},
  ): Promise<Stored<RecordTypes[K]> | undefined> {
    const maxAttempts = options.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      const current = await this.get(table, keys);
      if (!current) return undefined;
      const next = change(current);
      if (next === undefined) return current;
      const [row] = this.rowsOf(table, next);
      if (row!.partitionKey !== keys.partitionKey || row!.rowKey !== keys.rowKey) {
        throw new TypeError(`${this.tableName(table)}: a change must not alter the row's keys`);
      }
      try {
        const etag = await this.replaceIfMatch(table, next, current.etag);
        return { ...next, ...keys, etag };
      } catch (error) {
        if (!(error instanceof CatalogConflictError) || attempt >= maxAttempts) throw error;
      }
    }
  }

  // ------------------------------------------------------------------------------------- generic reads

  /** Point read; undefined when the row does not exist. */
  async get<K extends TableKind>(table: K, keys: Keys): Promise<Stored<RecordTypes[K]> | undefined> {
    const row = await this.pointRead(table, keys);
    return row && this.stored(table, row);
  }

  /** One page of a query, for callers that hand a continuation token to their own caller. */
  async page<K extends TableKind>(
    { table, filter }: CatalogQuery<K>,
    options: PageOptions = {},
  ): Promise<Page<Stored<RecordTypes[K]>>> {
    const pages = this.client(table)
      .listEntities({ queryOptions: filter ? { filter } : {} })
      .byPage({
        maxPageSize: options.maxPageSize ?? this.pageSize,
        ...(options.continuationToken ? { continuationToken: options.continuationToken } : {}),
      });
    const result = await pages.next();
    if (result.done) return { items: [] };
    const page = result.value;
    return {
      items: page.filter((row) => !isHeadRow(table, row)).map((row) => this.stored(table, row)),
      ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
    };
  }

  /** Streams every matching row, one page in memory at a time. */
  async *query<K extends TableKind>({
    table,
    filter,
  }: CatalogQuery<K>): AsyncGenerator<Stored<RecordTypes[K]>, void, undefined> {
    const pages = this.client(table)
      .listEntities({ queryOptions: filter ? { filter } : {} })
      .byPage({ maxPageSize: this.pageSize });
    for await (const page of pages) {
      for (const row of page) if (!isHeadRow(table, row)) yield this.stored(table, row);
    }
  }

  // -------------------------------------------------------------------------------------------- exports

  upsertExport(record: ExportRecord): Promise<void> {
    return this.upsert('exports', record);
  }

  getExport(scope: Scope | string, exportName: string): Promise<Stored<ExportRecord> | undefined> {
    return this.get('exports', exportKeys(scopeText(scope), exportName));
  }

  /** The registered exports of that name in every scope (a scan across partitions). */
  exportsNamed(exportName: string): AsyncGenerator<Stored<ExportRecord>, void, undefined> {
    return this.query(exportsNamed(exportName));
  }

  /** Every registered export, or those of one scope (one partition). */
  listExports(scope?: Scope | string): AsyncGenerator<Stored<ExportRecord>, void, undefined> {
    return this.query(scope === undefined ? allRows('exports') : exportsOfScope(scopeText(scope)));
  }

  exportsPage(options: PageOptions & { scope?: Scope | string } = {}): Promise<Page<Stored<ExportRecord>>> {
    const { scope, ...paging } = options;
    return this.page(scope === undefined ? allRows('exports') : exportsOfScope(scopeText(scope)), paging);
  }

  /** Records a run on an export without reading it (Merge). False when the export is not registered. */
  recordExportRun(scope: Scope | string, exportName: string, run: ExportLastRun): Promise<boolean> {
    return this.merge(
      'exports',
      compact({ ...exportKeys(scopeText(scope), exportName), ...lastRunProperties(run, 'merge') }),
    );
  }

  /** Records this app's out-of-band attempt without reading the export (Merge). False when unknown. */
  recordOutOfBandAttempt(
    scope: Scope | string,
    exportName: string,
    attempt: OutOfBandAttempt,
  ): Promise<boolean> {
    return this.merge('exports', {
      ...exportKeys(scopeText(scope), exportName),
      ...outOfBandAttemptProperties(attempt),
    });
  }

  modifyExport(
    scope: Scope | string,
    exportName: string,
    change: (current: ExportRecord) => ExportRecord | undefined,
    options?: ModifyOptions,
  ): Promise<Stored<ExportRecord> | undefined> {
    return this.modify('exports', exportKeys(scopeText(scope), exportName), change, options);
  }

  // --------------------------------------------------------------------------------------------- tokens

  upsertToken(record: TokenRecord): Promise<void> {
    return this.upsert('tokens', record);
  }

  getToken(storageAccount: string, tokenId: string): Promise<Stored<TokenRecord> | undefined> {
    return this.get('tokens', tokenKeys(storageAccount, tokenId));
  }

  /** Every token's metadata, or one storage account's. */
  listTokens(storageAccount?: string): AsyncGenerator<Stored<TokenRecord>, void, undefined> {
    return this.query(storageAccount === undefined ? allRows('tokens') : tokensOfAccount(storageAccount));
  }

  /**
   * Makes `record` the account's one active token and marks every other active token `rotated`, in
   * one transaction guarded by ETags: the account's head row (If-Match, or insert when it has none)
   * and each superseded row. Two registrations racing for one account cannot both commit on the same
   * head ETag, so the loser re-reads and supersedes the winner: one active token whatever the
   * concurrency, across instances. Returns the id of the token it replaced (the same id when the
   * same token is registered again).
   */
  async activateToken(
    record: TokenRecord,
    rotatedAt: string,
    options: ModifyOptions = {},
  ): Promise<{ replacedTokenId?: string }> {
    const maxAttempts = options.maxAttempts ?? 10;
    const [row] = this.rowsOf('tokens', record);
    const head = { partitionKey: row!.partitionKey, rowKey: TOKEN_HEAD_ROW };
    for (let attempt = 1; ; attempt++) {
      const current = await this.pointRead('tokens', head);
      const actions: TransactionAction[] = [
        current === undefined
          ? ['create', { ...head, activeTokenId: record.tokenId }]
          : ['update', { ...head, activeTokenId: record.tokenId }, 'Replace', { etag: current.etag }],
        ['upsert', row!, 'Replace'],
      ];
      let replacedTokenId: string | undefined;
      for await (const old of this.listTokens(record.storageAccount)) {
        if (old.status !== 'active') continue;
        replacedTokenId = old.tokenId === record.tokenId ? (replacedTokenId ?? old.tokenId) : old.tokenId;
        if (old.tokenId === record.tokenId) continue;
        const { partitionKey: _p, rowKey: _r, etag, ...oldRecord } = old;
        const [rotated] = this.rowsOf('tokens', { ...oldRecord, status: 'rotated', rotatedAt });
        actions.push(['update', rotated!, 'Replace', { etag }]);
      }
      if (actions.length > MAX_TRANSACTION_ACTIONS) {
        throw new RangeError(`activateToken: ${actions.length} active tokens to supersede at once`);
      }
      if (await wonRace(this.client('tokens').submitTransaction(actions))) {
        return replacedTokenId === undefined ? {} : { replacedTokenId };
      }
      if (attempt >= maxAttempts) {
        throw new CatalogConflictError(this.tableName('tokens'), head.partitionKey, head.rowKey, 'changed');
      }
    }
  }

  modifyToken(
    storageAccount: string,
    tokenId: string,
    change: (current: TokenRecord) => TokenRecord | undefined,
    options?: ModifyOptions,
  ): Promise<Stored<TokenRecord> | undefined> {
    return this.modify('tokens', tokenKeys(storageAccount, tokenId), change, options);
  }

  // ------------------------------------------------------------------------------------------- landings

  upsertLanding(record: LandingRecord): Promise<void> {
    return this.upsert('landings', record);
  }

  /** Inserts the landing unless a row for the run exists already; true when this call created it.
   * The way to catalogue a possibly redelivered event without undoing a later `superseded` mark. */
  async createLanding(record: LandingRecord): Promise<boolean> {
    const [row] = this.rowsOf('landings', record);
    return wentThrough(this.client('landings').createEntity(row!), 'exists');
  }

  getLanding(
    exportKeyValue: string,
    period: string,
    runId: string,
  ): Promise<Stored<LandingRecord> | undefined> {
    return this.get('landings', landingKeys(exportKeyValue, period, runId));
  }

  /** Landings of one export (see `exportKey(scope, exportName)`), ordered by period then run id;
   * with `period`, only that period's runs. */
  landingsByExport(
    exportKeyValue: string,
    options: { period?: string } = {},
  ): AsyncGenerator<Stored<LandingRecord>, void, undefined> {
    return this.query(landingsOfExport(exportKeyValue, options.period));
  }

  modifyLanding(
    exportKeyValue: string,
    period: string,
    runId: string,
    change: (current: LandingRecord) => LandingRecord | undefined,
    options?: ModifyOptions,
  ): Promise<Stored<LandingRecord> | undefined> {
    return this.modify('landings', landingKeys(exportKeyValue, period, runId), change, options);
  }

  // ----------------------------------------------------------------------- landing files, period rows

  /** One row per blob of a run, in transactions (≤100 rows each, in the landing's partition). */
  upsertLandingFiles(files: readonly LandingFileRecord[]): Promise<UpsertManyResult> {
    const rows = files.map((f) => this.checked(landingFileToRow(f)));
    return upsertRowsInTransactions(this.client('landings'), rows, { concurrency: this.concurrency });
  }

  /** A run's files in part order. */
  async *landingFilesOf(
    landingPartition: string,
    period: string,
    runId: string,
  ): AsyncGenerator<LandingFileRecord, void, undefined> {
    const filter = landingFilesFilter(landingPartition, landingFilesPrefix(period, runId));
    const pages = this.client('landings')
      .listEntities({ queryOptions: { filter } })
      .byPage({ maxPageSize: this.pageSize });
    for await (const page of pages) for (const row of page) yield landingFileFromRow(row);
  }

  /** The period row of one export and period (point read); undefined before its first landing. */
  async getPeriod(landingPartition: string, period: string): Promise<Stored<PeriodRecord> | undefined> {
    const keys = periodKeys(landingPartition, period);
    const row = await this.pointRead('landings', keys);
    return row && { ...periodFromRow(row), ...keys, etag: row.etag };
  }

  /**
   * Writes a new landing with its files, the flag changes it causes on the period's other runs, and
   * the period row, in one entity group transaction: all or nothing. The landing is inserted (a run
   * catalogued before makes it fail), the period row is inserted or replaced on its ETag, so a
   * concurrent landing of the same period makes one of the two fail. False when it lost such a race
   * (409, 412, or 404 for a flagged row that is gone); the caller reads again and decides again.
   */
  async commitLanding(commit: LandingCommit): Promise<boolean> {
    const landing = this.rowsOf('landings', commit.landing)[0]!;
    const period = this.checked(periodToRow(commit.period));
    const files = commit.files.map((f) => this.checked(landingFileToRow(f)));
    const actions = landingCommitActions(commit, { landing, period, files });
    return wonRace(this.client('landings').submitTransaction(actions));
  }

  /** Replaces the period row on its ETag, or inserts it when `etag` is undefined; false on a lost race. */
  async putPeriod(record: PeriodRecord, etag: string | undefined): Promise<boolean> {
    const row = this.checked(periodToRow(record));
    const client = this.client('landings');
    return wonRace(
      etag === undefined ? client.createEntity(row) : client.updateEntity(row, 'Replace', { etag }),
    );
  }

  // --------------------------------------------------------------------------------------- backfillRuns

  /** Writes the run row and its lookup row (export name + month → backfill). */
  upsertBackfillRun(record: BackfillRunRecord): Promise<void> {
    return this.upsert('backfillRuns', record);
  }

  getBackfillRun(
    backfillId: string,
    dataset: string,
    month: string,
  ): Promise<Stored<BackfillRunRecord> | undefined> {
    return this.get('backfillRuns', backfillKeys(backfillId, dataset, month));
  }

  /** A backfill's runs, ordered by dataset then month. */
  listBackfillRuns(backfillId: string): AsyncGenerator<Stored<BackfillRunRecord>, void, undefined> {
    return this.query(backfillRunsOf(backfillId));
  }

  /** Point read for the blob trigger: which backfill (and orchestration instance) waits for this
   * scope's export and month (the manifest's `exportConfig.resourceId` gives both). */
  async findBackfillRun(
    scope: Scope | string,
    exportName: string,
    month: string,
  ): Promise<BackfillLookup | undefined> {
    const row = await this.pointRead('backfillRuns', backfillLookupKeys(scopeText(scope), exportName, month));
    return row && backfillLookupFromRow(row);
  }

  /** The lookup rows of a backfill export name and month in every scope: which scopes' backfills
   * created an export of that name (and where it delivered), even after it was deleted. */
  async *backfillLookupsNamed(exportName: string, month: string): AsyncGenerator<BackfillLookup> {
    const pages = this.client('backfillRuns')
      .listEntities<Record<string, unknown>>({
        queryOptions: { filter: backfillLookupsNamed(exportName, month).filter },
      })
      .byPage({ maxPageSize: this.pageSize });
    for await (const page of pages) for (const row of page) yield backfillLookupFromRow(row);
  }

  modifyBackfillRun(
    backfillId: string,
    dataset: string,
    month: string,
    change: (current: BackfillRunRecord) => BackfillRunRecord | undefined,
    options?: ModifyOptions,
  ): Promise<Stored<BackfillRunRecord> | undefined> {
    return this.modify('backfillRuns', backfillKeys(backfillId, dataset, month), change, options);
  }

  // ------------------------------------------------------------------------------------------ internals

  /** Merges columns into an existing row; false when the row does not exist. */
  private async merge(table: TableKind, row: Row): Promise<boolean> {
    assertNoSecrets(this.tableName(table), row);
    return wentThrough(this.client(table).updateEntity(row, 'Merge', { etag: '*' }), 'missing');
  }

  private client(table: TableKind): CatalogTableClient {
    let client = this.clients.get(table);
    if (!client) this.clients.set(table, (client = this.options.tableClient(this.tableName(table))));
    return client;
  }

  /** A row as stored, or undefined when there is none. */
  private async pointRead(
    table: TableKind,
    keys: Keys,
  ): Promise<(Record<string, unknown> & { etag: string }) | undefined> {
    return unlessMissing(
      this.client(table).getEntity<Record<string, unknown>>(keys.partitionKey, keys.rowKey),
    );
  }

  /** Refuses a landings-table row (file, period) that holds anything that looks like a secret. */
  private checked(row: Row): Row {
    assertNoSecrets(this.tableName('landings'), row);
    return row;
  }

  /** Validates a record into its rows and refuses anything that looks like a secret. */
  private rowsOf<K extends TableKind>(table: K, record: RecordTypes[K]): Row[] {
    const rows = MAPPINGS[table].toRows(record);
    for (const row of rows) assertNoSecrets(this.tableName(table), row);
    return rows;
  }

  private stored<K extends TableKind>(
    table: K,
    row: Record<string, unknown> & { etag: string },
  ): Stored<RecordTypes[K]> {
    const record = MAPPINGS[table].fromRow(row);
    return { ...record, partitionKey: String(row.partitionKey), rowKey: String(row.rowKey), etag: row.etag };
  }

  private async conditional<T>(table: TableKind, row: Row, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      const reason = storageRefusal(error);
      if (reason === 'changed' || reason === 'missing') {
        throw new CatalogConflictError(this.tableName(table), row.partitionKey, row.rowKey, reason, {
          cause: error,
        });
      }
      throw error;
    }
  }
}

/** The tokens table's per-account head row (RowKey sorts after every token id, 12 hex digits): its
 * ETag serialises activations. Not a token: queries skip it. */
export const TOKEN_HEAD_ROW = '~head';

function isHeadRow(table: TableKind, row: { rowKey?: unknown }): boolean {
  return table === 'tokens' && row.rowKey === TOKEN_HEAD_ROW;
}

function scopeText(scope: Scope | string): string {
  return typeof scope === 'string' ? scope : scope.canonical;
}
