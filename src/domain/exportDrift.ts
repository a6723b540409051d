// Drift: a desired export (exportProfile.ts) against the export as the Exports API returns it →
// create | update(fields) | unchanged | not-owned. Apart from the profiles: planExport is the one diff
// plan mode shows and reconcile applies. Pure: no I/O, no clock but the one passed in.
import { type DesiredExport, OWNED_MARKER, OWNED_PREFIX } from './exportProfile';
import { normaliseFolder } from './rootFolderPath';

/** A schedule ending within this many days is extended. */
export const RENEW_WITHIN_DAYS = 60;
/** How far a created or extended schedule runs (FinOps toolkit New-FinOpsCostExport: start + 5 years). */
export const SCHEDULE_YEARS = 5;

/** The parts of an export as GET/List return it (api-version 2025-03-01) that drift is read from. */
export interface ExportSnapshot {
  name?: string;
  eTag?: string;
  properties: {
    format?: string;
    partitionData?: boolean;
    dataOverwriteBehavior?: string;
    compressionMode?: string;
    exportDescription?: string;
    definition: {
      type: string;
      timeframe: string;
      dataSet?: { granularity?: string; configuration?: { dataVersion?: string } };
    };
    deliveryInfo: {
      destination: {
        resourceId?: string;
        storageAccount?: string;
        container: string;
        rootFolderPath?: string;
      };
    };
    schedule?: { status?: string; recurrence?: string; recurrencePeriod?: { from?: string; to?: string } };
  };
}

export interface FieldDrift {
  field: string;
  actual: string;
  desired: string;
}

export type PlanOutcome = 'create' | 'update' | 'unchanged' | 'not-owned';

export interface ExportPlan {
  exportName: string;
  outcome: PlanOutcome;
  /** update: what differs (token values never appear: fingerprints or 'unknown'). */
  fields?: FieldDrift[];
  /** not-owned: why it is left alone. */
  reason?: string;
}

export interface DriftContext {
  now: Date;
  /** SAS destinations: fingerprint of the account's current registered token. */
  currentTokenFingerprint?: string;
  /** SAS destinations: fingerprint of the token this app last put on the export, if it knows one. */
  carriedTokenFingerprint?: string;
}

/** True when this app made the export: its name has the prefix and its description the marker. */
export function isOwned(actual: ExportSnapshot): boolean {
  return (
    (actual.name ?? '').toLowerCase().startsWith(OWNED_PREFIX) &&
    (actual.properties.exportDescription ?? '').includes(OWNED_MARKER)
  );
}

const DAY_MS = 86_400_000;

/** The schedule window a created or extended export gets: from now, for SCHEDULE_YEARS. */
export function scheduleWindow(now: Date, from?: string): { from: string; to: string } {
  const to = new Date(now.getTime());
  to.setUTCFullYear(to.getUTCFullYear() + SCHEDULE_YEARS);
  return { from: from ?? now.toISOString(), to: to.toISOString() };
}

type ActualExport = ExportSnapshot['properties'];

const sameText = (a: string | undefined, b: string | undefined): boolean =>
  (a ?? '').toLowerCase() === (b ?? '').toLowerCase();

/** The fields where an export differs from what is desired, in the order they were checked. */
class DriftList {
  readonly fields: FieldDrift[] = [];

  /** Records `field` when actual and desired differ (case-insensitively unless `equal` says otherwise). */
  check(field: string, actual: string | undefined, desired: string | undefined, equal = sameText): void {
    if (!equal(actual, desired))
      this.add({ field, actual: actual ?? '(none)', desired: desired ?? '(none)' });
  }

  add(drift: FieldDrift): void {
    this.fields.push(drift);
  }
}

/** What the export delivers: dataset, timeframe, granularity, version, and the file shape. */
function checkDefinition(drift: DriftList, p: ActualExport, desired: DesiredExport): void {
  drift.check('definition.type', p.definition.type, desired.dataset);
  drift.check('definition.timeframe', p.definition.timeframe, desired.timeframe);
  drift.check(
    'definition.dataSet.granularity',
    p.definition.dataSet?.granularity ?? undefined,
    desired.granularity,
  );
  if (desired.dataVersion) {
    drift.check(
      'definition.dataSet.configuration.dataVersion',
      p.definition.dataSet?.configuration?.dataVersion,
      desired.dataVersion,
    );
  }
  drift.check('format', p.format ?? 'Csv', desired.format);
  drift.check('compressionMode', p.compressionMode ?? 'none', desired.compression);
  drift.check('dataOverwriteBehavior', p.dataOverwriteBehavior ?? 'CreateNewReport', desired.overwrite);
  drift.check('partitionData', String(p.partitionData ?? false), String(desired.partitionData));
}

/** Where it delivers: the storage resource (or SAS account and its current token), container, folder. */
function checkDestination(
  drift: DriftList,
  p: ActualExport,
  desired: DesiredExport,
  context: DriftContext,
): void {
  const d = p.deliveryInfo.destination;
  const want = desired.destination;
  if ('resourceId' in want) {
    drift.check('deliveryInfo.destination.resourceId', d.resourceId, want.resourceId);
  } else {
    drift.check('deliveryInfo.destination.storageAccount', d.storageAccount, want.storageAccount);
    const carried = context.carriedTokenFingerprint;
    const current = context.currentTokenFingerprint;
    if (current !== undefined && carried !== current) {
      drift.add({
        field: 'deliveryInfo.destination.sasToken',
        actual: carried ? `token ${carried}` : 'unknown token',
        desired: `token ${current} (the account's current one)`,
      });
    }
  }
  drift.check('deliveryInfo.destination.container', d.container, want.container);
  drift.check(
    'deliveryInfo.destination.rootFolderPath',
    normaliseFolder(d.rootFolderPath),
    want.rootFolderPath,
    (a, b) => a === b,
  );
}

/** When it runs: active, the desired recurrence, and not ending within RENEW_WITHIN_DAYS. */
function checkSchedule(drift: DriftList, p: ActualExport, desired: DesiredExport, now: Date): void {
  const s = p.schedule;
  drift.check('schedule.status', s?.status, 'Active');
  drift.check('schedule.recurrence', s?.recurrence, desired.recurrence);
  const to = Date.parse(s?.recurrencePeriod?.to ?? '');
  if (Number.isFinite(to) && to - now.getTime() < RENEW_WITHIN_DAYS * DAY_MS) {
    drift.add({
      field: 'schedule.recurrencePeriod.to',
      actual: new Date(to).toISOString(),
      desired: `${scheduleWindow(now).to} (ends within ${RENEW_WITHIN_DAYS} days)`,
    });
  }
}

/** Desired vs actual: the one comparison plan mode shows and reconcile applies. */
export function planExport(
  desired: DesiredExport,
  actual: ExportSnapshot | undefined,
  context: DriftContext,
): ExportPlan {
  const exportName = desired.name;
  if (!actual) return { exportName, outcome: 'create' };
  if (!isOwned(actual)) {
    return {
      exportName,
      outcome: 'not-owned',
      reason: `an export named ${exportName} exists without the ownership marker in its description; it is left alone`,
    };
  }
  const p = actual.properties;
  const drift = new DriftList();
  checkDefinition(drift, p, desired);
  checkDestination(drift, p, desired, context);
  checkSchedule(drift, p, desired, context.now);
  drift.check('exportDescription', p.exportDescription, desired.description, (a, b) => a === b);
  const { fields } = drift;
  return fields.length > 0 ? { exportName, outcome: 'update', fields } : { exportName, outcome: 'unchanged' };
}
