// Storage SAS tokens as partners hand them to Cost Management exports: parse the query into typed
// fields, and list the reasons Cost Management would refuse one. The parsed token never holds the
// signature, so it is safe to log or store; only sasTokenFingerprint() looks at `sig`, and only to
// hash it.

import { createHash } from 'node:crypto';

import { REDACTED, redactSecrets } from './redact';

export type SasKind = 'account' | 'service';
export type SasService = 'blob' | 'file' | 'queue' | 'table';
export type SasResourceType = 'service' | 'container' | 'object';
export type SasSignedResource =
  'blob' | 'container' | 'blobSnapshot' | 'blobVersion' | 'directory' | 'share' | 'file';
export type SasPermission =
  | 'read'
  | 'add'
  | 'create'
  | 'write'
  | 'delete'
  | 'deleteVersion'
  | 'permanentDelete'
  | 'list'
  | 'update'
  | 'process'
  | 'tag'
  | 'filter'
  | 'setImmutabilityPolicy'
  | 'move'
  | 'execute'
  | 'ownership'
  | 'permissions';
/** `https,http` is also what a token without `spr` allows. */
export type SasProtocol = 'https' | 'https,http';

export interface SasToken {
  /** `account` when the token has `ss` + `srt`; `service` when it has `sr`. */
  kind: SasKind;
  /** `sv`, the storage service version that signed the token (yyyy-mm-dd). */
  version: string;
  /** Account SAS: decoded `ss`. Service SAS: the service its `sr` belongs to. */
  services: readonly SasService[];
  /** Account SAS: decoded `srt`. Service SAS: empty (a service SAS has no resource types). */
  resourceTypes: readonly SasResourceType[];
  /** Service SAS only: decoded `sr`. */
  signedResource?: SasSignedResource;
  /** Decoded `sp`, in the order of the permission table below, without duplicates. */
  permissions: readonly SasPermission[];
  /** `sp` as written in the token. */
  permissionLetters: string;
  startsOn?: Date;
  expiresOn: Date;
  protocol: SasProtocol;
  /** `sip`: a single address has start = end. */
  ip?: { start: string; end: string };
  /** `si`: a stored access policy the token refers to. */
  identifier?: string;
  /** A user-delegation SAS (`skoid` present), signed with an Entra ID key rather than the account key. */
  userDelegation: boolean;
}

export type SasProblemCode =
  | 'notAccountSas'
  | 'blobServiceMissing'
  | 'resourceTypesMissing'
  | 'permissionsMissing'
  | 'httpAllowed'
  | 'ipRestricted'
  | 'expired'
  | 'notYetValid'
  | 'expiresSoon';

export interface SasProblem {
  code: SasProblemCode;
  message: string;
}

export interface ExportTokenOptions {
  /** A token expiring within this many days is a problem (`expiresSoon`). Default 1. */
  minValidDays?: number;
}

export class SasTokenError extends Error {
  /** The query parameter (or `token`) that is wrong, e.g. `se`, `sp`, `sig`. */
  readonly field: string;
  constructor(field: string, message: string) {
    super(redactSecrets(message));
    this.name = 'SasTokenError';
    this.field = field;
  }
}

