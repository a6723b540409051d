// The ledger table: one row per (export, billing month), in the export's scope partition, so one
// scope's cells are one partition query and a sweep writes them in transactions. RowKey
// `{export name key}|{YYYY-MM}` lists an export's months together, oldest first.
import {
  type CellFacts,
  HEALING_POLICIES,
  type HealingRecord,
  LEDGER_STATES,
  type LedgerState,
} from '../../domain/ledger';
import { EXPORT_DATASETS, type ExportDataset, parseScope } from '../../domain/scope';
import {
  compact,
  int64,
  isoTimestamp,
  month as guardMonth,
  nonEmpty,
  oneOf,
  optional,
  redactSecrets,
  RowReader,
  wholeNumber,
} from './guards';
import { exportNameKey, scopePartitionKey } from './keys';
import type { Row } from './transactions';

export { HEALING_POLICIES };

/** One ledger cell as stored: the facts, and the state they gave when last computed. */
export interface LedgerCellRecord extends CellFacts {
  scope: string;
  exportName: string;
  dataset?: ExportDataset;
  state: LedgerState;
  reason: string;
  /** When the state changes with time alone; the sweep looks at the cell again then. */
  recheckAt?: string;
  /** When the cell entered its state. */
  stateSince: string;
  healing?: HealingRecord;
  updatedAt: string;
}

export function ledgerKeys(
  scope: string,
  exportName: string,
  month: string,
): { partitionKey: string; rowKey: string } {
  return {
    partitionKey: scopePartitionKey(scope),
    rowKey: `${exportNameKey(exportName)}|${guardMonth('month', month)}`,
  };
}

/** RowKey bounds of one export's cells within its scope partition. */
export function ledgerExportRange(exportName: string): { from: string; to: string } {
  const key = exportNameKey(exportName);
  // `|` (0x7C) is followed by `}` (0x7D): every `{key}|…` sorts between the two.
  return { from: `${key}|`, to: `${key}}` };
}

const text = (field: string, max: number) => (v: string) => nonEmpty(field, redactSecrets(v), max);

export function ledgerCellToRow(c: LedgerCellRecord): Row {
  const scope = parseScope(c.scope).canonical;
  return compact({
    ...ledgerKeys(scope, nonEmpty('exportName', c.exportName, 256), c.month),
    kind: 'cell',
    scope,
    exportName: c.exportName,
    dataset: optional(c.dataset, (v) => oneOf('dataset', v, EXPORT_DATASETS)),
    month: c.month,
    state: oneOf('state', c.state, LEDGER_STATES),
    reason: text('reason', 1024)(c.reason || c.state),
    recheckAt: optional(c.recheckAt, (v) => isoTimestamp('recheckAt', v)),
    stateSince: isoTimestamp('stateSince', c.stateSince),
    runs: wholeNumber('runs', c.runs),
    supersededRuns: wholeNumber('supersededRuns', c.supersededRuns),
    lastLandingAt: optional(c.lastLandingAt, (v) => isoTimestamp('lastLandingAt', v)),
    ...currentRunColumns(c.current),
    ...lastAttemptColumns(c.lastAttempt),
    ...healingColumns(c.healing),
    updatedAt: isoTimestamp('updatedAt', c.updatedAt),
  });
}

/** The `run…` columns: the run the cell's state rests on. */
function currentRunColumns(run: CellFacts['current']): Record<string, unknown> | undefined {
  if (!run) return undefined;
  return {
    runId: nonEmpty('current.runId', run.runId, 128),
    runTime: isoTimestamp('current.runTime', run.runTime),
    runRows: optional(run.rows, (v) => int64('current.rows', v)),
    runBytes: int64('current.bytes', run.bytes),
    runNoData: Boolean(run.noData),
    runCatalogedAt: isoTimestamp('current.catalogedAt', run.catalogedAt),
  };
}

/** The `attempt…` columns: the last attempt that did not land data. */
function lastAttemptColumns(attempt: CellFacts['lastAttempt']): Record<string, unknown> | undefined {
  if (!attempt) return undefined;
  return {
    attemptAt: isoTimestamp('lastAttempt.at', attempt.at),
    attemptOutcome: oneOf('lastAttempt.outcome', attempt.outcome, ['failed', 'noData'] as const),
    attemptReason: text('lastAttempt.reason', 2048)(attempt.reason || attempt.outcome),
    attemptSource: oneOf('lastAttempt.source', attempt.source, ['export', 'backfill', 'healing'] as const),
    attemptBackfillId: optional(attempt.backfillId, (v) => nonEmpty('lastAttempt.backfillId', v, 256)),
    attemptCount: optional(attempt.attempts, (v) => wholeNumber('lastAttempt.attempts', v, 0, 1000)),
  };
}

/** The `heal…` columns: what self-healing did for the cell. */
function healingColumns(healing: HealingRecord | undefined): Record<string, unknown> | undefined {
  if (!healing) return undefined;
  return {
    healAttempts: wholeNumber('healing.attempts', healing.attempts, 0, 1000),
    healLastAt: isoTimestamp('healing.lastAt', healing.lastAt),
    healBackfillId: optional(healing.backfillId, (v) => nonEmpty('healing.backfillId', v, 256)),
    healOutcome: text('healing.outcome', 1024)(healing.outcome),
  };
}

export function ledgerCellFromRow(row: Record<string, unknown>): LedgerCellRecord {
  const r = new RowReader('ledger', row);
  const runId = r.optionalString('runId');
  const attemptAt = r.optionalString('attemptAt');
  const healAt = r.optionalString('healLastAt');
  const datasetText = r.optionalString('dataset');
  return compact({
    scope: r.string('scope'),
    exportName: r.string('exportName'),
    dataset: datasetText === undefined ? undefined : r.oneOf('dataset', EXPORT_DATASETS),
    month: r.string('month'),
    state: r.oneOf('state', LEDGER_STATES),
    reason: r.string('reason'),
    recheckAt: r.optionalString('recheckAt'),
    stateSince: r.string('stateSince'),
    runs: r.number('runs'),
    supersededRuns: r.number('supersededRuns'),
    lastLandingAt: r.optionalString('lastLandingAt'),
    current:
      runId === undefined
        ? undefined
        : compact({
            runId,
            runTime: r.string('runTime'),
            rows: r.optionalNumber('runRows'),
            bytes: r.number('runBytes'),
            noData: r.boolean('runNoData', false),
            catalogedAt: r.string('runCatalogedAt'),
          }),
    lastAttempt:
      attemptAt === undefined
        ? undefined
        : compact({
            at: attemptAt,
            outcome: r.oneOf('attemptOutcome', ['failed', 'noData'] as const),
            reason: r.string('attemptReason'),
            source: r.oneOf('attemptSource', ['export', 'backfill', 'healing'] as const),
            backfillId: r.optionalString('attemptBackfillId'),
            attempts: r.optionalNumber('attemptCount'),
          }),
    healing:
      healAt === undefined
        ? undefined
        : compact({
            attempts: r.number('healAttempts'),
            lastAt: healAt,
            backfillId: r.optionalString('healBackfillId'),
            outcome: r.string('healOutcome'),
          }),
    updatedAt: r.string('updatedAt'),
  });
}
