// The Exports PUT body for a desired export: the eTag and schedule start kept from the export it
// repairs, the schedule's end extended, a SAS destination's token the account's current one.
import { buildExportBody, ExportBodyError } from '../azure/exportBody';
import type { Export, ExportPutBody } from '../azure/exportModels';
import { scheduleWindow } from '../domain/exportDrift';
import type { DesiredExport } from '../domain/exportProfile';
import type { CurrentToken } from './fleetDeps';

/** The PUT body for a desired export: eTag and schedule start kept from the export it repairs, the
 * schedule's end extended, the SAS token the account's current one. */
export async function putBody(
  d: DesiredExport,
  actual: Export | undefined,
  token: CurrentToken | undefined,
  now: Date,
): Promise<ExportPutBody> {
  const from = actual?.properties.schedule?.recurrencePeriod?.from;
  const window = scheduleWindow(
    now,
    from && Date.parse(from) < Date.parse(scheduleWindow(now).to) ? from : undefined,
  );
  const destination =
    'resourceId' in d.destination
      ? {
          resourceId: d.destination.resourceId,
          container: d.destination.container,
          rootFolderPath: d.destination.rootFolderPath,
        }
      : {
          storageAccount: d.destination.storageAccount,
          container: d.destination.container,
          rootFolderPath: d.destination.rootFolderPath,
          sasToken: await requireToken(token),
        };
  try {
    return buildExportBody({
      dataset: d.dataset,
      timeframe: d.timeframe,
      destination,
      format: d.format,
      compression: d.compression,
      ...(d.granularity ? { granularity: d.granularity } : {}),
      ...(d.dataVersion ? { dataVersion: d.dataVersion } : {}),
      partitionData: d.partitionData,
      dataOverwriteBehavior: d.overwrite,
      description: d.description,
      schedule: { status: 'Active', recurrence: d.recurrence, recurrencePeriod: window },
      ...(actual?.eTag ? { eTag: actual.eTag } : {}),
    });
  } catch (error) {
    if (error instanceof ExportBodyError)
      throw new Error(`export body refused: ${error.problems.map((p) => p.field).join(', ')}`);
    throw error;
  }
}

async function requireToken(token: CurrentToken | undefined): Promise<string> {
  if (!token) throw new Error('no active SAS token is registered for the destination account');
  return token.value();
}
