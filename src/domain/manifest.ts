// Parses the manifest Cost Management writes beside each export run into one typed landing record.
// It accepts what Azure really writes (manifestVersion 2024-04-01, capitalised enum values, CRLF,
// three date styles), the FinOps toolkit's minimal hand-made manifest, and the legacy 2021-01-01
// `_manifest.json` whose run facts live only in its folder path. Anything else is a ManifestError
// that names the field; odd JSON never escapes as a TypeError.
import { redactSecrets } from './redact';
import { EXPORT_DATASETS, type ExportDataset, parseScope, type ScopeKind } from './scope';

export class ManifestError extends Error {
  constructor(
    /** Where the problem is: `$` (the document), `runInfo.runId`, `blobs[3].byteCount`, `options.blobPath`... */
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'ManifestError';
  }
}

export type ManifestFormat = 'Csv' | 'Parquet';
export type ManifestCompression = 'none' | 'gzip' | 'snappy';

export interface ManifestBlob {
  /** Full blob name from the container root, as Azure writes it. */
  blobName: string;
  byteCount?: number;
  dataRowCount?: number;
  /** From `part_{i}_{n}.*` or legacy `{n}.csv` names; set only when every blob of the manifest has
   * one and they are all distinct, so it can key rows. */
  partNumber?: number;
}

interface LandingRecordBase {
  manifestVersion?: string;
  exportName: string;
  /** Run id (GUIDs lower-cased). */
  runId: string;
  /** `runInfo.startDate` (legacy: first day of the folder's date range). No zone means UTC. */
  periodStart: Date;
  periodEnd?: Date;
  /** `YYYY-MM` of the start date as written (the toolkit's `startDate[0:7]`), whatever its offset. */
  billingMonth: string;
  format?: ManifestFormat;
  compression?: ManifestCompression;
  rootFolderPath?: string;
  blobs: ManifestBlob[];
  /** As written in the manifest (checked equal to blobs.length). */
  blobCount?: number;
  /** As written, else the sum over blobs when every blob has one. */
  dataRowCount?: number;
  /** As written, else the sum over blobs when every blob has one. */
  byteCount?: number;
}

/** A manifest with exportConfig and runInfo (2023-07-01-preview onwards, 2024-04-01, hand-made). */
export interface CurrentLandingRecord extends LandingRecordBase {
  legacy: false;
  /** Canonical scope (parseScope) when the resource id's scope parses, else the raw text. */
  scope: string;
  /** Set when `scope` is canonical. */
  scopeKind?: ScopeKind;
  exportResourceId: string;
  /** `exportConfig.type` as written. */
  datasetType: string;
  /** The known dataset `datasetType` names, matched case-insensitively. */
  dataset?: ExportDataset;
  datasetVersion?: string;
  apiVersion?: string;
  timeFrame?: string;
  granularity?: string;
  executionType?: string;
  submittedTime?: Date;
  overwriteBehavior?: string;
  partitionData?: boolean;
  /** The storage account's ARM id in real manifests, not a URL. */
  containerUri?: string;
}

/** A 2021-01-01 `_manifest.json`: no exportConfig/runInfo, so export, period and run come from the path. */
export interface LegacyLandingRecord extends LandingRecordBase {
  legacy: true;
  scope?: undefined;
  scopeKind?: undefined;
  exportResourceId?: undefined;
  datasetType?: undefined;
  dataset?: undefined;
  datasetVersion?: undefined;
  apiVersion?: undefined;
  timeFrame?: undefined;
  granularity?: undefined;
  executionType?: undefined;
  submittedTime?: undefined;
  overwriteBehavior?: undefined;
  partitionData?: undefined;
  containerUri?: undefined;
}

export type LandingRecord = CurrentLandingRecord | LegacyLandingRecord;

export interface ParseManifestOptions {
  /** The manifest's blob name (path inside the container). Needed for legacy manifests; a leading
   * container segment only ends up in rootFolderPath. */
  blobPath?: string;
}

