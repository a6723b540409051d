// Request validation for the emulator: the spec's own `Export` and `ExportRunRequest` schemas
// (dev/emulator/spec/2025-03-01, copied verbatim from Azure/azure-rest-api-specs) compiled with
// ajv, plus the service-level rules the schema cannot express. Errors are ARM-shaped and name the field.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

import {
  datasetsForScope,
  isDatasetAllowed,
  isGranularityAllowed,
  type ScopeKind,
} from '../../src/domain/scope';
import { SAS_AUTHORIZATION_MESSAGE } from './delivery';

export const SPEC_DIR = path.join(__dirname, 'spec', '2025-03-01');

export interface ArmErrorBody {
  error: { code: string; message: string };
}

/** An error the emulator answers with: HTTP status + ARM body `{ error: { code, message } }`. */
export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ArmError';
  }

  body(): ArmErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

export interface TimePeriodInput {
  from: string;
  to: string;
}

export interface DestinationInput {
  type?: string;
  resourceId?: string;
  container: string;
  rootFolderPath?: string;
  sasToken?: string;
  storageAccount?: string;
}

export interface FilterItemInput {
  name?: string;
  value?: string;
}

export interface DefinitionInput {
  type: string;
  timeframe: string;
  timePeriod?: TimePeriodInput;
  dataSet?: {
    granularity?: string;
    configuration?: { columns?: string[]; dataVersion?: string; filters?: FilterItemInput[] };
  };
}

export interface ScheduleInput {
  status?: string;
  recurrence?: string;
  recurrencePeriod?: { from: string; to?: string };
}

export interface ExportPropertiesInput {
  format?: string;
  deliveryInfo: { destination: DestinationInput };
  definition: DefinitionInput;
  partitionData?: boolean;
  dataOverwriteBehavior?: string;
  compressionMode?: string;
  exportDescription?: string;
  schedule?: ScheduleInput;
}

export interface ExportInput {
  eTag?: string;
  identity?: { type: string };
  location?: string;
  properties: ExportPropertiesInput;
}

export interface RunRequestInput {
  timePeriod?: TimePeriodInput;
}

type JsonObject = Record<string, unknown>;

interface SpecDocuments {
  exports: { definitions: Record<string, JsonObject> };
  common: { definitions: Record<string, JsonObject> };
}

// The ARM common-types file behind `identity` was not copied; this is its documented shape
// (SystemAssignedServiceIdentity: type required, principalId/tenantId read-only).
const SYSTEM_ASSIGNED_IDENTITY: JsonObject = {
  type: 'object',
  properties: {
    type: { type: 'string', enum: ['None', 'SystemAssigned'] },
    principalId: { type: 'string', readOnly: true },
    tenantId: { type: 'string', readOnly: true },
  },
  required: ['type'],
};

/** Converts the swagger definitions into one JSON schema: refs become local definitions, allOf is
 * flattened (so ajv's removeAdditional can drop fields the service does not know), enums are
 * matched case-insensitively (ARM services parse enums that way; the examples themselves send
 * camelCase filter names against a PascalCase enum). */
class SchemaBuilder {
  readonly definitions: Record<string, JsonObject> = {};

  constructor(private readonly docs: SpecDocuments) {}

  ref(ref: string): JsonObject {
    const name = this.defName(ref);
    if (!(name in this.definitions)) {
      this.definitions[name] = {}; // placeholder: breaks ExportRun <-> runHistory recursion
      this.definitions[name] = this.convert(this.resolve(ref));
    }
    return { $ref: `#/definitions/${name}` };
  }

  private defName(ref: string): string {
    const name = ref.slice(ref.lastIndexOf('/') + 1);
    if (ref.startsWith('#/')) return name;
    if (ref.startsWith('common-types.json')) return `common_${name}`;
    return `arm_${name}`;
  }

  private resolve(ref: string): JsonObject {
    const name = ref.slice(ref.lastIndexOf('/') + 1);
    const found = ref.startsWith('#/')
      ? this.docs.exports.definitions[name]
      : ref.startsWith('common-types.json')
        ? this.docs.common.definitions[name]
        : name === 'SystemAssignedServiceIdentity'
          ? SYSTEM_ASSIGNED_IDENTITY
          : undefined;
    if (!found) throw new Error(`spec reference ${ref} cannot be resolved`);
    return found;
  }

