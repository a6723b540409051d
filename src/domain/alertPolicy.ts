// When a SAS token or an export deserves an alert, and the one digest e-mail that reports them all.
// Pure: the watch service reads the tables, asks these functions what to say, sends the digest and
// only then records what was alerted, so a mail outage loses nothing. No input here carries a
// secret (tokens are known by id and fingerprint only), and free text is redacted once more anyway.
import { redactSecrets } from './redact';

const DAY_MS = 86_400_000;

/** The alert state and expiry of one registered token (a subset of the tokens table row). */
export interface TokenAlertState {
  storageAccount: string;
  tokenId: string;
  /** ISO 8601. */
  expiresOn: string;
  /** `active` and `expired` tokens are watched; `rotated` and `revoked` ones are done with. */
  status: string;
  /** The smallest threshold (days before expiry) already alerted. */
  lastAlertThresholdDays?: number;
  lastAlertAt?: string;
  /** A rotation after the last alert starts the thresholds over. */
  rotatedAt?: string;
}

interface TokenAlertBase {
  storageAccount: string;
  tokenId: string;
  expiresOn: string;
  /** Whole days left, rounded down: 0 = within 24 hours, negative = expired that many days ago (or less). */
  daysLeft: number;
  /** What to record in `lastAlertThresholdDays` once the digest was accepted. */
  recordThresholdDays: number;
}

export type TokenAlert =
  (TokenAlertBase & { kind: 'expired' }) | (TokenAlertBase & { kind: 'expiring'; thresholdDays: number });

/** The thresholds as configured (`SAS_ALERT_THRESHOLDS_DAYS`): whole days 0-999, distinct, largest
 * first. Throws RangeError naming `thresholdsDays` for anything else. */
export function normalizeThresholds(thresholds: readonly number[]): number[] {
  if (!Array.isArray(thresholds) || (thresholds as readonly unknown[]).length === 0) {
    throw new RangeError('thresholdsDays: expected at least one threshold, like [30, 14, 7, 3, 1, 0]');
  }
  for (const t of thresholds) {
    if (!Number.isInteger(t) || t < 0 || t > 999) {
      throw new RangeError(`thresholdsDays: expected whole numbers of days from 0 to 999, got ${String(t)}`);
    }
  }
  return [...new Set<number>(thresholds)].sort((a, b) => b - a);
}

function instant(field: string, value: string | Date): number {
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  if (Number.isNaN(ms))
    throw new RangeError(`${field}: expected an ISO 8601 date-time, got "${String(value)}"`);
  return ms;
}

/** Whole days left before `expiresOn`, rounded down (the same count as sasToken.daysUntilExpiry). */
export function daysLeft(expiresOn: string | Date, now: Date): number {
  return Math.floor((instant('expiresOn', expiresOn) - instant('now', now)) / DAY_MS);
}

/** The smallest threshold that `days` has reached (days ≤ threshold), or undefined above them all. */
export function crossedThreshold(days: number, thresholds: readonly number[]): number | undefined {
  let crossed: number | undefined;
  for (const t of thresholds) if (days <= t && (crossed === undefined || t < crossed)) crossed = t;
  return crossed;
}

const utcDay = (ms: number): number => Math.floor(ms / DAY_MS);

/**
 * Whether a token alerts now, and why. Each threshold alerts once (a token first seen past several
 * thresholds alerts once, for the smallest); an expired token alerts once per UTC day until it is
 * rotated; a rotation after the last alert forgets the earlier alerts.
 */
export function tokenAlert(
  token: TokenAlertState,
  now: Date,
  thresholds: readonly number[],
): TokenAlert | undefined {
  if (token.status === 'rotated' || token.status === 'revoked') return undefined;
  const nowMs = instant('now', now);
  const expiresMs = instant('expiresOn', token.expiresOn);
  const rotatedMs = token.rotatedAt ? instant('rotatedAt', token.rotatedAt) : undefined;
  let lastAlertMs = token.lastAlertAt ? instant('lastAlertAt', token.lastAlertAt) : undefined;
  let lastThreshold = token.lastAlertThresholdDays;
  if (rotatedMs !== undefined && (lastAlertMs === undefined || rotatedMs > lastAlertMs)) {
    lastAlertMs = undefined;
    lastThreshold = undefined;
  }
  const days = daysLeft(token.expiresOn, now);
  const smallest = Math.min(...thresholds);
  const base = {
    storageAccount: token.storageAccount,
    tokenId: token.tokenId,
    expiresOn: token.expiresOn,
    daysLeft: days,
  };

  if (expiresMs <= nowMs) {
    const alertedSinceExpiry = lastAlertMs !== undefined && lastAlertMs >= expiresMs;
    if (alertedSinceExpiry && utcDay(lastAlertMs!) >= utcDay(nowMs)) return undefined;
    return { ...base, kind: 'expired', recordThresholdDays: Math.max(0, Math.min(smallest, 999)) };
  }
  const threshold = crossedThreshold(days, thresholds);
  if (threshold === undefined) return undefined;
  if (lastThreshold !== undefined && threshold >= lastThreshold) return undefined;
  return { ...base, kind: 'expiring', thresholdDays: threshold, recordThresholdDays: threshold };
}

