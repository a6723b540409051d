// One landing as one entity group transaction: its file rows, its landing row, the flag changes it
// causes on the period's other runs, and the period row whose ETag serialises them.
import type { TransactionAction } from '@azure/data-tables';

import type { LandingFlagChange } from '../../domain/landingPlan';
import { compact } from './guards';
import { landingRowKey } from './keys';
import type { LandingFileRecord, LandingRecord, PeriodRecord } from './landingRecords';
import { MAX_TRANSACTION_ACTIONS, type Row } from './transactions';

/** What Catalog.commitLanding writes in one transaction. */
export interface LandingCommit {
  /** File rows of the run (in the landing's partition), upserted. */
  files: readonly LandingFileRecord[];
  /** The new landing row, inserted. */
  landing: LandingRecord;
  /** Flag changes on other landing rows of the period (merged; the period row's ETag guards them). */
  flags: readonly LandingFlagChange[];
  period: PeriodRecord;
  /** The period row's ETag as read; undefined when there was none (it is then inserted). */
  periodEtag?: string;
}

/**
 * The transaction of `commit`, given its landing, period and file rows (validated by the caller):
 * files upserted, the landing inserted, flags merged, the period row inserted or replaced on its
 * ETag. Refuses a row outside the landing's partition and more actions than a transaction holds.
 */
export function landingCommitActions(
  commit: LandingCommit,
  rows: { landing: Row; period: Row; files: readonly Row[] },
): TransactionAction[] {
  const { landing, period, files } = rows;
  const flags = commit.flags.map((f): Row =>
    compact({
      partitionKey: landing.partitionKey,
      rowKey: landingRowKey(commit.landing.period, f.runId),
      superseded: f.superseded,
      current: f.current,
      supersededBy: f.supersededBy,
    }),
  );
  const actions: TransactionAction[] = [
    ...files.map((row): TransactionAction => ['upsert', row, 'Replace']),
    ['create', landing],
    ...flags.map((row): TransactionAction => ['update', row, 'Merge', { etag: '*' }]),
    commit.periodEtag === undefined
      ? ['create', period]
      : ['update', period, 'Replace', { etag: commit.periodEtag }],
  ];
  if (actions.some(([, row]) => row.partitionKey !== landing.partitionKey)) {
    throw new TypeError("commitLanding: every row must be in the landing's partition");
  }
  if (actions.length > MAX_TRANSACTION_ACTIONS) {
    throw new RangeError(
      `commitLanding: ${actions.length} actions; a transaction holds ${MAX_TRANSACTION_ACTIONS}`,
    );
  }
  return actions;
}