  convert(node: JsonObject): JsonObject {
    if (typeof node.$ref === 'string') return this.ref(node.$ref);
    const out: JsonObject = {};
    const properties: Record<string, JsonObject> = {};
    const required = new Set<string>();
    for (const part of (node.allOf as JsonObject[] | undefined) ?? []) {
      const base = typeof part.$ref === 'string' ? this.resolve(part.$ref) : part;
      const converted = this.convert(base);
      Object.assign(properties, converted.properties as Record<string, JsonObject> | undefined);
      for (const r of (converted.required as string[] | undefined) ?? []) required.add(r);
    }
    if (node.type) out.type = node.type;
    if (node.format) out.format = node.format;
    if (Array.isArray(node.enum)) out.enumCi = node.enum;
    if (node.items) out.items = this.convert(node.items as JsonObject);
    for (const [key, value] of Object.entries((node.properties as Record<string, JsonObject>) ?? {})) {
      properties[key] = this.convert(value);
    }
    for (const r of (node.required as string[] | undefined) ?? []) required.add(r);
    if (Object.keys(properties).length || node.type === 'object' || node.allOf) {
      out.type = 'object';
      out.properties = properties;
    }
    if (required.size) out.required = [...required];
    return out;
  }
}

function loadSpec(dir: string): SpecDocuments {
  const read = (name: string) => JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as JsonObject;
  return {
    exports: read('costmanagement.exports.json') as SpecDocuments['exports'],
    common: read('common-types.json') as SpecDocuments['common'],
  };
}

interface EnumCiValidator {
  (schema: string[], data: string): boolean;
  errors?: Partial<ErrorObject>[];
}

function buildAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, removeAdditional: 'all' });
  addFormats(ajv, ['date-time']);
  const enumCi: EnumCiValidator = (schema, data) => {
    const ok = schema.some((v) => v.toLowerCase() === data.toLowerCase());
    enumCi.errors = ok ? [] : [{ keyword: 'enumCi', message: `must be one of: ${schema.join(', ')}` }];
    return ok;
  };
  ajv.addKeyword({ keyword: 'enumCi', type: 'string', schemaType: 'array', errors: true, validate: enumCi });
  return ajv;
}

export class ExportValidator {
  private readonly exportSchema: ValidateFunction;
  private readonly runSchema: ValidateFunction;

  constructor(specDir = SPEC_DIR) {
    const spec = loadSpec(specDir);
    // The service answers `recurrence: "None"` for a schedule without one (Custom example), so a
    // GET -> PUT round trip sends it back: accept it although the enum lacks it.
    const recurrence = (spec.exports.definitions.ExportSchedule?.properties as Record<string, JsonObject>)
      ?.recurrence;
    if (recurrence && Array.isArray(recurrence.enum))
      recurrence.enum = [...(recurrence.enum as string[]), 'None'];
    const builder = new SchemaBuilder(spec);
    const exportRoot = builder.ref('#/definitions/Export');
    const runRoot = builder.ref('#/definitions/ExportRunRequest');
    const ajv = buildAjv();
    const definitions = builder.definitions;
    // Input: `properties` is what the service needs even though the swagger leaves it optional.
    this.exportSchema = ajv.compile({ definitions, allOf: [exportRoot, { required: ['properties'] }] });
    this.runSchema = ajv.compile({ definitions, ...runRoot });
  }

  /** Validates a PUT body. Read-only fields are dropped first (the service ignores them), nulls
   * count as absent, unknown fields are dropped. Throws ArmError(400). */
  parseExport(body: unknown): ExportInput {
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ArmError(
        400,
        'InvalidRequestContent',
        'The request content was invalid and could not be deserialized: the body must be a JSON object.',
      );
    }
    const data = stripNulls(structuredClone(body)) as JsonObject;
    stripReadOnly(data);
    if (!this.exportSchema(data)) throw schemaError(this.exportSchema.errors ?? []);
    return data as unknown as ExportInput;
  }

  parseRunRequest(body: unknown): RunRequestInput {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ArmError(
        400,
        'InvalidRequestContent',
        'The request content was invalid: expected a JSON object.',
      );
    }
    const data = stripNulls(structuredClone(body)) as JsonObject;
    if (!this.runSchema(data)) throw schemaError(this.runSchema.errors ?? []);
    return data;
  }
}

function stripNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripNulls);
  if (value && typeof value === 'object') {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value as JsonObject)) if (v !== null) out[k] = stripNulls(v);
    return out;
  }
  return value;
}

function stripReadOnly(data: JsonObject): void {
  delete data.id;
  delete data.name;
  delete data.type;
  const identity = data.identity as JsonObject | undefined;
  if (identity && typeof identity === 'object') {
    delete identity.principalId;
    delete identity.tenantId;
  }
  const props = data.properties as JsonObject | undefined;
  if (props && typeof props === 'object') {
    delete props.nextRunTimeEstimate;
    delete props.systemSuspensionContext;
    delete props.runHistory;
  }
}