const SERVICES: Record<string, SasService> = { b: 'blob', f: 'file', q: 'queue', t: 'table' };
const RESOURCE_TYPES: Record<string, SasResourceType> = { s: 'service', c: 'container', o: 'object' };
const SIGNED_RESOURCES: Record<string, { resource: SasSignedResource; service: SasService }> = {
  b: { resource: 'blob', service: 'blob' },
  c: { resource: 'container', service: 'blob' },
  bs: { resource: 'blobSnapshot', service: 'blob' },
  bv: { resource: 'blobVersion', service: 'blob' },
  d: { resource: 'directory', service: 'blob' },
  s: { resource: 'share', service: 'file' },
  f: { resource: 'file', service: 'file' },
};
// Permission letters differ by SAS kind: `p` is "process" in an account SAS but "permissions"
// (set ACL) in a blob service SAS (Create an account SAS / Create a service SAS, Microsoft Learn).
const ACCOUNT_PERMISSIONS: Record<string, SasPermission> = {
  r: 'read',
  w: 'write',
  d: 'delete',
  x: 'deleteVersion',
  y: 'permanentDelete',
  l: 'list',
  a: 'add',
  c: 'create',
  u: 'update',
  p: 'process',
  t: 'tag',
  f: 'filter',
  i: 'setImmutabilityPolicy',
};
const SERVICE_PERMISSIONS: Record<string, SasPermission> = {
  r: 'read',
  a: 'add',
  c: 'create',
  w: 'write',
  d: 'delete',
  x: 'deleteVersion',
  y: 'permanentDelete',
  l: 'list',
  t: 'tag',
  f: 'filter',
  m: 'move',
  e: 'execute',
  o: 'ownership',
  p: 'permissions',
  i: 'setImmutabilityPolicy',
};

/** What Cost Management needs (Exports API `ExportDeliveryDestination.sasToken`: "blob service with
 * Service/Container/Object resource types and with Read/Write/Delete/List/Add/Create permissions"). */
export const EXPORT_REQUIRED_SERVICE: SasService = 'blob';
export const EXPORT_REQUIRED_RESOURCE_TYPES: readonly SasResourceType[] = ['service', 'container', 'object'];
export const EXPORT_REQUIRED_PERMISSIONS: readonly SasPermission[] = [
  'read',
  'write',
  'delete',
  'list',
  'add',
  'create',
];

const DAY_MS = 86_400_000;
const KNOWN_PARAMS = ['sv', 'ss', 'srt', 'sr', 'sp', 'st', 'se', 'spr', 'sip', 'si', 'sig', 'skoid'] as const;
type KnownParam = (typeof KNOWN_PARAMS)[number];

/** The query of a SAS: accepts `?sv=...`, `sv=...` or a full URL (its query is taken). Returns
 * the query without `?` or `#fragment`, trimmed. The result still contains the signature. */
export function normalizeSasToken(text: string): string {
  if (typeof text !== 'string' || text.trim() === '') throw new SasTokenError('token', 'SAS token is empty');
  const trimmed = text.trim();
  const question = trimmed.indexOf('?');
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed);
  if (isUrl && question < 0)
    throw new SasTokenError('token', 'the URL has no query, so it carries no SAS token');
  let query = question >= 0 ? trimmed.slice(question + 1) : trimmed;
  const hash = query.indexOf('#');
  if (hash >= 0) query = query.slice(0, hash);
  if (query.trim() === '') throw new SasTokenError('token', 'SAS token is empty');
  return query;
}

/** Splits a SAS query into decoded known parameters; unknown ones (`sdd`, `rscc`, `ske`...) are ignored. */
function readParams(text: string): Map<KnownParam, string> {
  const params = new Map<KnownParam, string>();
  for (const piece of normalizeSasToken(text).split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = (eq < 0 ? piece : piece.slice(0, eq)).trim().toLowerCase();
    if (!(KNOWN_PARAMS as readonly string[]).includes(name)) continue;
    const field = name as KnownParam;
    if (params.has(field)) throw new SasTokenError(field, `${field} appears more than once`);
    const raw = eq < 0 ? '' : piece.slice(eq + 1);
    let value: string;
    try {
      // Not URLSearchParams: it turns a raw `+` of a base64 signature into a space.
      value = decodeURIComponent(raw);
    } catch {
      throw new SasTokenError(field, `${field} is not valid URL encoding`);
    }
    params.set(field, value);
  }
  return params;
}

/** A token's known parameters, read with errors that name the field and never echo the signature. */
class SasParams {
  private readonly signature: string | undefined;

  constructor(private readonly params: Map<KnownParam, string>) {
    this.signature = params.get('sig');
  }

  get(field: KnownParam): string | undefined {
    return this.params.get(field);
  }

  has(field: KnownParam): boolean {
    return this.params.has(field);
  }

