// The SAS expiry watch: one pass over the tokens and exports tables, one digest e-mail, and only
// after the mail was accepted, the alert state (tokens.lastAlertThresholdDays/lastAlertAt and the
// per-export rows of the alertState table). A mail outage therefore loses nothing: the next run
// finds the same alerts still unsent. Run status comes from the exports table (the export sync keeps
// it fresh) or, with `scanRunHistory`, from one `list $expand=runHistory` per scope: never a GET
// per export.
import type { AlertStateStore } from '../azure/alertState';
import {
  type Catalog,
  exportKey,
  type ExportRecord,
  mapWithConcurrency,
  type TokenRecord,
} from '../azure/catalog';
import type { CostExportsApi } from '../azure/costExports';
import type { Mailer } from '../azure/mailer';
import {
  carriesStaleToken,
  composeDigest,
  currentToken,
  type FailingExportItem,
  failureKey,
  type LastRunView,
  normalizeThresholds,
  sasFailure,
  type StaleExportItem,
  type TokenAlert,
  tokenAlert,
  type TokenDigestItem,
} from '../domain/alertPolicy';
import { redactError, redactSecrets } from '../domain/redact';

// ------------------------------------------------------------------------------------- ports

export type WatchCatalog = Pick<Catalog, 'listTokens' | 'listExports' | 'modifyToken'>;

export type WatchLog = (level: 'info' | 'warn' | 'error', message: string) => void;

export interface SasWatchDeps {
  catalog: WatchCatalog;
  mailer: Mailer;
  state: AlertStateStore;
  /** Needed only with `scanRunHistory`. */
  costExports?: Pick<CostExportsApi, 'list'>;
  log?: WatchLog;
}

/** Everything a watch run needs besides the invocation: adapters, settings and the clock. */
export interface SasWatchRuntime {
  deps: Omit<SasWatchDeps, 'log'>;
  options: Omit<SasWatchOptions, 'now'>;
  now(): Date;
}

export interface SasWatchOptions {
  now: Date;
  thresholdsDays: readonly number[];
  recipients: readonly string[];
  /** `https://{WEBSITE_HOSTNAME}`, for the rotate call in the digest. */
  appBaseUrl: string;
  /** Read each scope's last runs with one list call instead of trusting the exports table. */
  scanRunHistory?: boolean;
  maxItemsPerSection?: number;
  /** Exports named under each token in the digest (the rest are counted). Default 5. */
  exportsListedPerToken?: number;
  /** Parallel state writes after the mail was accepted. Default 8. */
  stateWriteConcurrency?: number;
}

export type MailOutcome = 'sent' | 'nothingToSend' | 'failed';

export interface SasWatchResult {
  at: string;
  tokensScanned: number;
  exportsScanned: number;
  scopesScanned: number;
  /** ARM calls this run made (list calls in scan mode; 0 otherwise). */
  armCalls: number;
  alerts: { expired: number; expiring: number; failing: number; stale: number };
  mail: MailOutcome;
  subject?: string;
  messageId?: string;
  /** Why the mail was not accepted (redacted); the alerts stay pending for the next run. */
  error?: string;
  /** State rows written after the mail was accepted, and writes that failed. */
  stateWrites: { tokens: number; exports: number; failed: number };
}

// ------------------------------------------------------------------------------------- the run

const tokenKey = (account: string, tokenId: string) => `${account}\u0000${tokenId}`;

interface PendingExportState {
  partition: 'failure' | 'stale';
  key: string;
  value: string;
}

