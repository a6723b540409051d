// Faults the admin API injects into the emulator: failing, timing-out and 5xx answers, latency,
// months without data or with header-only files, storage accounts with shared keys off.
export interface Faults {
  /** Share of runs (0..1) that end Failed with an internal error. */
  runFailureRate: number;
  /** Share of runs (0..1) that end Timeout. */
  runTimeoutRate: number;
  /** Share of API calls (0..1) answered 503 ServiceUnavailable before doing anything. */
  serverErrorRate: number;
  /** Added to every API response. */
  latencyMs: number;
  /** Months `yyyy-MM` with no cost data: runs touching one end DataNotAvailable with no files. */
  noDataMonths: string[];
  /** Months `yyyy-MM` whose runs complete with one header-only file (manifest `blobCount` 1,
   * `dataRowCount` 0): how a run with nothing to report lands (see dev/emulator/README.md). */
  emptyMonths: string[];
  /** Storage account names (any case) with "Allow storage account key access" off: a PUT with a
   * `resourceId` destination on one is refused, as Cost Management does (azure-cli#32912). */
  sharedKeyDisabledAccounts: string[];
}

export const DEFAULT_FAULTS: Faults = {
  runFailureRate: 0,
  runTimeoutRate: 0,
  serverErrorRate: 0,
  latencyMs: 0,
  noDataMonths: [],
  emptyMonths: [],
  sharedKeyDisabledAccounts: [],
};

const RATE = (key: string) => (v: unknown) => {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new Error(`faults.${key} must be a number 0..1`);
  return v;
};

const MONTHS = (key: string) => (v: unknown) => {
  if (!Array.isArray(v) || v.some((m) => typeof m !== 'string' || !/^\d{4}-(0[1-9]|1[0-2])$/.test(m)))
    throw new Error(`faults.${key} must be an array of yyyy-MM strings`);
  return [...(v as string[])];
};

/** Each field's check: the value as stored, or an error naming the field. */
const FIELDS: { [K in keyof Faults]: (v: unknown) => Faults[K] } = {
  runFailureRate: RATE('runFailureRate'),
  runTimeoutRate: RATE('runTimeoutRate'),
  serverErrorRate: RATE('serverErrorRate'),
  latencyMs: (v) => {
    if (typeof v !== 'number' || !(v >= 0 && v <= 600_000))
      throw new Error('faults.latencyMs must be 0..600000');
    return v;
  },
  noDataMonths: MONTHS('noDataMonths'),
  emptyMonths: MONTHS('emptyMonths'),
  sharedKeyDisabledAccounts: (v) => {
    if (!Array.isArray(v) || v.some((a) => typeof a !== 'string' || !/^[a-z0-9]{3,24}$/i.test(a)))
      throw new Error('faults.sharedKeyDisabledAccounts must be an array of storage account names');
    return (v as string[]).map((a) => a.toLowerCase());
  },
};

/** `base` with the fields of `value` checked and applied; unknown fields are refused. */
export function validateFaults(value: unknown, base: Faults = DEFAULT_FAULTS): Faults {
  if (value === undefined || value === null) return { ...base };
  if (typeof value !== 'object') throw new Error('faults must be an object');
  const input = value as Record<string, unknown>;
  const out: Record<string, unknown> = {
    ...base,
    noDataMonths: [...base.noDataMonths],
    emptyMonths: [...base.emptyMonths],
    sharedKeyDisabledAccounts: [...base.sharedKeyDisabledAccounts],
  };
  for (const key of Object.keys(input)) {
    if (!Object.hasOwn(FIELDS, key)) throw new Error(`faults has an unknown field: ${key}`);
    out[key] = FIELDS[key as keyof Faults](input[key]);
  }
  return out as unknown as Faults;
}