  /** A value as errors quote it: clipped, with the signature (even one leaked into another field)
   * replaced. An arrow function, as letters() and the date and IP readers take it. */
  readonly show = (value: string): string => {
    const signature = this.signature;
    const safe = signature && signature.length >= 8 ? value.split(signature).join(REDACTED) : value;
    return JSON.stringify(safe.length > 60 ? `${safe.slice(0, 57)}...` : safe);
  };

  /** The trimmed value; missing or blank is an error (hinting at the stored access policy, if any). */
  required(field: KnownParam, what: string): string {
    const value = this.params.get(field);
    if (value === undefined || value.trim() === '') {
      const policy = this.params.get('si');
      const hint =
        policy && (field === 'se' || field === 'sp')
          ? ` (stored access policy ${this.show(policy)} may hold it, but it cannot be read from the token)`
          : '';
      throw new SasTokenError(field, `${field} (${what}) is missing${hint}`);
    }
    return value.trim();
  }
}

function checkSignature(p: SasParams): void {
  const sig = p.required('sig', 'signature');
  if (!/^[A-Za-z0-9+/]{16,}={0,2}$/.test(sig))
    throw new SasTokenError('sig', 'sig is not a base64 signature');
}

function readVersion(p: SasParams): string {
  const version = p.required('sv', 'signed version');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(version)) {
    throw new SasTokenError('sv', `sv ${p.show(version)} is not a storage service version (yyyy-mm-dd)`);
  }
  return version;
}

/** Account SAS (`ss` + `srt`) or blob/file service SAS (`sr`), never both. */
function readKind(p: SasParams): SasKind {
  const isAccount = p.has('ss') || p.has('srt');
  const isService = p.has('sr');
  if (isAccount && isService) {
    throw new SasTokenError('sr', 'sr (service SAS) cannot be combined with ss/srt (account SAS)');
  }
  if (!isAccount && !isService) {
    throw new SasTokenError(
      'ss',
      'ss and srt (account SAS) or sr (blob/file service SAS) are missing; table and queue service SAS are not supported',
    );
  }
  return isAccount ? 'account' : 'service';
}

/** What the token reaches: an account SAS's services and resource types, or a service SAS's resource. */
function readReach(
  p: SasParams,
  kind: SasKind,
): Pick<SasToken, 'services' | 'resourceTypes' | 'signedResource'> {
  if (kind === 'account') {
    return {
      services: letters('ss', p.required('ss', 'signed services'), SERVICES, p.show),
      resourceTypes: letters('srt', p.required('srt', 'signed resource types'), RESOURCE_TYPES, p.show),
    };
  }
  const sr = p.required('sr', 'signed resource');
  const known = SIGNED_RESOURCES[sr];
  if (!known) throw new SasTokenError('sr', `sr ${p.show(sr)} is not one of b, c, bs, bv, d, s, f`);
  return { services: [known.service], resourceTypes: [], signedResource: known.resource };
}

/** `se`, and `st` when given (before `se`). */
function readValidity(p: SasParams): { expiresOn: Date; startsOn?: Date } {
  const expiresOn = parseSasDate('se', p.required('se', 'expiry'), p.show);
  const startText = p.get('st');
  if (startText === undefined) return { expiresOn };
  const startsOn = parseSasDate('st', startText.trim(), p.show);
  if (startsOn.getTime() >= expiresOn.getTime()) {
    throw new SasTokenError('st', `st ${p.show(startText)} is not before se`);
  }
  return { expiresOn, startsOn };
}

/** `spr`: absent allows http too, as `https,http` does. */
function readProtocol(p: SasParams): SasProtocol {
  const protocolText = p.get('spr');
  if (protocolText === undefined) return 'https,http';
  const normalised = protocolText.replace(/\s/g, '').toLowerCase();
  if (normalised === 'https') return 'https';
  if (normalised !== 'https,http') {
    throw new SasTokenError('spr', `spr ${p.show(protocolText)} is not "https" or "https,http"`);
  }
  return 'https,http';
}