/** Orders alerts worst first: expired (longest ago first), then fewest days left, then by name. */
export function compareTokenAlerts(a: TokenAlert, b: TokenAlert): number {
  const rank = (x: TokenAlert) => (x.kind === 'expired' ? 0 : 1);
  return (
    rank(a) - rank(b) ||
    a.daysLeft - b.daysLeft ||
    a.storageAccount.localeCompare(b.storageAccount) ||
    a.tokenId.localeCompare(b.tokenId)
  );
}

// --------------------------------------------------------------------------------------- exports

/** A failed run's error that points at the SAS token or the destination's authorization. */
const SAS_FAILURE_PATTERNS: readonly { pattern: RegExp; label: string }[] = [
  { pattern: /AuthorizationResourceTypeMismatch/i, label: 'AuthorizationResourceTypeMismatch' },
  { pattern: /AuthorizationPermissionMismatch/i, label: 'AuthorizationPermissionMismatch' },
  { pattern: /AuthorizationProtocolMismatch/i, label: 'AuthorizationProtocolMismatch' },
  { pattern: /AuthorizationSourceIPMismatch/i, label: 'AuthorizationSourceIPMismatch' },
  { pattern: /AuthenticationFailed/i, label: 'AuthenticationFailed' },
  { pattern: /AuthorizationFailure/i, label: 'AuthorizationFailure' },
  { pattern: /StorageAuthorizationFailed/i, label: 'StorageAuthorizationFailed' },
  { pattern: /\bSAS\s*token/i, label: 'SAS token' },
  {
    pattern: /\bsignature\b.*\b(expired|not valid|invalid)\b|\bexpired\b.*\bsignature\b/i,
    label: 'signature',
  },
  { pattern: /\b403\b|\bForbidden\b/i, label: '403 Forbidden' },
];

/** Run statuses that mean the run did not deliver (Cost Management's ExecutionStatus values). */
const FAILED_STATUSES = new Set(['failed', 'timeout']);

export interface LastRunView {
  runId?: string;
  status: string;
  error?: string;
  at: string;
}

/** The SAS / authorization failure a run reports (a label like `AuthorizationPermissionMismatch`),
 * or undefined when the run did not fail that way. */
export function sasFailure(lastRun: LastRunView | undefined): string | undefined {
  if (!lastRun || !FAILED_STATUSES.has(lastRun.status.toLowerCase()) || !lastRun.error) return undefined;
  return SAS_FAILURE_PATTERNS.find((p) => p.pattern.test(lastRun.error!))?.label;
}

/** Identifies one failed run, so the same failure is reported once. */
export function failureKey(lastRun: LastRunView): string {
  return `${lastRun.runId ?? ''}@${lastRun.at}`;
}

export interface AccountTokenView {
  tokenId: string;
  status: string;
  fingerprint: string;
  expiresOn: string;
  rotatedAt?: string;
  startsOn?: string;
}

/** The token an account's exports should carry: the newest active (or expired, if none is active)
 * token by rotation time, then start, then expiry. Undefined when the account has none. */
export function currentToken<T extends AccountTokenView>(tokens: readonly T[]): T | undefined {
  const candidates = tokens.filter((t) => t.status === 'active');
  const pool = candidates.length > 0 ? candidates : tokens.filter((t) => t.status === 'expired');
  const key = (t: T): [number, number, number] => [
    t.rotatedAt ? Date.parse(t.rotatedAt) : 0,
    t.startsOn ? Date.parse(t.startsOn) : 0,
    Date.parse(t.expiresOn),
  ];
  let best: T | undefined;
  for (const t of pool) {
    if (!best) {
      best = t;
      continue;
    }
    const [a, b] = [key(t), key(best)];
    if (a[0] > b[0] || (a[0] === b[0] && (a[1] > b[1] || (a[1] === b[1] && a[2] > b[2])))) best = t;
  }
  return best;
}

