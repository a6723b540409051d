// Builds a 2025-03-01 `Export` PUT body from a typed input, one section at a time (exportBody/):
// definition (dataset, timeframe, dataSet), delivery format, destination, schedule, and the envelope
// (description, identity, eTag). Every section records its problems; the body is refused with all of them.
import { isRecord } from '../domain/json';
import { buildDataSet, checkDataset, checkTimeframe } from './exportBody/definition';
import { buildDestination } from './exportBody/destination';
import { checkDescription, checkETag, checkIdentityLocation } from './exportBody/envelope';
import { checkDeliveryFormat } from './exportBody/format';
import { ExportBodyError, Problems } from './exportBody/problems';
import { buildSchedule } from './exportBody/schedule';
import type { ExportBodyInput, ExportDefinitionBody, ExportPutBody } from './exportModels';

/**
 * Builds a 2025-03-01 `Export` PUT body from a typed input, checking it as if it came from
 * untyped JSON. Throws ExportBodyError listing every problem, each naming its input field.
 */
export function buildExportBody(input: ExportBodyInput): ExportPutBody {
  const problems = new Problems();
  if (!isRecord(input)) throw new ExportBodyError([{ field: 'input', message: 'expected an object' }]);

  const dataset = checkDataset(problems, input);
  const { timeframe, timePeriod } = checkTimeframe(problems, input);
  const { format, compression, partitionData, overwrite } = checkDeliveryFormat(problems, input, dataset);
  const description = checkDescription(problems, input.description);
  const location = checkIdentityLocation(problems, input.managedIdentity);
  const eTag = checkETag(problems, input.eTag);
  const destination = buildDestination(problems, input.destination);
  const dataSet = buildDataSet(problems, input, dataset);
  const schedule = buildSchedule(problems, input.schedule, timeframe);

  if (
    problems.list.length > 0 ||
    !dataset ||
    !timeframe ||
    !format ||
    !compression ||
    !overwrite ||
    !destination
  ) {
    throw new ExportBodyError(problems.list);
  }
  const definition: ExportDefinitionBody = {
    type: dataset,
    timeframe,
    ...(timePeriod ? { timePeriod } : {}),
    ...(dataSet ? { dataSet } : {}),
  };
  return {
    ...(eTag ? { eTag } : {}),
    ...(location ? { identity: { type: 'SystemAssigned' as const }, location } : {}),
    properties: {
      format,
      deliveryInfo: { destination },
      definition,
      partitionData,
      dataOverwriteBehavior: overwrite,
      compressionMode: compression,
      ...(description ? { exportDescription: description } : {}),
      ...(schedule ? { schedule } : {}),
    },
  };
}

export { ExportBodyError, type FieldProblem } from './exportBody/problems';
export { buildRunRequest } from './exportBody/timePeriod';
