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
  composeDigest,
  currentToken,
  type Digest,
  type ExportFinding,
  failingExportFinding,
  type FailingExportItem,
  type LastRunView,
  normalizeThresholds,
  recoveredKeys,
  staleExportFinding,
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

type ExportStatePartition = 'failure' | 'stale';

interface PendingExportState {
  partition: ExportStatePartition;
  key: string;
  value: string;
}

/** One round's dependencies and settings, resolved once. */
interface WatchRound {
  deps: SasWatchDeps;
  options: SasWatchOptions;
  log: WatchLog;
  thresholds: number[];
  listedPerToken: number;
  writeConcurrency: number;
  /** Where last runs come from with `scanRunHistory`; undefined: the exports table. */
  runHistory: Pick<CostExportsApi, 'list'> | undefined;
}

/** Tokens: which alert, and each account's current token. */
interface TokenScan {
  scanned: number;
  alerts: Map<string, TokenDigestItem>;
  current: Map<string, TokenRecord>;
}

/** Exports: who fails on authorization, who carries a replaced token, and the state to record. */
interface ExportScan {
  scanned: number;
  scopesScanned: number;
  armCalls: number;
  failing: FailingExportItem[];
  stale: StaleExportItem[];
  /** State rows to write once the digest was accepted. */
  pending: PendingExportState[];
  /** What earlier runs reported, and which of it this run saw again. */
  reported: Record<ExportStatePartition, Map<string, string>>;
  seen: Record<ExportStatePartition, Set<string>>;
}

/** One watch run: scan, digest, send, then record. Never throws for a mail failure (see `mail`). */
export async function runSasWatch(deps: SasWatchDeps, options: SasWatchOptions): Promise<SasWatchResult> {
  const round = watchRound(deps, options);
  const tokens = await scanTokens(deps.catalog, options.now, round.thresholds);
  const exports = await scanExports(round, tokens);
  const removeFailures = await forgetRecovered(round, exports);
  const result = roundResult(options.now, tokens, exports, removeFailures);

  if (alertCount(result) === 0) {
    round.log(
      'info',
      `SAS watch: ${tokens.scanned} tokens and ${exports.scanned} exports checked, nothing new to report`,
    );
    return finish(round, result);
  }

  const digest = watchDigest(options, tokens, exports);
  result.subject = digest.subject;
  if (!(await sendDigest(round, digest, result))) return finish(round, result);

  // Only now: remember what was said.
  await recordTokenAlerts(round, tokens, result);
  await recordExportStates(round, exports.pending, result);
  round.log(
    'info',
    `SAS watch: sent "${digest.subject}" to ${options.recipients.length} recipient(s) via ${deps.mailer.transport}`,
  );
  return finish(round, result);
}

function watchRound(deps: SasWatchDeps, options: SasWatchOptions): WatchRound {
  const thresholds = normalizeThresholds(options.thresholdsDays);
  if (options.scanRunHistory && !deps.costExports) {
    throw new TypeError('costExports: required when scanRunHistory is set');
  }
  return {
    deps,
    options,
    log: deps.log ?? (() => undefined),
    thresholds,
    listedPerToken: options.exportsListedPerToken ?? 5,
    writeConcurrency: options.stateWriteConcurrency ?? 8,
    runHistory: options.scanRunHistory ? deps.costExports : undefined,
  };
}

/** Streams the tokens table (one page at a time). */
async function scanTokens(
  catalog: WatchCatalog,
  now: Date,
  thresholds: readonly number[],
): Promise<TokenScan> {
  const scan: TokenScan = { scanned: 0, alerts: new Map(), current: new Map() };
  for await (const token of catalog.listTokens()) {
    scan.scanned++;
    const best = scan.current.get(token.storageAccount);
    const next = currentToken(best ? [best, token] : [token]);
    if (next) scan.current.set(token.storageAccount, next);
    const alert = tokenAlert(token, now, thresholds);
    if (alert) {
      scan.alerts.set(tokenKey(token.storageAccount, token.tokenId), { alert, exports: [], exportCount: 0 });
    }
  }
  return scan;
}