export interface ExportTokenView {
  /** SAS delivery; exports delivered with a managed identity carry no token. */
  sasDelivered: boolean;
  tokenRef?: string;
  /** Set when the registry records which token (by fingerprint) the export was last given. */
  tokenFingerprint?: string;
}

/** True when a SAS-delivered export still carries a token other than its account's current one
 * (a rotation that reached some exports but not this one). */
export function carriesStaleToken(
  exportView: ExportTokenView,
  current: Pick<AccountTokenView, 'tokenId' | 'fingerprint'> | undefined,
): boolean {
  if (!exportView.sasDelivered || !current) return false;
  if (exportView.tokenFingerprint !== undefined) return exportView.tokenFingerprint !== current.fingerprint;
  if (exportView.tokenRef !== undefined) return exportView.tokenRef !== current.tokenId;
  return false;
}

// ---------------------------------------------------------------------------------------- digest

export interface ExportRef {
  scope: string;
  exportName: string;
}

export interface TokenDigestItem {
  alert: TokenAlert;
  /** Exports that deliver with this token (the first few), and how many there are in all. */
  exports: ExportRef[];
  exportCount: number;
}

export interface FailingExportItem extends ExportRef {
  storageAccount: string;
  reason: string;
  status: string;
  at: string;
  /** Redacted again before it is shown. */
  error?: string;
}

export interface StaleExportItem extends ExportRef {
  storageAccount: string;
  carriedTokenId?: string;
  currentTokenId: string;
}

/** What the watch learned about one export: the alert-state value that identifies the finding (a
 * failed run, or the token the export should carry) and the digest item, unless the state already
 * holds that value (reported before). */
export interface ExportFinding<T> {
  stateValue: string;
  item?: T;
}

/** The export's SAS or authorization failure, or undefined when its last run did not fail that way. */
export function failingExportFinding(
  ref: ExportRef & { storageAccount: string },
  lastRun: LastRunView | undefined,
  reported: string | undefined,
): ExportFinding<FailingExportItem> | undefined {
  const reason = sasFailure(lastRun);
  if (!reason || !lastRun) return undefined;
  const stateValue = failureKey(lastRun);
  if (reported === stateValue) return { stateValue };
  const item: FailingExportItem = {
    scope: ref.scope,
    exportName: ref.exportName,
    storageAccount: ref.storageAccount,
    reason,
    status: lastRun.status,
    at: lastRun.at,
    ...(lastRun.error ? { error: redactSecrets(lastRun.error) } : {}),
  };
  return { stateValue, item };
}

/** The export's stale token (see `carriesStaleToken`), or undefined when it carries its account's
 * current token, carries none, or the account has none. */
export function staleExportFinding(
  ref: ExportRef & { storageAccount: string },
  exportView: ExportTokenView,
  current: Pick<AccountTokenView, 'tokenId' | 'fingerprint'> | undefined,
  reported: string | undefined,
): ExportFinding<StaleExportItem> | undefined {
  if (!current || !carriesStaleToken(exportView, current)) return undefined;
  const stateValue = current.tokenId;
  if (reported === stateValue) return { stateValue };
  const item: StaleExportItem = {
    scope: ref.scope,
    exportName: ref.exportName,
    storageAccount: ref.storageAccount,
    ...(exportView.tokenRef ? { carriedTokenId: exportView.tokenRef } : {}),
    currentTokenId: current.tokenId,
  };
  return { stateValue, item };
}

/** Keys of findings reported before that this run no longer saw (recovered, or rotated). */
export function recoveredKeys(reported: ReadonlyMap<string, string>, seen: ReadonlySet<string>): string[] {
  return [...reported.keys()].filter((key) => !seen.has(key));
}

export interface DigestInput {
  now: Date;
  tokens: readonly TokenDigestItem[];
  failing: readonly FailingExportItem[];
  stale: readonly StaleExportItem[];
  /** Totals when the lists above were cut short (default: their lengths). */
  totals?: { tokens?: number; failing?: number; stale?: number };
  /** Where the app answers, e.g. `https://func-cea.azurewebsites.net` (WEBSITE_HOSTNAME). */
  appBaseUrl: string;
  /** Items listed per section; the rest are counted (default 50). */
  maxItemsPerSection?: number;
}

export interface Digest {
  subject: string;
  text: string;
  html: string;
}

export const PRODUCT = 'Cost Export Autopilot';
/** The body field the rotate endpoint takes (src/functions/tokens.ts). */
export const ROTATE_BODY_FIELD = 'sasToken';
export const NEW_TOKEN_PLACEHOLDER = '<NEW_SAS_TOKEN>';
export const FUNCTION_KEY_PLACEHOLDER = '<FUNCTION_KEY>';

