// A run as delivery.ts takes it: the run's frozen export settings (any casing the API accepted)
// in delivery's terms, plus the emulator's data volume and the empty-month fault.
import type { RunDeliveryRequest } from './delivery';
import type { RunRecord } from './state';
import { monthsOf } from './time';

export interface DeliverySettings {
  seed: number;
  /** Data volume per run (StoreOptions.data). */
  data?: { rowsPerPartition?: number; resourcesPerDay?: number };
  /** Months `yyyy-MM` whose runs land one header-only file (Faults.emptyMonths). */
  emptyMonths: readonly string[];
}

export function runDeliveryRequest(run: RunRecord, settings: DeliverySettings): RunDeliveryRequest {
  const s = run.runSettings;
  const dataSet = s.definition.dataSet;
  return {
    exportName: run.exportName,
    scope: run.scope,
    exportResourceId: `${run.scope}/providers/Microsoft.CostManagement/exports/${run.exportName}`,
    apiVersion: run.apiVersion,
    runId: run.id,
    executionType: run.executionType,
    submittedTime: new Date(run.submittedTime),
    from: run.from,
    to: run.to,
    dataset: {
      type: s.definition.type,
      ...(dataSet?.configuration?.dataVersion ? { version: dataSet.configuration.dataVersion } : {}),
      ...(dataSet?.granularity ? { granularity: dataSet.granularity } : {}),
    },
    ...fileSettings(s),
    destination: destination(s.deliveryInfo.destination),
    timeFrame: s.definition.timeframe,
    ...volume(run, settings),
  };
}

type Settings = RunRecord['runSettings'];

/** Format, compression, partitioning and overwrite behaviour, names as delivery spells them. */
function fileSettings(
  s: Settings,
): Pick<RunDeliveryRequest, 'format' | 'compression' | 'partitionData' | 'overwrite'> {
  return {
    format: s.format?.toLowerCase() === 'parquet' ? 'Parquet' : 'Csv',
    compression: (s.compressionMode?.toLowerCase() ?? 'none') as RunDeliveryRequest['compression'],
    partitionData: s.partitionData ?? false,
    overwrite:
      s.dataOverwriteBehavior?.toLowerCase() === 'overwritepreviousreport'
        ? 'OverwritePreviousReport'
        : 'CreateNewReport',
  };
}

function destination(dest: Settings['deliveryInfo']['destination']): RunDeliveryRequest['destination'] {
  return {
    container: dest.container,
    ...(dest.rootFolderPath !== undefined ? { rootFolderPath: dest.rootFolderPath } : {}),
    ...(dest.resourceId !== undefined ? { resourceId: dest.resourceId } : {}),
    ...(dest.storageAccount !== undefined ? { storageAccount: dest.storageAccount } : {}),
    ...(dest.sasToken !== undefined ? { sasToken: dest.sasToken } : {}),
  };
}

/** Seed and data volume; a month configured as empty lands one file holding only the header row. */
function volume(
  run: RunRecord,
  { seed, data, emptyMonths }: DeliverySettings,
): Pick<RunDeliveryRequest, 'seed' | 'rowsPerPartition' | 'resourcesPerDay'> {
  return {
    seed,
    ...(data?.rowsPerPartition ? { rowsPerPartition: data.rowsPerPartition } : {}),
    ...(data?.resourcesPerDay ? { resourcesPerDay: data.resourcesPerDay } : {}),
    ...(monthsOf(run.from, run.to).some((m) => emptyMonths.includes(m)) ? { resourcesPerDay: 0 } : {}),
  };
}