/** One watch run: scan, digest, send, then record. Never throws for a mail failure (see `mail`). */
export async function runSasWatch(deps: SasWatchDeps, options: SasWatchOptions): Promise<SasWatchResult> {
  const log: WatchLog = deps.log ?? (() => undefined);
  const now = options.now;
  const thresholds = normalizeThresholds(options.thresholdsDays);
  const listedPerToken = options.exportsListedPerToken ?? 5;
  if (options.scanRunHistory && !deps.costExports) {
    throw new TypeError('costExports: required when scanRunHistory is set');
  }

  // 1. Tokens: which alert, and each account's current token (streamed, one page at a time).
  const alerts = new Map<string, TokenDigestItem>();
  const current = new Map<string, TokenRecord>();
  let tokensScanned = 0;
  for await (const token of deps.catalog.listTokens()) {
    tokensScanned++;
    const best = current.get(token.storageAccount);
    const next = currentToken(best ? [best, token] : [token]);
    if (next) current.set(token.storageAccount, next);
    const alert = tokenAlert(token, now, thresholds);
    if (alert)
      alerts.set(tokenKey(token.storageAccount, token.tokenId), { alert, exports: [], exportCount: 0 });
  }

  // 2. Exports: who uses an alerting token, who fails on authorization, who carries a replaced token.
  const [failureState, staleState] = await Promise.all([
    deps.state.load('failure'),
    deps.state.load('stale'),
  ]);
  const seenFailing = new Set<string>();
  const seenStale = new Set<string>();
  const failing: FailingExportItem[] = [];
  const stale: StaleExportItem[] = [];
  const pending: PendingExportState[] = [];
  let exportsScanned = 0;
  let scopesScanned = 0;
  let armCalls = 0;
  let scopeRuns: { scope: string; runs: Map<string, LastRunView> | undefined } | undefined;

  for await (const record of deps.catalog.listExports()) {
    exportsScanned++;
    if (record.missing) continue;
    let lastRun: LastRunView | undefined = record.lastRun;
    if (options.scanRunHistory) {
      if (scopeRuns?.scope !== record.scope) {
        scopesScanned++;
        armCalls++;
        scopeRuns = {
          scope: record.scope,
          runs: await lastRunsOfScope(deps.costExports!, record.scope, log),
        };
      }
      lastRun = scopeRuns.runs?.get(record.exportName.toLowerCase()) ?? lastRun;
    }
    const key = exportKey(record.scope, record.exportName);
    const account = record.destination.storageAccount;
    const accountToken = current.get(account);

    if (record.destination.sasDelivered) {
      const tokenId = record.destination.tokenRef ?? accountToken?.tokenId;
      const item = tokenId === undefined ? undefined : alerts.get(tokenKey(account, tokenId));
      if (item) {
        item.exportCount++;
        if (item.exports.length < listedPerToken) {
          item.exports.push({ scope: record.scope, exportName: record.exportName });
        }
      }
    }

    const reason = sasFailure(lastRun);
    if (reason && lastRun) {
      seenFailing.add(key);
      const value = failureKey(lastRun);
      if (failureState.get(key) !== value) {
        failing.push({
          scope: record.scope,
          exportName: record.exportName,
          storageAccount: account,
          reason,
          status: lastRun.status,
          at: lastRun.at,
          ...(lastRun.error ? { error: redactSecrets(lastRun.error) } : {}),
        });
        pending.push({ partition: 'failure', key, value });
      }
    }

    if (accountToken && carriesStaleToken(tokenView(record), accountToken)) {
      seenStale.add(key);
      if (staleState.get(key) !== accountToken.tokenId) {
        stale.push({
          scope: record.scope,
          exportName: record.exportName,
          storageAccount: account,
          ...(record.destination.tokenRef ? { carriedTokenId: record.destination.tokenRef } : {}),
          currentTokenId: accountToken.tokenId,
        });
        pending.push({ partition: 'stale', key, value: accountToken.tokenId });
      }
    }
  }

  // Exports that recovered (or were rotated) no longer need their state rows; removing them loses nothing.
  const recovered = [
    ...[...failureState.keys()].filter((k) => !seenFailing.has(k)).map((k) => ['failure', k] as const),
    ...[...staleState.keys()].filter((k) => !seenStale.has(k)).map((k) => ['stale', k] as const),
  ];
  let stateFailures = 0;
  await mapWithConcurrency(recovered, options.stateWriteConcurrency ?? 8, async ([partition, key]) => {
    try {
      await deps.state.remove(partition, key);
    } catch (error) {
      stateFailures++;
      log('warn', `alert state ${partition}/${key} could not be removed: ${redactError(error)}`);
    }
  });

  const tokenItems = [...alerts.values()];
  const expired = tokenItems.filter((t) => t.alert.kind === 'expired').length;
  const result: SasWatchResult = {
    at: now.toISOString(),
    tokensScanned,
    exportsScanned,
    scopesScanned,
    armCalls,
    alerts: { expired, expiring: tokenItems.length - expired, failing: failing.length, stale: stale.length },
    mail: 'nothingToSend',
    stateWrites: { tokens: 0, exports: 0, failed: stateFailures },
  };

  // 3. Nothing new: no mail.
  if (tokenItems.length === 0 && failing.length === 0 && stale.length === 0) {
    log(
      'info',
      `SAS watch: ${tokensScanned} tokens and ${exportsScanned} exports checked, nothing new to report`,
    );
    await saveSummary(deps.state, result, log);
    return result;
  }

  // 4. One digest to everyone.
  const digest = composeDigest({
    now,
    tokens: tokenItems,
    failing,
    stale,
    appBaseUrl: options.appBaseUrl,
    ...(options.maxItemsPerSection !== undefined ? { maxItemsPerSection: options.maxItemsPerSection } : {}),
  });
  result.subject = digest.subject;
  try {
    const receipt = await deps.mailer.send({ to: options.recipients, ...digest });
    result.mail = 'sent';
    if (receipt.messageId) result.messageId = receipt.messageId;
    if (receipt.rejected.length > 0) {
      log('warn', `SAS watch: the mail relay refused ${receipt.rejected.join(', ')}`);
    }
  } catch (error) {
    result.mail = 'failed';
    result.error = redactError(error);
    log(
      'error',
      `SAS watch: digest "${digest.subject}" was not accepted (${result.error}); ${tokenItems.length + failing.length + stale.length} alert(s) stay pending for the next run`,
    );
    await saveSummary(deps.state, result, log);
    return result;
  }

  // 5. Only now: remember what was said.
  await mapWithConcurrency(tokenItems, options.stateWriteConcurrency ?? 8, async ({ alert }) => {
    try {
      await deps.catalog.modifyToken(alert.storageAccount, alert.tokenId, (row) =>
        recordAlert(row, alert, now),
      );
      result.stateWrites.tokens++;
    } catch (error) {
      result.stateWrites.failed++;
      log(
        'warn',
        `token ${alert.storageAccount}/${alert.tokenId}: alert state not saved: ${redactError(error)}`,
      );
    }
  });
  await mapWithConcurrency(pending, options.stateWriteConcurrency ?? 8, async (p) => {
    try {
      await deps.state.put(p.partition, p.key, p.value);
      result.stateWrites.exports++;
    } catch (error) {
      result.stateWrites.failed++;
      log('warn', `alert state ${p.partition}/${p.key} not saved: ${redactError(error)}`);
    }
  });
  log(
    'info',
    `SAS watch: sent "${digest.subject}" to ${options.recipients.length} recipient(s) via ${deps.mailer.transport}`,
  );
  await saveSummary(deps.state, result, log);
  return result;
}