export const MANIFEST_BLOB_NAME = 'manifest.json';
export const LEGACY_MANIFEST_BLOB_NAME = '_manifest.json';

/** Limits that keep a hostile or broken manifest from costing more than a real one ever could. */
const MAX_INPUT_CHARS = 32 * 1024 * 1024;
const MAX_BLOBS = 100_000;
const MAX_BLOB_NAME = 1024; // Azure Storage's own blob name limit
const MAX_TEXT = 2048;

/**
 * True when the last path segment is exactly `manifest.json` or the legacy `_manifest.json`.
 * Case-sensitive: blob names are case-sensitive in Azure Storage and Azure always writes these in
 * lower case, so `Manifest.json` is some other file (and the toolkit's trigger, `endsWith
 * 'manifest.json'`, is case-sensitive too). Unlike that suffix test, `xmanifest.json` does not match.
 */
export function isManifestBlobName(name: string): boolean {
  if (typeof name !== 'string') return false;
  const last = name.slice(name.lastIndexOf('/') + 1);
  return last === MANIFEST_BLOB_NAME || last === LEGACY_MANIFEST_BLOB_NAME;
}

/** The folder holding a blob (the run folder for a manifest), without leading or trailing `/`;
 * empty for a blob at the container root. */
export function runFolderOf(blobPath: string): string {
  if (typeof blobPath !== 'string') throw new ManifestError('blobPath', 'must be a string');
  const trimmed = blobPath.replace(/^\/+/, '');
  const slash = trimmed.lastIndexOf('/');
  return slash < 0 ? '' : trimmed.slice(0, slash).replace(/\/+$/, '');
}

/** Parses and validates a manifest. `input` may be the blob's bytes, its text, or parsed JSON. */
export function parseManifest(
  input: string | Buffer | object,
  options: ParseManifestOptions = {},
): LandingRecord {
  if (typeof options !== 'object' || options === null)
    throw new ManifestError('options', 'must be an object');
  const blobPath = options.blobPath;
  if (blobPath !== undefined && (typeof blobPath !== 'string' || blobPath.length > MAX_BLOB_NAME + 64))
    throw new ManifestError('options.blobPath', 'must be a blob name string');
  const doc = toDocument(input);
  if (!isRecord(doc)) throw new ManifestError('$', `must be a JSON object, not ${kindOf(doc)}`);

  const exportConfig = optionalObject(doc, 'exportConfig', 'exportConfig');
  const runInfo = optionalObject(doc, 'runInfo', 'runInfo');
  const common = parseCommon(doc);
  if (!exportConfig && !runInfo) return parseLegacy(doc, common, blobPath);
  if (!exportConfig) throw new ManifestError('exportConfig', 'is missing (runInfo is present)');
  if (!runInfo) throw new ManifestError('runInfo', 'is missing (exportConfig is present)');
  return parseCurrent(exportConfig, runInfo, optionalObject(doc, 'deliveryConfig', 'deliveryConfig'), common);
}

// ---------------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Common {
  manifestVersion?: string;
  blobs: ManifestBlob[];
  blobCount?: number;
  dataRowCount?: number;
  byteCount?: number;
}

function toDocument(input: unknown): unknown {
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else if (Buffer.isBuffer(input) || input instanceof Uint8Array) {
    if (input.byteLength > MAX_INPUT_CHARS * 2) throw new ManifestError('$', 'is too large to be a manifest');
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      throw new ManifestError('$', 'is not valid UTF-8');
    }
  } else if (typeof input === 'object' && input !== null) {
    // Round-trip parsed input so getters, cycles, class instances and prototype tricks become
    // plain JSON (or a ManifestError) before any field is read.
    let serialised: string | undefined;
    try {
      serialised = JSON.stringify(input);
    } catch {
      throw new ManifestError('$', 'is not serialisable as JSON');
    }
    if (typeof serialised !== 'string') throw new ManifestError('$', 'is not serialisable as JSON');
    text = serialised;
  } else {
    throw new ManifestError('$', `must be a string, Buffer or object, not ${kindOf(input)}`);
  }
  if (text.length > MAX_INPUT_CHARS) throw new ManifestError('$', 'is too large to be a manifest');
  // Tolerate the UTF-8 BOM some Azure writers prepend; JSON.parse handles CRLF itself.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    throw new ManifestError(
      '$',
      `is not valid JSON (${e instanceof Error ? e.message.slice(0, 120) : 'parse error'})`,
    );
  }
}