/** Parses a SAS token (with or without `?`, or a URL carrying one) into typed fields.
 * Throws SasTokenError naming the field that is missing or malformed; messages never carry `sig`. */
export function parseSasToken(text: string): SasToken {
  const p = new SasParams(readParams(text));
  checkSignature(p);
  const version = readVersion(p);
  const kind = readKind(p);
  const { services, resourceTypes, signedResource } = readReach(p, kind);
  const permissionLetters = p.required('sp', 'signed permissions');
  const permissions = letters(
    'sp',
    permissionLetters,
    kind === 'account' ? ACCOUNT_PERMISSIONS : SERVICE_PERMISSIONS,
    p.show,
  );
  const { expiresOn, startsOn } = readValidity(p);
  const protocol = readProtocol(p);

  const token: SasToken = {
    kind,
    version,
    services,
    resourceTypes,
    permissions,
    permissionLetters,
    expiresOn,
    protocol,
    userDelegation: p.has('skoid'),
  };
  if (signedResource) token.signedResource = signedResource;
  if (startsOn) token.startsOn = startsOn;
  const ip = p.get('sip');
  if (ip !== undefined) token.ip = parseIpRange(ip, p.show);
  const identifier = p.get('si');
  if (identifier) token.identifier = identifier;
  return token;
}

/** Decodes a set of letters into names in table order; unknown letters or an empty set are errors. */
function letters<T extends string>(
  field: string,
  text: string,
  table: Record<string, T>,
  show: (v: string) => string,
): T[] {
  const unknown = [...text].filter((c) => !Object.hasOwn(table, c));
  if (unknown.length > 0) {
    throw new SasTokenError(
      field,
      `${field} ${show(text)} has unknown letter(s) ${show([...new Set(unknown)].join(''))}; allowed: ${Object.keys(table).join('')}`,
    );
  }
  return Object.entries(table)
    .filter(([letter]) => text.includes(letter))
    .map(([, name]) => name);
}

// ISO 8601 forms Storage accepts in st/se: a date, or date-time to minutes, seconds or fractions,
// in UTC (`Z`) or with an offset.
const SAS_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(Z|[+-]\d{2}:\d{2}))?$/;

function parseSasDate(field: string, text: string, show: (v: string) => string): Date {
  const m = SAS_DATE.exec(text);
  const bad = () =>
    new SasTokenError(field, `${field} ${show(text)} is not an ISO 8601 UTC date or date-time`);
  if (!m) throw bad();
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  let time = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // Date.UTC rolls 2024-02-30 over to March; reject instead of guessing.
  const check = new Date(time);
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw bad();
  }
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const [zh, zm] = zone.slice(1).split(':').map(Number) as [number, number];
    if (zh > 23 || zm > 59) throw bad();
    time -= sign * (zh * 60 + zm) * 60_000;
  }
  return new Date(time);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function parseIpRange(text: string, show: (v: string) => string): { start: string; end: string } {
  const [start = '', end = start, extra] = text.trim().split('-');
  if (extra !== undefined || !IPV4.test(start) || !IPV4.test(end) || ipNumber(start) > ipNumber(end)) {
    throw new SasTokenError('sip', `sip ${show(text)} is not an IPv4 address or range a.b.c.d-e.f.g.h`);
  }
  return { start, end };
}