/** The token row with the alert recorded, unless the row moved on since the scan (rotated or
 * re-registered with another expiry): then it is left alone. */
function recordAlert(row: TokenRecord, alert: TokenAlert, now: Date): TokenRecord | undefined {
  if (row.expiresOn !== alert.expiresOn || row.status === 'rotated' || row.status === 'revoked') {
    return undefined;
  }
  return { ...row, lastAlertThresholdDays: alert.recordThresholdDays, lastAlertAt: now.toISOString() };
}

function tokenView(record: ExportRecord): { sasDelivered: boolean; tokenRef?: string } {
  return {
    sasDelivered: record.destination.sasDelivered,
    ...(record.destination.tokenRef !== undefined ? { tokenRef: record.destination.tokenRef } : {}),
  };
}

/** The last run of every export at a scope from one list call; undefined (use the table) when it fails. */
async function lastRunsOfScope(
  costExports: Pick<CostExportsApi, 'list'>,
  scope: string,
  log: WatchLog,
): Promise<Map<string, LastRunView> | undefined> {
  try {
    const exports = await costExports.list(scope, { expandRunHistory: true });
    const runs = new Map<string, LastRunView>();
    for (const e of exports) {
      const run = e.properties.runHistory?.[0];
      const at = run?.submittedTime ?? run?.processingEndTime;
      if (!e.name || !run?.status || !at) continue;
      const error = run.error ? [run.error.code, run.error.message].filter(Boolean).join(': ') : undefined;
      runs.set(e.name.toLowerCase(), {
        status: run.status,
        at,
        ...(run.runId ? { runId: run.runId } : {}),
        ...(error ? { error: redactSecrets(error) } : {}),
      });
    }
    return runs;
  } catch (error) {
    log(
      'warn',
      `SAS watch: run history of ${scope} not read, using the exports table: ${redactError(error)}`,
    );
    return undefined;
  }
}

async function saveSummary(state: AlertStateStore, result: SasWatchResult, log: WatchLog): Promise<void> {
  try {
    await state.put('watch', 'last', JSON.stringify(result));
  } catch (error) {
    log('warn', `SAS watch summary not saved: ${redactError(error)}`);
  }
}

/** The last watch run's summary (for status pages), or undefined before the first run. */
export async function lastWatchSummary(state: AlertStateStore): Promise<SasWatchResult | undefined> {
  const text = (await state.load('watch')).get('last');
  if (!text) return undefined;
  try {
    return JSON.parse(text) as SasWatchResult;
  } catch {
    return undefined;
  }
}
