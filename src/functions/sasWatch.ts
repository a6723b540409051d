// Timer (`%SAS_WATCH_SCHEDULE%`, daily by default): the SAS expiry watch and its digest e-mail
// (services/alerts.ts). A digest the mail service did not accept fails the invocation, so it shows
// in monitoring; nothing was recorded as alerted, and the next run sends it again.
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { createMailer } from '../azure/mailer';
import { createTableClient } from '../azure/storageClients';
import { appBaseUrl } from '../domain/alertPolicy';
import {
  alertStateTableName,
  runSasWatch,
  TableAlertStateStore,
  type SasWatchDeps,
  type SasWatchOptions,
  type SasWatchResult,
} from '../services/alerts';
import { getServices } from '../services/appContext';

export const SAS_WATCH_FUNCTION = 'sasWatch';

/** Everything a watch run needs besides the invocation: adapters, settings and the clock. */
export interface SasWatchRuntime {
  deps: Omit<SasWatchDeps, 'log'>;
  options: Omit<SasWatchOptions, 'now'>;
  now(): Date;
}

let shared: Promise<SasWatchRuntime> | undefined;

function runtime(): Promise<SasWatchRuntime> {
  shared ??= (async (): Promise<SasWatchRuntime> => {
    const { config, catalog } = await getServices();
    return {
      deps: {
        catalog,
        mailer: createMailer(config.alerts),
        state: new TableAlertStateStore(
          createTableClient(config.storage.catalog, alertStateTableName(catalog)),
        ),
      },
      options: {
        thresholdsDays: config.sasWatch.thresholdsDays,
        recipients: config.alerts.recipients,
        appBaseUrl: appBaseUrl(process.env.WEBSITE_HOSTNAME),
        // Last runs come from the exports table, which export sync refreshes (05:30, before this 06:00
        // run). scanRunHistory (one list per scope) is fresher but sequential: thousands of scopes
        // would not fit in one invocation's timeout.
      },
      now: () => new Date(),
    };
  })().catch((error: unknown) => {
    shared = undefined; // bad settings or storage down: try again next time
    throw error;
  });
  return shared;
}

/** Tests and the local host hand in their own adapters and clock; undefined goes back to settings. */
export function useSasWatchRuntime(value: SasWatchRuntime | undefined): void {
  shared = value ? Promise.resolve(value) : undefined;
}

export async function sasWatchHandler(_timer: Timer, context: InvocationContext): Promise<SasWatchResult> {
  const rt = await runtime();
  const result = await runSasWatch(
    {
      ...rt.deps,
      log: (level, message) =>
        level === 'error'
          ? context.error(message)
          : level === 'warn'
            ? context.warn(message)
            : context.log(message),
    },
    { ...rt.options, now: rt.now() },
  );
  context.log(
    `sasWatch: ${result.tokensScanned} tokens, ${result.exportsScanned} exports; alerts ${JSON.stringify(result.alerts)}; mail ${result.mail}`,
  );
  if (result.mail === 'failed') {
    throw new Error(
      `sasWatch: the digest was not accepted (${result.error ?? 'unknown error'}); nothing was marked as alerted, the next run sends it again`,
    );
  }
  return result;
}

app.timer(SAS_WATCH_FUNCTION, {
  schedule: '%SAS_WATCH_SCHEDULE%',
  handler: sasWatchHandler,
});
