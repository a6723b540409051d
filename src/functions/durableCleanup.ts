// Task hub housekeeping: a timer (`%DURABLE_CLEANUP_SCHEDULE%`, 04:15 UTC daily by default) purges
// the history of finished orchestrations (backfills and their months, out-of-band rounds) created
// more than DURABLE_HISTORY_RETENTION_DAYS ago. Without it the task hub's instance and history
// tables grow for as long as the app runs: every out-of-band tick leaves an instance behind.
// Running, pending and suspended instances are never touched. A purged backfill's status URL then
// answers 404; its per-month outcomes stay in the backfillRuns table.
import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';

import { appService } from '../services/appServices';
import { logEvent } from './eventLog';

export const DURABLE_CLEANUP_TIMER = 'durableCleanup';

const DAY_MS = 86_400_000;
const FINISHED = [
  df.OrchestrationRuntimeStatus.Completed,
  df.OrchestrationRuntimeStatus.Failed,
  df.OrchestrationRuntimeStatus.Terminated,
];

export interface CleanupResult {
  /** Finished instances created before this time were purged. */
  createdBefore: string;
  instancesDeleted: number;
}

export async function durableCleanupHandler(
  _timer: Timer,
  context: InvocationContext,
): Promise<CleanupResult> {
  const { retentionDays } = (await appService('config')).durableCleanup;
  const now = await appService('now');
  const createdTimeTo = new Date(now().getTime() - retentionDays * DAY_MS);
  const { instancesDeleted } = await df.getClient(context).purgeInstanceHistoryBy({
    createdTimeFrom: new Date(0),
    createdTimeTo,
    runtimeStatus: FINISHED,
  });
  logEvent(context, 'info', 'durable.purged', {
    instancesDeleted,
    createdBefore: createdTimeTo.toISOString(),
    retentionDays,
  });
  return { createdBefore: createdTimeTo.toISOString(), instancesDeleted };
}

app.timer(DURABLE_CLEANUP_TIMER, {
  schedule: '%DURABLE_CLEANUP_SCHEDULE%',
  extraInputs: [df.input.durableClient()],
  handler: durableCleanupHandler,
});