/** The exact call that replaces an account's token (and re-points every export that uses it). */
export function rotateCommand(appBaseUrl: string, storageAccount: string): string {
  const base = appBaseUrl.replace(/\/+$/, '');
  const body = JSON.stringify({ [ROTATE_BODY_FIELD]: NEW_TOKEN_PLACEHOLDER });
  return (
    `curl -X POST "${base}/api/tokens/${encodeURIComponent(storageAccount)}/rotate" ` +
    `-H "x-functions-key: ${FUNCTION_KEY_PLACEHOLDER}" -H "Content-Type: application/json" -d '${body}'`
  );
}

/** `https://{WEBSITE_HOSTNAME}`; a placeholder host when the setting is absent (local runs). */
export function appBaseUrl(websiteHostname: string | undefined): string {
  const host = websiteHostname?.trim();
  if (!host || host.includes('0.0.0.0')) return 'https://<your-function-app>.azurewebsites.net';
  return /^https?:\/\//i.test(host) ? host.replace(/\/+$/, '') : `https://${host}`;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function daysText(days: number): string {
  return days <= 0 ? 'less than 1 day left' : `${plural(days, 'day')} left`;
}

/** The subject names the worst state first: expired tokens, then the fewest days left, then
 * failing exports, then exports on a replaced token. */
