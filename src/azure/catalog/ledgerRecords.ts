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
  const run = c.current;
  const attempt = c.lastAttempt;
  const healing = c.healing;
  return compact({
    ...ledgerKeys(scope, nonEmpty('exportName', c.exportName, 256), c.month),
    kind: 'cell',
    scope,
    exportName: c.exportName,
    dataset: c.dataset === undefined ? undefined : oneOf('dataset', c.dataset, EXPORT_DATASETS),
    month: c.month,
    state: oneOf('state', c.state, LEDGER_STATES),
    reason: text('reason', 1024)(c.reason || c.state),
    recheckAt: c.recheckAt === undefined ? undefined : isoTimestamp('recheckAt', c.recheckAt),
    stateSince: isoTimestamp('stateSince', c.stateSince),
    runs: wholeNumber('runs', c.runs),
    supersededRuns: wholeNumber('supersededRuns', c.supersededRuns),
    lastLandingAt: c.lastLandingAt === undefined ? undefined : isoTimestamp('lastLandingAt', c.lastLandingAt),
    runId: run ? nonEmpty('current.runId', run.runId, 128) : undefined,
    runTime: run ? isoTimestamp('current.runTime', run.runTime) : undefined,
    runRows: run?.rows === undefined ? undefined : int64('current.rows', run.rows),
    runBytes: run ? int64('current.bytes', run.bytes) : undefined,
    runNoData: run ? Boolean(run.noData) : undefined,
    runCatalogedAt: run ? isoTimestamp('current.catalogedAt', run.catalogedAt) : undefined,
    attemptAt: attempt ? isoTimestamp('lastAttempt.at', attempt.at) : undefined,
    attemptOutcome: attempt
      ? oneOf('lastAttempt.outcome', attempt.outcome, ['failed', 'noData'] as const)
      : undefined,
    attemptReason: attempt ? text('lastAttempt.reason', 2048)(attempt.reason || attempt.outcome) : undefined,
    attemptSource: attempt
      ? oneOf('lastAttempt.source', attempt.source, ['export', 'backfill', 'healing'] as const)
      : undefined,
    attemptBackfillId:
      attempt?.backfillId === undefined
        ? undefined
        : nonEmpty('lastAttempt.backfillId', attempt.backfillId, 256),
    attemptCount:
      attempt?.attempts === undefined
        ? undefined
        : wholeNumber('lastAttempt.attempts', attempt.attempts, 0, 1000),
    healAttempts: healing ? wholeNumber('healing.attempts', healing.attempts, 0, 1000) : undefined,
    healLastAt: healing ? isoTimestamp('healing.lastAt', healing.lastAt) : undefined,
    healBackfillId:
      healing?.backfillId === undefined ? undefined : nonEmpty('healing.backfillId', healing.backfillId, 256),
    healOutcome: healing ? text('healing.outcome', 1024)(healing.outcome) : undefined,
    updatedAt: isoTimestamp('updatedAt', c.updatedAt),
  });
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
