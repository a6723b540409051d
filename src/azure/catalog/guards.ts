// What may be written into a catalog row, and how rows are read back. Secrets never reach a table:
// every string property is checked just before it is sent, and free-text fields are redacted first.
export { redactSecrets } from '../../domain/redact';

/** A SAS signature (`sig=` followed by a value, also URL-encoded), account keys in connection strings,
 * bearer tokens (JWT), and a bare storage account key (88 base64 characters). A redaction marker
 * (`sig=REDACTED` as domain/redact.ts writes it, `sig=[REDACTED]`, `sig=***`) is not a value. */
const SECRET_PATTERNS: readonly RegExp[] = [
  /sig(?:=|%3D)(?!REDACTED)[A-Za-z0-9%+/_-]/i,
  /(?:AccountKey|SharedAccessKey|SharedAccessSignature)=(?!REDACTED)[^;\s[*]/i,
  /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\./,
  /(?:^|[^A-Za-z0-9+/])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])/,
];

export function looksLikeSecret(text: string): boolean {
  // Every pattern needs `=` (or `%3D`), `eyJ`, or 86 characters in a row: most values (ids, dates,
  // paths) have none, and every row's every string passes through here.
  if (text.length < 86 && !text.includes('=') && !text.includes('%') && !text.includes('eyJ')) return false;
  return SECRET_PATTERNS.some((p) => p.test(text));
}

export class CatalogSecretError extends Error {
  constructor(
    readonly table: string,
    readonly property: string,
  ) {
    // The value is never part of the message.
    super(
      `${table}.${property}: refusing to write a value that looks like a secret (SAS signature, key or token)`,
    );
    this.name = 'CatalogSecretError';
  }
}

/** Throws CatalogSecretError if any string property (keys included) looks like a secret. */
export function assertNoSecrets(table: string, entity: Record<string, unknown>): void {
  for (const [property, value] of Object.entries(entity)) {
    if (typeof value === 'string' && looksLikeSecret(value)) throw new CatalogSecretError(table, property);
  }
}

/** A string property holds at most 32 Ki UTF-16 code units (64 KiB). */
export const MAX_STRING_PROPERTY_LENGTH = 32 * 1024;

/** Stores an array as one JSON string property; throws RangeError naming the field when too big. */
export function jsonArray(field: string, values: readonly string[]): string {
  const json = JSON.stringify(values);
  if (json.length > MAX_STRING_PROPERTY_LENGTH) {
    throw new RangeError(
      `${field}: ${values.length} values take ${json.length} characters as JSON; a table property holds ${MAX_STRING_PROPERTY_LENGTH}`,
    );
  }
  return json;
}

/** Keeps as many leading values as fit in one property; says whether some were left out. */
export function jsonArrayTruncated(values: readonly string[]): { json: string; truncated: boolean } {
  let kept = values.length;
  let json = JSON.stringify(values);
  while (json.length > MAX_STRING_PROPERTY_LENGTH && kept > 0) {
    kept = Math.floor(kept * 0.9);
    json = JSON.stringify(values.slice(0, kept));
  }
  return { json, truncated: kept < values.length };
}

/** ISO 8601 timestamps as Azure writes them: optional fraction up to 7 digits, zone optional
 * (scheduled manifests omit it). Stored as strings so nothing is lost to Edm.DateTime's milliseconds. */
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:\d{2})?$/;

export function isoTimestamp(field: string, value: string): string {
  if (typeof value !== 'string' || !ISO_TIMESTAMP.test(value) || Number.isNaN(Date.parse(value))) {
    throw new TypeError(
      `${field}: expected an ISO 8601 timestamp like 2025-07-01T00:00:00Z, got "${String(value)}"`,
    );
  }
  return value;
}

/** A billing month, `YYYY-MM`. */
export function month(field: string, value: string): string {
  if (typeof value !== 'string' || !MONTH.test(value)) {
    throw new TypeError(`${field}: expected a month like 2025-07, got "${String(value)}"`);
  }
  return value;
}

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

export function nonEmpty(field: string, value: string, maxLength = 1024): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw new TypeError(`${field}: must be a non-empty string`);
  if (value.length > maxLength)
    throw new RangeError(`${field}: at most ${maxLength} characters, got ${value.length}`);
  return value;
}