export function digestSubject(input: Pick<DigestInput, 'tokens' | 'failing' | 'stale' | 'totals'>): string {
  const tokenTotal = input.totals?.tokens ?? input.tokens.length;
  const failingTotal = input.totals?.failing ?? input.failing.length;
  const staleTotal = input.totals?.stale ?? input.stale.length;
  const expired = input.tokens.filter((t) => t.alert.kind === 'expired').length;
  const expiring = tokenTotal - expired;
  const parts: string[] = [];
  if (expired > 0) {
    parts.push(`EXPIRED: ${plural(expired, 'SAS token')}`);
    if (expiring > 0) parts.push(`${expiring} more expiring`);
  } else if (expiring > 0) {
    const fewest = Math.min(...input.tokens.map((t) => t.alert.daysLeft));
    const head = fewest <= 0 ? 'Less than 1 day left' : `${plural(fewest, 'day')} left`;
    parts.push(`${head}: ${plural(expiring, 'SAS token')} expiring`);
  }
  if (failingTotal > 0) parts.push(`${plural(failingTotal, 'export')} failing on authorization`);
  if (staleTotal > 0) parts.push(`${plural(staleTotal, 'export')} on a replaced token`);
  if (parts.length === 0) return `${PRODUCT}: nothing to report`;
  return `${parts.join(', ')} (${PRODUCT})`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function tokenLine(item: TokenDigestItem): string {
  const a = item.alert;
  const state =
    a.kind === 'expired'
      ? `EXPIRED ${a.expiresOn}`
      : `${daysText(a.daysLeft)} (threshold ${a.thresholdDays} days), expires ${a.expiresOn}`;
  return `${a.storageAccount} / token ${a.tokenId}: ${state}; ${plural(item.exportCount, 'export')} deliver with it`;
}

function exportName(e: ExportRef): string {
  return `${e.exportName} at ${e.scope}`;
}

interface DigestSection {
  title: string;
  lines: string[];
  more: number;
}

interface DigestTotals {
  tokens: number;
  failing: number;
  stale: number;
}

/** Each token, then its exports indented (`    - `), at most `max` tokens. */
function tokenSection(tokens: TokenDigestItem[], total: number, max: number): DigestSection {
  const lines: string[] = [];
  for (const item of tokens.slice(0, max)) {
    lines.push(tokenLine(item));
    for (const e of item.exports) lines.push(`    - ${exportName(e)}`);
    if (item.exportCount > item.exports.length) {
      lines.push(`    - … and ${item.exportCount - item.exports.length} more`);
    }
  }
  return { title: 'SAS tokens', lines, more: total - Math.min(max, tokens.length) };
}

function failingSection(failing: DigestInput['failing'], total: number, max: number): DigestSection {
  const lines = failing.slice(0, max).map((f) => {
    const error = f.error ? `: ${oneLine(redactSecrets(f.error), 300)}` : '';
    return `${exportName(f)} (account ${f.storageAccount}): run ${f.status} at ${f.at}, ${f.reason}${error}`;
  });
  return {
    title: 'Exports failing with a SAS or authorization error',
    lines,
    more: total - lines.length,
  };
}

function staleSection(stale: DigestInput['stale'], total: number, max: number): DigestSection {
  const lines = stale
    .slice(0, max)
    .map(
      (s) =>
        `${exportName(s)} (account ${s.storageAccount}) still carries token ${s.carriedTokenId ?? '(unknown)'}; current is ${s.currentTokenId}`,
    );
  return {
    title: 'Exports still carrying a replaced token (partial rotation)',
    lines,
    more: total - lines.length,
  };
}

/** The non-empty sections, worst first: tokens, failing exports, exports on a replaced token. */
function digestSections(
  tokens: TokenDigestItem[],
  input: DigestInput,
  totals: DigestTotals,
  max: number,
): DigestSection[] {
  const sections: DigestSection[] = [];
  if (tokens.length > 0) sections.push(tokenSection(tokens, totals.tokens, max));
  if (input.failing.length > 0) sections.push(failingSection(input.failing, totals.failing, max));
  if (input.stale.length > 0) sections.push(staleSection(input.stale, totals.stale, max));
  return sections;
}

/** One rotate call per account the digest lists (not per alert: a big digest stays readable). */
function rotateCommands(tokens: TokenDigestItem[], input: DigestInput, max: number): string[] {
  const accounts = [
    ...new Set([
      ...tokens.slice(0, max).map((t) => t.alert.storageAccount),
      ...input.failing.slice(0, max).map((f) => f.storageAccount),
      ...input.stale.slice(0, max).map((s) => s.storageAccount),
    ]),
  ].sort();
  const commands = accounts.slice(0, max).map((account) => rotateCommand(input.appBaseUrl, account));
  if (accounts.length > max) commands.push(`… and the same call for ${accounts.length - max} more accounts`);
  return commands;
}

interface DigestBody {
  intro: string;
  sections: DigestSection[];
  how: string;
  commands: string[];
}

function digestText({ intro, sections, how, commands }: DigestBody): string {
  return [
    intro,
    '',
    ...sections.flatMap((s) => [
      `== ${s.title} ==`,
      ...s.lines,
      ...(s.more > 0 ? [`… and ${s.more} more`] : []),
      '',
    ]),
    '== Rotate ==',
    how,
    ...commands,
    '',
  ].join('\n');
}

function digestHtml({ intro, sections, how, commands }: DigestBody): string {
  return [
    '<!doctype html><html><body style="font-family:Segoe UI,Arial,sans-serif">',
    `<p>${escapeHtml(intro)}</p>`,
    ...sections.map(
      (s) =>
        `<h3>${escapeHtml(s.title)}</h3><ul>${s.lines
          .map((l) =>
            l.startsWith('    - ')
              ? `<li style="margin-left:2em">${escapeHtml(l.slice(6))}</li>`
              : `<li>${escapeHtml(l)}</li>`,
          )
          .join('')}${s.more > 0 ? `<li>… and ${s.more} more</li>` : ''}</ul>`,
    ),
    `<h3>Rotate</h3><p>${escapeHtml(how)}</p>`,
    ...commands.map((c) => `<pre>${escapeHtml(c)}</pre>`),
    '</body></html>',
  ].join('\n');
}

/** The digest e-mail: plain text and HTML with the same content, worst first. */
export function composeDigest(input: DigestInput): Digest {
  const max = input.maxItemsPerSection ?? 50;
  if (!Number.isInteger(max) || max < 1)
    throw new RangeError('maxItemsPerSection: expected a whole number ≥ 1');
  const tokens = [...input.tokens].sort((a, b) => compareTokenAlerts(a.alert, b.alert));
  const totals: DigestTotals = {
    tokens: input.totals?.tokens ?? tokens.length,
    failing: input.totals?.failing ?? input.failing.length,
    stale: input.totals?.stale ?? input.stale.length,
  };
  const body: DigestBody = {
    intro: `${PRODUCT} watch of ${input.now.toISOString()}.`,
    sections: digestSections(tokens, input, totals, max),
    how:
      `To rotate, create a new account SAS (blob service; service, container and object resource types; ` +
      `permissions racwdl; HTTPS only) and send it with the call below, replacing ${NEW_TOKEN_PLACEHOLDER} ` +
      `and ${FUNCTION_KEY_PLACEHOLDER}. The app stores it in Key Vault and updates every export of the account.`,
    commands: rotateCommands(tokens, input, max),
  };
  const subject = digestSubject({ tokens, failing: input.failing, stale: input.stale, totals });
  return { subject, text: digestText(body), html: digestHtml(body) };
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