/** Streams the exports table: who uses an alerting token, who fails on authorization, who carries
 * a replaced token. */
async function scanExports(round: WatchRound, tokens: TokenScan): Promise<ExportScan> {
  const [failureState, staleState] = await Promise.all([
    round.deps.state.load('failure'),
    round.deps.state.load('stale'),
  ]);
  const scan: ExportScan = {
    scanned: 0,
    scopesScanned: 0,
    armCalls: 0,
    failing: [],
    stale: [],
    pending: [],
    reported: { failure: failureState, stale: staleState },
    seen: { failure: new Set(), stale: new Set() },
  };
  const lastRuns = lastRunReader(round, scan);
  for await (const record of round.deps.catalog.listExports()) {
    scan.scanned++;
    if (record.missing) continue;
    const lastRun = await lastRuns(record);
    countTokenUse(tokens, record, round.listedPerToken);
    noteFindings(scan, record, lastRun, tokens.current.get(record.destination.storageAccount));
  }
  return scan;
}

/** Each export's last run: the exports table's, or with `scanRunHistory` its scope's run history,
 * read with one list call per scope (the table lists exports scope by scope, so one scope is kept). */
function lastRunReader(
  round: WatchRound,
  counts: Pick<ExportScan, 'scopesScanned' | 'armCalls'>,
): (record: ExportRecord) => Promise<LastRunView | undefined> {
  let scopeRuns: { scope: string; runs: Map<string, LastRunView> | undefined } | undefined;
  return async (record) => {
    if (!round.runHistory) return record.lastRun;
    if (scopeRuns?.scope !== record.scope) {
      counts.scopesScanned++;
      counts.armCalls++;
      scopeRuns = {
        scope: record.scope,
        runs: await lastRunsOfScope(round.runHistory, record.scope, round.log),
      };
    }
    return scopeRuns.runs?.get(record.exportName.toLowerCase()) ?? record.lastRun;
  };
}

/** Lists a SAS-delivered export under the alerting token it delivers with: its own token reference,
 * else its account's current token. */
function countTokenUse(tokens: TokenScan, record: ExportRecord, listedPerToken: number): void {
  if (!record.destination.sasDelivered) return;
  const account = record.destination.storageAccount;
  const tokenId = record.destination.tokenRef ?? tokens.current.get(account)?.tokenId;
  const item = tokenId === undefined ? undefined : tokens.alerts.get(tokenKey(account, tokenId));
  if (!item) return;
  item.exportCount++;
  if (item.exports.length < listedPerToken) {
    item.exports.push({ scope: record.scope, exportName: record.exportName });
  }
}

function noteFindings(
  scan: ExportScan,
  record: ExportRecord,
  lastRun: LastRunView | undefined,
  accountToken: TokenRecord | undefined,
): void {
  const key = exportKey(record.scope, record.exportName);
  const ref = {
    scope: record.scope,
    exportName: record.exportName,
    storageAccount: record.destination.storageAccount,
  };
  const failure = failingExportFinding(ref, lastRun, scan.reported.failure.get(key));
  if (failure) noteFinding(scan, 'failure', key, failure, scan.failing);
  const stale = staleExportFinding(ref, tokenView(record), accountToken, scan.reported.stale.get(key));
  if (stale) noteFinding(scan, 'stale', key, stale, scan.stale);
}

/** Marks the export seen; a finding not reported before goes to the digest and, once sent, to the state. */
function noteFinding<T>(
  scan: ExportScan,
  partition: ExportStatePartition,
  key: string,
  finding: ExportFinding<T>,
  items: T[],
): void {
  scan.seen[partition].add(key);
  if (finding.item === undefined) return;
  items.push(finding.item);
  scan.pending.push({ partition, key, value: finding.stateValue });
}

/** Exports that recovered (or were rotated) no longer need their state rows; removing them loses
 * nothing. Returns how many removals failed. */
