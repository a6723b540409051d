// Table Storage keys. PartitionKey and RowKey forbid / \ # ? and control characters and are at
// most 1 KiB; `%` and `'` are legal but break point operations in Azure (and in Azurite), so they are
// escaped too. Escaping (not stripping) keeps the mapping injective: two texts never share a key.
import { type Scope, scopeKey } from '../../domain/scope';

/** 1 KiB of UTF-16: the documented key limit counted the strict way. */
export const MAX_KEY_LENGTH = 512;

/** `~` starts every escape (`~XX`, two upper-case hex digits); `|` joins the parts of composite keys. */
const ESCAPE = '~';
const SEPARATOR = '|';
const NEEDS_ESCAPE = /[~/\\#?%'|\u0000-\u001f\u007f-\u009f]/g;
const FORBIDDEN_IN_KEY = /[/\\#?\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export class TableKeyError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'TableKeyError';
  }
}

/** Escapes any text into a legal key part. Injective; the output never contains `|`, `%` or `'`,
 * so composite keys can join parts with `|`. Throws TableKeyError naming `field`. */
export function tableKey(text: string, field = 'key'): string {
  if (typeof text !== 'string' || text.length === 0)
    throw new TableKeyError(`${field}: must be a non-empty string`);
  if (LONE_SURROGATE.test(text)) throw new TableKeyError(`${field}: is not well-formed Unicode`);
  const key = text.replace(
    NEEDS_ESCAPE,
    (c) => `${ESCAPE}${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  );
  return checkLength(key, field);
}

/** The inverse of tableKey. */
export function fromTableKey(key: string): string {
  return key.replace(/~([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Joins already-escaped parts. Callers guarantee that every part but the first is a tableKey output
 * (so it has no `|`), which makes splitting at the last separators unambiguous. */
function joinKey(parts: string[], field: string): string {
  return checkLength(parts.join(SEPARATOR), field);
}

function checkLength(key: string, field: string): string {
  if (key.length > MAX_KEY_LENGTH) {
    throw new TableKeyError(
      `${field}: key is ${key.length} characters; Table Storage allows ${MAX_KEY_LENGTH}`,
    );
  }
  return key;
}

/** A scope's key (domain `scopeKey`: `/` → `|`), checked to be key-safe. */
export function scopePartitionKey(scope: Scope | string): string {
  const key = scopeKey(scope);
  if (FORBIDDEN_IN_KEY.test(key) || /[%'~]/.test(key)) {
    // Unreachable for parsed scopes; guards against a change in scopeKey.
    throw new TableKeyError(`scope: key "${key}" contains a character Table keys must not hold`);
  }
  return checkLength(key, 'scope');
}

/** An export name as a key part. ARM compares resource names case-insensitively, so the key folds
 * case (the record keeps the name as written). */
export function exportNameKey(exportName: string): string {
  if (typeof exportName !== 'string') throw new TableKeyError('exportName: must be a non-empty string');
  return tableKey(exportName.toLowerCase(), 'exportName');
}

/** Identifies one export across scopes: `{scope key}|{escaped export name}`. The name part has no
 * `|`, so the last `|` separates it: injective. Landings are partitioned by it. */
export function exportKey(scope: Scope | string, exportName: string): string {
  return joinKey([scopePartitionKey(scope), exportNameKey(exportName)], 'exportKey');
}

/** Landings RowKey: `{period}|{runId}`; runs of one period sort together. Landing rows sort before
 * LANDING_ROWS_END; the partition's other rows (its files, its period rows) start with `~`. */
export function landingRowKey(period: string, runId: string): string {
  const periodKey = tableKey(period, 'period');
  if (periodKey.startsWith(ESCAPE)) {
    throw new TableKeyError(`period: must not start with a character keys escape, got "${period}"`);
  }
  return joinKey([periodKey, tableKey(runId, 'runId')], 'landing row key');
}

/** Every landing RowKey is below this; file and period rows of the same partition are not. */
export const LANDING_ROWS_END = ESCAPE;
const FILE_ROW_PREFIX = `${ESCAPE}file`;
const PERIOD_ROW_PREFIX = `${ESCAPE}period`;

/** A run's file rows live in its landing's partition (so the landing and its files can be written in
 * one entity group transaction): `~file|{period}|{runId}|{part}`. */
export function landingFileRowKey(period: string, runId: string, part: number): string {
  // A run's rows are keyed one after another: escape its period and run id once, not per file.
  if (lastFilesPrefix?.period !== period || lastFilesPrefix.runId !== runId) {
    lastFilesPrefix = { period, runId, prefix: landingFilesPrefix(period, runId) };
  }
  return joinKey([lastFilesPrefix.prefix, partRowKey(part)], 'file row key');
}
let lastFilesPrefix: { period: string; runId: string; prefix: string } | undefined;

/** The RowKey prefix (without the trailing `|`) shared by one run's file rows; see prefixRange. */
export function landingFilesPrefix(period: string, runId: string): string {
  return joinKey([FILE_ROW_PREFIX, tableKey(period, 'period'), tableKey(runId, 'runId')], 'file row key');
}

/** The period row of an export: `~period|{period}`, the lock every supersession decision goes through. */
export function periodRowKey(period: string): string {
  return joinKey([PERIOD_ROW_PREFIX, tableKey(period, 'period')], 'period row key');
}

/** Zero-padded so RowKey order is part order. */
export const PART_KEY_DIGITS = 6;
export function partRowKey(part: number): string {
  if (!Number.isSafeInteger(part) || part < 0 || part >= 10 ** PART_KEY_DIGITS) {
    throw new TableKeyError(
      `part: expected a whole number from 0 to ${10 ** PART_KEY_DIGITS - 1}, got ${part}`,
    );
  }
  return String(part).padStart(PART_KEY_DIGITS, '0');
}

/** backfillRuns RowKey: `{dataset}|{month}`. */
export function backfillRowKey(dataset: string, month: string): string {
  return joinKey([tableKey(dataset, 'dataset'), tableKey(month, 'month')], 'backfill row key');
}

/** The lookup partition of backfillRuns: `export|{exportKey}`. A tableKey output never holds `|`, so
 * no backfill id's partition can collide with a lookup partition. Scoped, because backfill export
 * names (`cea-bf-actualcost-202501`) repeat in every scope. */
export function backfillLookupPartitionKey(scope: Scope | string, exportName: string): string {
  return joinKey(['export', exportKey(scope, exportName)], 'backfill lookup key');
}

/** Smallest string greater than every key starting with `prefix|`: `}` follows `|` in code order. */
export function prefixRange(prefix: string): { from: string; to: string } {
  return { from: `${prefix}${SEPARATOR}`, to: `${prefix}}` };
}