function fieldOf(error: ErrorObject): string {
  const base = error.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty?: string }).missingProperty ?? '?';
    return base ? `${base}.${missing}` : missing;
  }
  return base || '(body)';
}

function schemaError(errors: ErrorObject[]): ArmError {
  const messages = errors
    .filter((e) => e.keyword !== 'allOf')
    .map((e) => (e.keyword === 'required' ? `'${fieldOf(e)}' is required` : `'${fieldOf(e)}' ${e.message}`));
  const unique = [...new Set(messages)];
  return new ArmError(400, 'BadRequest', `Invalid export: ${unique.join('; ')}.`);
}

const lower = (v: string | undefined) => v?.toLowerCase();

const bad = (message: string) => new ArmError(400, 'BadRequest', message);

type ExportProperties = ExportInput['properties'];

/** Rules the service applies beyond the schema, in the service's order. Each error names the field. */
export function checkExportRules(input: ExportInput, scopeKind: ScopeKind): void {
  const p = input.properties;
  const typeName = checkDefinitionType(p.definition.type, scopeKind);
  checkTimePeriod(p.definition);
  checkDestination(p.deliveryInfo.destination);
  checkFormat(p);
  const granularity = p.definition.dataSet?.granularity;
  if (granularity !== undefined && !isGranularityAllowed(scopeKind, typeName, granularity)) {
    throw bad(`Invalid dataset granularity: '${granularity}'.`);
  }
  checkSchedule(p.schedule);
}

/** The canonical dataset name, if it is one and allowed at this kind of scope. */
function checkDefinitionType(type: string | undefined, scopeKind: ScopeKind): string {
  if (!EXPORT_TYPES.has(lower(type) ?? '')) throw bad(`'properties.definition.type' is not valid`);
  const typeName: string = EXPORT_TYPES_CANONICAL.find((t) => t.toLowerCase() === lower(type))!;
  if (!isDatasetAllowed(scopeKind, typeName)) {
    // The service's wording and code "400" (azure-powershell#19453, a management group).
    const allowed = datasetsForScope(scopeKind)
      .map((d) => `'${d}'`)
      .join(', ');
    throw new ArmError(
      400,
      '400',
      `Request properties validation failed: Invalid definition type '${typeName}'; valid values: ${allowed}.`,
    );
  }
  return typeName;
}

function checkTimePeriod(def: ExportProperties['definition']): void {
  const custom = lower(def.timeframe) === 'custom';
  if (custom && !def.timePeriod) {
    throw bad(`'properties.definition.timePeriod' is required when timeframe is Custom.`);
  }
  if (!custom && def.timePeriod) {
    throw bad(`'properties.definition.timePeriod' should only be specified with timeframe Custom.`);
  }
  if (def.timePeriod && Date.parse(def.timePeriod.from) > Date.parse(def.timePeriod.to)) {
    throw bad(
      `'properties.definition.timePeriod.from' must not be after 'properties.definition.timePeriod.to'.`,
    );
  }
}

function checkDestination(dest: ExportProperties['deliveryInfo']['destination']): void {
  if (!dest.container.trim()) throw bad(`'properties.deliveryInfo.destination.container' must not be empty.`);
  if (!dest.resourceId && !(dest.storageAccount && dest.sasToken)) {
    throw bad(
      `'properties.deliveryInfo.destination' needs either 'resourceId' or both 'storageAccount' and 'sasToken'.`,
    );
  }
  checkRootFolderPath(dest.rootFolderPath);
  if (dest.sasToken !== undefined && dest.sasToken !== OBFUSCATED_SAS_TOKEN) checkSasAtPut(dest.sasToken);
}

function checkFormat(p: ExportProperties): void {
  const format = lower(p.format) ?? 'csv';
  const compression = lower(p.compressionMode) ?? 'none';
  if ((format === 'csv' && compression === 'snappy') || (format === 'parquet' && compression === 'gzip')) {
    throw bad(
      `'properties.compressionMode' ${p.compressionMode} cannot be used with format ${p.format ?? 'Csv'} (gzip is for Csv, snappy for Parquet).`,
    );
  }
}

