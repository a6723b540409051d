// Timer (`%SAS_WATCH_SCHEDULE%`, daily by default): the SAS expiry watch and its digest e-mail
// (services/alerts.ts). A digest the mail service did not accept fails the invocation, so it shows
// in monitoring; nothing was recorded as alerted, and the next run sends it again.
import { app, type InvocationContext, type Timer } from '@azure/functions';

import { runSasWatch, type SasWatchResult } from '../services/alerts';
import { appService } from '../services/appServices';
import { logEvent } from './eventLog';

export const SAS_WATCH_FUNCTION = 'sasWatch';

export async function sasWatchHandler(_timer: Timer, context: InvocationContext): Promise<SasWatchResult> {
  const rt = await appService('sasWatch');
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
  logEvent(context, result.mail === 'failed' ? 'error' : 'info', 'sasWatch.finished', {
    tokens: result.tokensScanned,
    exports: result.exportsScanned,
    alerts: JSON.stringify(result.alerts),
    mail: result.mail,
  });
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