async function forgetRecovered(round: WatchRound, scan: ExportScan): Promise<number> {
  const recovered = (['failure', 'stale'] as const).flatMap((partition) =>
    recoveredKeys(scan.reported[partition], scan.seen[partition]).map((key) => [partition, key] as const),
  );
  let failures = 0;
  await mapWithConcurrency(recovered, round.writeConcurrency, async ([partition, key]) => {
    try {
      await round.deps.state.remove(partition, key);
    } catch (error) {
      failures++;
      round.log('warn', `alert state ${partition}/${key} could not be removed: ${redactError(error)}`);
    }
  });
  return failures;
}

function roundResult(
  now: Date,
  tokens: TokenScan,
  exports: ExportScan,
  removeFailures: number,
): SasWatchResult {
  const tokenItems = [...tokens.alerts.values()];
  const expired = tokenItems.filter((t) => t.alert.kind === 'expired').length;
  return {
    at: now.toISOString(),
    tokensScanned: tokens.scanned,
    exportsScanned: exports.scanned,
    scopesScanned: exports.scopesScanned,
    armCalls: exports.armCalls,
    alerts: {
      expired,
      expiring: tokenItems.length - expired,
      failing: exports.failing.length,
      stale: exports.stale.length,
    },
    mail: 'nothingToSend',
    stateWrites: { tokens: 0, exports: 0, failed: removeFailures },
  };
}

function alertCount({ alerts }: SasWatchResult): number {
  return alerts.expired + alerts.expiring + alerts.failing + alerts.stale;
}

/** One digest to everyone. */
function watchDigest(options: SasWatchOptions, tokens: TokenScan, exports: ExportScan): Digest {
  return composeDigest({
    now: options.now,
    tokens: [...tokens.alerts.values()],
    failing: exports.failing,
    stale: exports.stale,
    appBaseUrl: options.appBaseUrl,
    ...(options.maxItemsPerSection !== undefined ? { maxItemsPerSection: options.maxItemsPerSection } : {}),
  });
}

/** Sends the digest and records the outcome in `result`; false when the mail was not accepted (the
 * alerts then stay pending for the next run). */
async function sendDigest(round: WatchRound, digest: Digest, result: SasWatchResult): Promise<boolean> {
  try {
    const receipt = await round.deps.mailer.send({ to: round.options.recipients, ...digest });
    result.mail = 'sent';
    if (receipt.messageId) result.messageId = receipt.messageId;
    if (receipt.rejected.length > 0) {
      round.log('warn', `SAS watch: the mail relay refused ${receipt.rejected.join(', ')}`);
    }
    return true;
  } catch (error) {
    result.mail = 'failed';
    result.error = redactError(error);
    round.log(
      'error',
      `SAS watch: digest "${digest.subject}" was not accepted (${result.error}); ${alertCount(result)} alert(s) stay pending for the next run`,
    );
    return false;
  }
}

async function recordTokenAlerts(
  round: WatchRound,
  tokens: TokenScan,
  result: SasWatchResult,
): Promise<void> {
  await mapWithConcurrency([...tokens.alerts.values()], round.writeConcurrency, async ({ alert }) => {
    try {
      await round.deps.catalog.modifyToken(alert.storageAccount, alert.tokenId, (row) =>
        recordAlert(row, alert, round.options.now),
      );
      result.stateWrites.tokens++;
    } catch (error) {
      result.stateWrites.failed++;
      round.log(
        'warn',
        `token ${alert.storageAccount}/${alert.tokenId}: alert state not saved: ${redactError(error)}`,
      );
    }
  });
}

async function recordExportStates(
  round: WatchRound,
  pending: readonly PendingExportState[],
  result: SasWatchResult,
): Promise<void> {
  await mapWithConcurrency(pending, round.writeConcurrency, async (p) => {
    try {
      await round.deps.state.put(p.partition, p.key, p.value);
      result.stateWrites.exports++;
    } catch (error) {
      result.stateWrites.failed++;
      round.log('warn', `alert state ${p.partition}/${p.key} not saved: ${redactError(error)}`);
    }
  });
}

async function finish(round: WatchRound, result: SasWatchResult): Promise<SasWatchResult> {
  await saveSummary(round.deps.state, result, round.log);
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