function ipNumber(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function checkNow(now: Date): number {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new RangeError('now must be a valid Date');
  return now.getTime();
}

/** Whole days left before the token expires, rounded down: 0 = expires within 24 hours,
 * negative = already expired. Matches the `SAS_ALERT_THRESHOLDS_DAYS` steps. */
export function daysUntilExpiry(token: SasToken, now: Date): number {
  return Math.floor((token.expiresOn.getTime() - checkNow(now)) / DAY_MS);
}

/** Every reason Cost Management would refuse (or soon stop accepting) the token for an export,
 * in a stable order; empty when it is fit. A service SAS is always refused: the documented
 * requirement is an account SAS for service, container and object resource types (Cost
 * Management answers a narrower token with AuthorizationResourceTypeMismatch). */
export function exportTokenProblems(
  token: SasToken | string,
  now: Date,
  options: ExportTokenOptions = {},
): SasProblem[] {
  const parsed = typeof token === 'string' ? parseSasToken(token) : token;
  const nowMs = checkNow(now);
  const minValidDays = options.minValidDays ?? 1;
  if (!Number.isFinite(minValidDays) || minValidDays < 0) {
    throw new RangeError('minValidDays must be a number of days, 0 or more');
  }
  const problems: SasProblem[] = [];
  const add = (code: SasProblemCode, message: string) => problems.push({ code, message });

  if (parsed.kind === 'service') {
    add(
      'notAccountSas',
      `this is a service SAS (sr=${parsed.signedResource ?? '?'}); exports need an account SAS (ss, srt) for the blob service with service, container and object resource types`,
    );
  } else {
    if (!parsed.services.includes(EXPORT_REQUIRED_SERVICE)) {
      add(
        'blobServiceMissing',
        `the token is not valid for the blob service (ss has ${list(parsed.services)})`,
      );
    }
    const missingTypes = EXPORT_REQUIRED_RESOURCE_TYPES.filter((t) => !parsed.resourceTypes.includes(t));
    if (missingTypes.length > 0) {
      add(
        'resourceTypesMissing',
        `the token lacks resource type(s) ${list(missingTypes)} (srt needs s, c and o)`,
      );
    }
  }
  const missingPermissions = EXPORT_REQUIRED_PERMISSIONS.filter((p) => !parsed.permissions.includes(p));
  if (missingPermissions.length > 0) {
    add(
      'permissionsMissing',
      `the token lacks permission(s) ${list(missingPermissions)} (sp needs read, write, delete, list, add, create)`,
    );
  }
  if (parsed.protocol !== 'https') {
    add('httpAllowed', 'the token allows plain HTTP; create it with HTTPS only (spr=https)');
  }
  if (parsed.ip) {
    add(
      'ipRestricted',
      `the token only works from ${parsed.ip.start === parsed.ip.end ? parsed.ip.start : `${parsed.ip.start}-${parsed.ip.end}`}; Cost Management writes from its own addresses`,
    );
  }

  const expiresMs = parsed.expiresOn.getTime();
  if (expiresMs <= nowMs) {
    add('expired', `the token expired at ${parsed.expiresOn.toISOString()}`);
  } else if (expiresMs - nowMs < minValidDays * DAY_MS) {
    add(
      'expiresSoon',
      `the token expires at ${parsed.expiresOn.toISOString()}, less than ${minValidDays} day(s) from now`,
    );
  }
  if (parsed.startsOn && parsed.startsOn.getTime() > nowMs) {
    add('notYetValid', `the token is not valid before ${parsed.startsOn.toISOString()} (st)`);
  }
  return problems;
}

function list(items: readonly string[]): string {
  return items.length === 0 ? 'none' : items.join(', ');
}

/** A short, stable, non-reversible id of a token: the first 12 hex digits of the SHA-256 of its
 * decoded signature. Tells tokens apart in logs and tables without revealing them. Throws
 * SasTokenError (field `sig`) when the text has no signature. */
export function sasTokenFingerprint(text: string): string {
  const sig = readParams(text).get('sig')?.trim();
  if (!sig) throw new SasTokenError('sig', 'sig (signature) is missing');
  return createHash('sha256').update(sig, 'utf8').digest('hex').slice(0, 12);
}

/** One line for people (alerts, status pages); carries no secret. */
export function describeSasToken(token: SasToken): string {
  const what =
    token.kind === 'account'
      ? `account SAS for ${list(token.services)} (${list(token.resourceTypes)})`
      : `service SAS for a ${token.signedResource ?? 'resource'}`;
  const https = token.protocol === 'https' ? 'HTTPS only' : 'HTTPS or HTTP';
  return `${what}, permissions ${token.permissionLetters}, ${https}, expires ${token.expiresOn.toISOString()}`;
}