function checkSchedule(schedule: ExportProperties['schedule']): void {
  if (
    schedule &&
    lower(schedule.status) === 'active' &&
    (!schedule.recurrence || lower(schedule.recurrence) === 'none')
  ) {
    throw bad(`'properties.schedule.recurrence' is required when the schedule status is Active.`);
  }
  const period = schedule?.recurrencePeriod;
  if (period?.to && Date.parse(period.to) <= Date.parse(period.from)) {
    throw bad(
      `'properties.schedule.recurrencePeriod.to' must be after 'properties.schedule.recurrencePeriod.from'.`,
    );
  }
}

/** What the service shows instead of a stored SAS token; sending it back keeps the token. */
const OBFUSCATED_SAS_TOKEN = '**********';

/** Learn, "Export cost data with an Azure Storage account SAS key": the token must be for the blob
 * service, for container and object resource types, with add create read write delete. The portal
 * checks this when the export is saved; the API is assumed to do the same. A service SAS (sr=…) has
 * no service or resource-type fields, so only its permissions are checked (permissive). Expiry is
 * not checked here: an expired token fails the runs (see delivery.ts). */
function checkSasAtPut(token: string): void {
  const params = new URLSearchParams(token.replace(/^\?/, ''));
  const has = (name: string, letters: string) =>
    [...letters].every((l) => (params.get(name) ?? '').includes(l));
  const account = params.has('ss') || params.has('srt');
  const ok = has('sp', 'acrwd') && (!account || (has('ss', 'b') && has('srt', 'co')));
  if (!ok) throw new ArmError(400, 'BadRequest', SAS_AUTHORIZATION_MESSAGE);
}

const SHARED_KEY_DISABLED_MESSAGE =
  'Key-based authentication is currently disabled on this storage account. To proceed, please enable "Allow storage account key access". For instructions on how to change this setting, please visit https://aka.ms/sharedkey.';

/** azure-cli#32912, azure-powershell#29424: a `resourceId` destination on an account with shared
 * keys off is refused at PUT with code "400", even though the export writes with its own identity. */
export function checkSharedKeyAccess(input: ExportInput, disabledAccounts: readonly string[]): void {
  const resourceId = input.properties.deliveryInfo.destination.resourceId;
  if (!resourceId || disabledAccounts.length === 0) return;
  const account = /\/storageAccounts\/([^/]+)/i.exec(resourceId)?.[1]?.toLowerCase();
  if (account && disabledAccounts.includes(account)) {
    throw new ArmError(400, '400', SHARED_KEY_DISABLED_MESSAGE);
  }
}

// Cost Management's wording (hashicorp/terraform-provider-azurerm#26219, microsoft/finops-toolkit
// #1239). "Reserved url characters" read as RFC 3986's; anything else (`_`, `%`, spaces) is let through.
const ROOT_FOLDER_RESERVED = /[:?#[\]@!$&'()*+,;=]/;

function checkRootFolderPath(root: string | undefined): void {
  if (root === undefined || root === '') return;
  const prefix = 'Request properties validation failed: Invalid deliveryInfo destination rootFolderPath;';
  if (root.startsWith('/')) {
    throw new ArmError(400, 'BadRequest', `${prefix} value cannot begin with a forward slash`);
  }
  if (ROOT_FOLDER_RESERVED.test(root)) {
    throw new ArmError(
      400,
      'BadRequest',
      `${prefix} ${root}' Value cannot contain any reserved url characters except forward slashes(/)`,
    );
  }
}

const EXPORT_TYPES_CANONICAL = [
  'Usage',
  'ActualCost',
  'AmortizedCost',
  'FocusCost',
  'PriceSheet',
  'ReservationTransactions',
  'ReservationRecommendations',
  'ReservationDetails',
] as const;
const EXPORT_TYPES = new Set(EXPORT_TYPES_CANONICAL.map((t) => t.toLowerCase()));

const API_VERSION_SHAPE = /^\d{4}-\d{2}-\d{2}(-preview)?$/;

/** ARM's answers for a missing, malformed or unregistered api-version. */
export function checkApiVersion(value: string | null, accepted: readonly string[]): string {
  if (value === null || value === '') {
    throw new ArmError(
      400,
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required for all requests.',
    );
  }
  if (!API_VERSION_SHAPE.test(value)) {
    throw new ArmError(
      400,
      'InvalidApiVersionParameter',
      `The api-version '${value}' is invalid. The supported versions are '${accepted.join(',')}'.`,
    );
  }
  if (!accepted.includes(value)) {
    throw new ArmError(
      400,
      'NoRegisteredProviderFound',
      `No registered resource provider found for location 'global' and API version '${value}' for type 'exports'. The supported api-versions are '${accepted.join(', ')}'.`,
    );
  }
  return value;
}