export function wholeNumber(field: string, value: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${field}: expected a whole number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

export function oneOf<T extends string>(field: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) {
    throw new TypeError(`${field}: expected one of ${allowed.join(', ')}, got "${String(value)}"`);
  }
  return value;
}

/** Counters that may pass 2^31 (bytes, rows) go in as Edm.Int64; the SDK hands them back as bigint. */
export function int64(field: string, value: number): bigint {
  return BigInt(wholeNumber(field, value));
}

/** Raised when a stored row does not have the shape this code writes (edited by hand, older version). */
export class CatalogDataError extends Error {
  constructor(
    readonly table: string,
    readonly partitionKey: string,
    readonly rowKey: string,
    readonly property: string,
    expected: string,
  ) {
    super(`${table} row (${partitionKey}, ${rowKey}): property ${property} is not ${expected}`);
    this.name = 'CatalogDataError';
  }
}

/** Typed access to a row read back from a table; every mismatch names the table, row and property. */
export class RowReader {
  constructor(
    private readonly table: string,
    private readonly row: Record<string, unknown>,
  ) {}

  fail(property: string, expected: string): never {
    throw new CatalogDataError(
      this.table,
      String(this.row.partitionKey),
      String(this.row.rowKey),
      property,
      expected,
    );
  }

  string(property: string): string {
    const value = this.row[property];
    if (typeof value !== 'string') this.fail(property, 'a string');
    return value;
  }

  optionalString(property: string): string | undefined {
    const value = this.row[property];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') this.fail(property, 'a string');
    return value;
  }

  number(property: string): number {
    const value = this.optionalNumber(property);
    if (value === undefined) this.fail(property, 'a number');
    return value;
  }

  optionalNumber(property: string): number | undefined {
    const value = this.row[property];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'bigint') return Number(value);
    if (typeof value !== 'number') this.fail(property, 'a number');
    return value;
  }

  boolean(property: string, fallback?: boolean): boolean {
    const value = this.row[property];
    if ((value === undefined || value === null) && fallback !== undefined) return fallback;
    if (typeof value !== 'boolean') this.fail(property, 'a boolean');
    return value;
  }

  oneOf<T extends string>(property: string, allowed: readonly T[]): T {
    const value = this.string(property);
    if (!allowed.includes(value as T)) this.fail(property, `one of ${allowed.join(', ')}`);
    return value as T;
  }

  stringArray(property: string): string[] {
    const text = this.optionalString(property);
    if (text === undefined) return [];
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed) && parsed.every((v) => typeof v === 'string')) return parsed;
    } catch {
      // fall through to the typed error
    }
    this.fail(property, 'a JSON array of strings');
  }
}

/** Drops undefined properties so optional fields are absent, not null, in the table. */
export function compact<T extends Record<string, unknown>>(entity: T): T {
  for (const key of Object.keys(entity)) if (entity[key] === undefined) delete entity[key];
  return entity;
}

const STORAGE_ACCOUNT = /^[a-z0-9]{3,24}$/;
const CONTAINER = /^(?!.*--)[a-z0-9$][a-z0-9-]{1,61}[a-z0-9]$/;

/** A storage account name (3-24 lower-case letters and digits). */
export function storageAccount(field: string, value: string): string {
  if (typeof value !== 'string' || !STORAGE_ACCOUNT.test(value)) {
    throw new TypeError(
      `${field}: expected a storage account name (3-24 lower-case letters and digits), got "${String(value)}"`,
    );
  }
  return value;
}

/** A destination's container name and root folder (at most 1024 characters), as an export or backfill run records them. */
export function checkDestinationFolder(d: { container: string; rootFolderPath: string }): void {
  if (typeof d.container !== 'string' || !CONTAINER.test(d.container)) {
    throw new TypeError(
      `destination.container: expected a storage container name, got "${String(d.container)}"`,
    );
  }
  if (typeof d.rootFolderPath !== 'string' || d.rootFolderPath.length > 1024) {
    throw new TypeError('destination.rootFolderPath: expected a string of at most 1024 characters');
  }
}

/** `map(value)`, or undefined for an absent value. */
export function optional<T, R>(value: T | undefined, map: (v: T) => R): R | undefined {
  return value === undefined ? undefined : map(value);
}