function isRecord(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** Own properties only: `__proto__`, `constructor` and friends are data, never the prototype's. */
function get(obj: JsonObject, key: string): Json | undefined {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

function describe(value: unknown): string {
  if (typeof value !== 'string') return kindOf(value);
  // Manifests carry no secrets, but a path handed to us might: redact before cutting, so a cut
  // never leaves half a signature unrecognised.
  const safe = redactSecrets(value.slice(0, MAX_TEXT));
  return JSON.stringify(safe.length > 60 ? `${safe.slice(0, 60)}…` : safe);
}

/** Null counts as absent: Azure echoes `null` for settings a dataset does not use. */
function optionalObject(obj: JsonObject, key: string, field: string): JsonObject | undefined {
  const value = get(obj, key);
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw new ManifestError(field, `must be an object, not ${kindOf(value)}`);
  return value;
}

function optionalString(obj: JsonObject, key: string, field: string, max = MAX_TEXT): string | undefined {
  const value = get(obj, key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ManifestError(field, `must be a string, not ${kindOf(value)}`);
  if (value.length > max) throw new ManifestError(field, `is longer than ${max} characters`);
  return value;
}

function requiredString(obj: JsonObject, key: string, field: string, max = MAX_TEXT): string {
  const value = optionalString(obj, key, field, max);
  if (value === undefined) throw new ManifestError(field, 'is missing');
  if (value.trim() === '') throw new ManifestError(field, 'is empty');
  return value;
}

function optionalCount(obj: JsonObject, key: string, field: string): number | undefined {
  const value = get(obj, key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    throw new ManifestError(
      field,
      `must be a whole number, not ${typeof value === 'number' ? value : kindOf(value)}`,
    );
  if (value < 0) throw new ManifestError(field, `must not be negative (${value})`);
  return value;
}

function optionalBoolean(obj: JsonObject, key: string, field: string): boolean | undefined {
  const value = get(obj, key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean')
    throw new ManifestError(field, `must be true or false, not ${kindOf(value)}`);
  return value;
}

function normaliseFormat(value: string | undefined, field: string): ManifestFormat | undefined {
  if (value === undefined) return undefined;
  switch (value.trim().toLowerCase()) {
    case 'csv':
      return 'Csv';
    case 'parquet':
      return 'Parquet';
    default:
      throw new ManifestError(field, `${describe(value)} is not Csv or Parquet`);
  }
}

function normaliseCompression(value: string | undefined, field: string): ManifestCompression | undefined {
  if (value === undefined) return undefined;
  const lower = value.trim().toLowerCase();
  if (lower === 'none' || lower === 'gzip' || lower === 'snappy') return lower;
  throw new ManifestError(field, `${describe(value)} is not None, Gzip or Snappy`);
}

interface ParsedDate {
  date: Date;
  /** `YYYY-MM` as written, before any offset is applied. */
  month: string;
}

// `2025-07-16T00:00:00Z`, `2025-07-31T00:00:00` (no zone = UTC), `2025-08-01T00:00:00+00:00`,
// `2024-02-03T18:33:03.1032074Z` (7 fractional digits), or a bare date.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

function parseDate(text: string, field: string): ParsedDate {
  const m = DATE_TIME.exec(text.trim());
  if (!m) throw new ManifestError(field, `${describe(text)} is not an ISO 8601 date-time`);
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((v) =>
    Number(v ?? 0),
  ) as [number, number, number, number, number, number];
  const millis = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone && zone.toUpperCase() !== 'Z') {
    const digits = zone.replace(':', '');
    offsetMinutes =
      (zone.startsWith('-') ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
    if (Number(digits.slice(3, 5)) > 59 || Math.abs(offsetMinutes) > 14 * 60)
      throw new ManifestError(field, `${describe(text)} has an impossible UTC offset`);
  }
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  const check = new Date(Date.UTC(year, month - 1, day));
  if (
    year < 1970 ||
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  )
    throw new ManifestError(field, `${describe(text)} is not a real date-time`);
  return { date: new Date(utc - offsetMinutes * 60_000), month: `${m[1]}-${m[2]}` };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Run ids end up in table keys and blob paths: GUIDs in practice, but hand-made manifests may use
// any short id, so allow what keys and paths accept safely.
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function normaliseRunId(value: string, field: string): string {
  if (!RUN_ID.test(value)) throw new ManifestError(field, `${describe(value)} is not a run id (a GUID)`);
  return GUID.test(value) ? value.toLowerCase() : value;
}

function parseCommon(doc: JsonObject): Common {
  const manifestVersion = optionalString(doc, 'manifestVersion', 'manifestVersion', 64);
  const blobCount = optionalCount(doc, 'blobCount', 'blobCount');
  const dataRowCount = optionalCount(doc, 'dataRowCount', 'dataRowCount');
  const byteCount = optionalCount(doc, 'byteCount', 'byteCount');
  const rawBlobs = get(doc, 'blobs');
  if (rawBlobs === undefined || rawBlobs === null) throw new ManifestError('blobs', 'is missing');
  if (!Array.isArray(rawBlobs)) throw new ManifestError('blobs', `must be an array, not ${kindOf(rawBlobs)}`);
  if (rawBlobs.length > MAX_BLOBS) throw new ManifestError('blobs', `lists more than ${MAX_BLOBS} blobs`);
  if (blobCount !== undefined && blobCount !== rawBlobs.length)
    throw new ManifestError('blobCount', `is ${blobCount} but blobs lists ${rawBlobs.length}`);

  const seen = new Set<string>();
  const blobs: ManifestBlob[] = rawBlobs.map((raw, i) => {
    const at = `blobs[${i}]`;
    if (!isRecord(raw)) throw new ManifestError(at, `must be an object, not ${kindOf(raw)}`);
    const blobName = requiredString(raw, 'blobName', `${at}.blobName`, MAX_BLOB_NAME);
    if (seen.has(blobName))
      throw new ManifestError(`${at}.blobName`, `${describe(blobName)} is listed twice`);
    seen.add(blobName);
    optionalCount(raw, 'headerRowCount', `${at}.headerRowCount`); // legacy; validated, not kept
    return compact({
      blobName,
      byteCount: optionalCount(raw, 'byteCount', `${at}.byteCount`),
      dataRowCount: optionalCount(raw, 'dataRowCount', `${at}.dataRowCount`),
    });
  });
  assignPartNumbers(blobs);

  return compact({
    manifestVersion,
    blobs,
    blobCount,
    dataRowCount: reconcile(dataRowCount, blobs, 'dataRowCount'),
    byteCount: reconcile(byteCount, blobs, 'byteCount'),
  });
}

/** The manifest total, checked against the per-blob sum when every blob states one (true in every
 * real sample), or that sum when the manifest states no total. */
function reconcile(
  total: number | undefined,
  blobs: ManifestBlob[],
  key: 'dataRowCount' | 'byteCount',
): number | undefined {
  if (blobs.length === 0) {
    return total;
  }
  let sum = 0;
  for (const blob of blobs) {
    const value = blob[key];
    if (value === undefined) return total;
    sum += value;
  }
  if (!Number.isSafeInteger(sum)) throw new ManifestError(key, 'the per-blob sum is too large');
  if (total !== undefined && total !== sum)
    throw new ManifestError(key, `is ${total} but the blobs add up to ${sum}`);
  return sum;
}

const PART_NAME = /^part_\d+_(\d+)\./;
const LEGACY_PART_NAME = /^(\d+)\./;

function assignPartNumbers(blobs: ManifestBlob[]): void {
  const numbers = blobs.map((b) => {
    const file = b.blobName.slice(b.blobName.lastIndexOf('/') + 1);
    const m = PART_NAME.exec(file) ?? LEGACY_PART_NAME.exec(file);
    const n = m ? Number(m[1]) : NaN;
    return Number.isSafeInteger(n) ? n : undefined;
  });
  if (numbers.some((n) => n === undefined) || new Set(numbers).size !== numbers.length) return;
  blobs.forEach((b, i) => (b.partNumber = numbers[i]));
}

function parseCurrent(
  exportConfig: JsonObject,
  runInfo: JsonObject,
  deliveryConfig: JsonObject | undefined,
  common: Common,
): CurrentLandingRecord {
  const exportName = requiredString(exportConfig, 'exportName', 'exportConfig.exportName', 256);
  const exportResourceId = requiredString(exportConfig, 'resourceId', 'exportConfig.resourceId');
  const datasetType = requiredString(exportConfig, 'type', 'exportConfig.type', 128);
  const { scope, scopeKind } = scopeOf(exportResourceId);

  const runId = normaliseRunId(requiredString(runInfo, 'runId', 'runInfo.runId', 256), 'runInfo.runId');
  const start = parseDate(requiredString(runInfo, 'startDate', 'runInfo.startDate', 64), 'runInfo.startDate');
  const endText = optionalString(runInfo, 'endDate', 'runInfo.endDate', 64);
  const end = endText === undefined ? undefined : parseDate(endText, 'runInfo.endDate');
  if (end && end.date < start.date) throw new ManifestError('runInfo.endDate', 'is before runInfo.startDate');
  const submittedText = optionalString(runInfo, 'submittedTime', 'runInfo.submittedTime', 64);

  const delivery = deliveryConfig ?? {};
  return compact({
    manifestVersion: common.manifestVersion,
    legacy: false as const,
    exportName,
    scope,
    scopeKind,
    exportResourceId,
    datasetType,
    dataset: EXPORT_DATASETS.find((d) => d.toLowerCase() === datasetType.trim().toLowerCase()),
    datasetVersion: optionalString(exportConfig, 'dataVersion', 'exportConfig.dataVersion', 64),
    apiVersion: optionalString(exportConfig, 'apiVersion', 'exportConfig.apiVersion', 64),
    timeFrame: optionalString(exportConfig, 'timeFrame', 'exportConfig.timeFrame', 64),
    granularity: optionalString(exportConfig, 'granularity', 'exportConfig.granularity', 64),
    runId,
    periodStart: start.date,
    periodEnd: end?.date,
    billingMonth: start.month,
    executionType: optionalString(runInfo, 'executionType', 'runInfo.executionType', 64),
    submittedTime:
      submittedText === undefined ? undefined : parseDate(submittedText, 'runInfo.submittedTime').date,
    overwriteBehavior: optionalString(
      delivery,
      'dataOverwriteBehavior',
      'deliveryConfig.dataOverwriteBehavior',
      64,
    ),
    partitionData: optionalBoolean(delivery, 'partitionData', 'deliveryConfig.partitionData'),
    format: normaliseFormat(
      optionalString(delivery, 'fileFormat', 'deliveryConfig.fileFormat', 64),
      'deliveryConfig.fileFormat',
    ),
    compression: normaliseCompression(
      optionalString(delivery, 'compressionMode', 'deliveryConfig.compressionMode', 64),
      'deliveryConfig.compressionMode',
    ),
    containerUri: optionalString(delivery, 'containerUri', 'deliveryConfig.containerUri'),
    rootFolderPath: optionalString(
      delivery,
      'rootFolderPath',
      'deliveryConfig.rootFolderPath',
      MAX_BLOB_NAME,
    ),
    blobs: common.blobs,
    blobCount: common.blobCount,
    dataRowCount: common.dataRowCount,
    byteCount: common.byteCount,
  });
}

const EXPORTS_MARKER = '/providers/microsoft.costmanagement/exports/';

/** Scope = the resource id before `/providers/Microsoft.CostManagement/exports/`, as the toolkit
 * splits it; canonical when it is one of the nine export scopes, else kept raw (hand-made manifests). */
function scopeOf(resourceId: string): { scope: string; scopeKind?: ScopeKind } {
  const at = resourceId.toLowerCase().lastIndexOf(EXPORTS_MARKER);
  const raw = (at < 0 ? resourceId : resourceId.slice(0, at)).trim();
  if (raw.replace(/\/+/g, '') === '')
    throw new ManifestError('exportConfig.resourceId', `${describe(resourceId)} names no scope`);
  try {
    const parsed = parseScope(raw);
    return { scope: parsed.canonical, scopeKind: parsed.kind };
  } catch {
    return { scope: raw };
  }
}

const DATE_RANGE = /^(\d{4})(\d{2})(\d{2})-(\d{4})(\d{2})(\d{2})$/;

/** Legacy run facts from `{root}/{export}/{yyyyMMdd-yyyyMMdd}/[{yyyyMMddHHmm}/]{runId}/_manifest.json`;
 * without a blob path, the first blob's folder (same layout) stands in. */
function parseLegacy(doc: JsonObject, common: Common, blobPath: string | undefined): LegacyLandingRecord {
  const field = 'options.blobPath';
  const path = blobPath ?? common.blobs[0]?.blobName;
  if (path === undefined)
    throw new ManifestError(field, 'is needed for a legacy manifest (no exportConfig/runInfo) with no blobs');
  const folders = runFolderOf(path)
    .split('/')
    .filter((s) => s !== '');
  let runAt = -1;
  for (let i = folders.length - 1; i >= 0; i--) {
    if (GUID.test(folders[i]!)) {
      runAt = i;
      break;
    }
  }
  if (runAt < 0) throw new ManifestError(field, `${describe(path)} has no run id (GUID) folder`);
  let rangeAt = -1;
  for (let i = runAt - 1; i >= 0; i--) {
    if (DATE_RANGE.test(folders[i]!)) {
      rangeAt = i;
      break;
    }
  }
  if (rangeAt < 1)
    throw new ManifestError(
      field,
      `${describe(path)} is not {root}/{export}/{yyyyMMdd-yyyyMMdd}/.../{runId}/`,
    );
  const range = DATE_RANGE.exec(folders[rangeAt]!)!;
  const start = parseDate(`${range[1]}-${range[2]}-${range[3]}`, field);
  const end = parseDate(`${range[4]}-${range[5]}-${range[6]}`, field);
  if (end.date < start.date)
    throw new ManifestError(field, `date range ${folders[rangeAt]} ends before it starts`);

  const root = folders.slice(0, rangeAt - 1).join('/');
  return compact({
    manifestVersion: common.manifestVersion,
    legacy: true as const,
    exportName: folders[rangeAt - 1]!,
    runId: folders[runAt]!.toLowerCase(),
    periodStart: start.date,
    periodEnd: end.date,
    billingMonth: start.month,
    format: normaliseFormat(optionalString(doc, 'dataFormat', 'dataFormat', 64), 'dataFormat'),
    rootFolderPath: root === '' ? undefined : root,
    blobs: common.blobs,
    blobCount: common.blobCount,
    dataRowCount: common.dataRowCount,
    byteCount: common.byteCount,
  });
}

/** Drops undefined members so records compare, serialise and store cleanly. */
function compact<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key];
  return value;
}
