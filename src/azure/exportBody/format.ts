// How an export is delivered: file format and compression (and the datasets and scopes delivered as
// uncompressed CSV only), partitioning, and what a new run does with the previous report.
import { type ExportDataset, isUncompressedCsvOnly, parseScope, type Scope } from '../../domain/scope';
import {
  COMPRESSION_MODES,
  type CompressionMode,
  type DataOverwriteBehavior,
  type ExportBodyInput,
  FORMATS,
  type FormatType,
  OVERWRITE_BEHAVIORS,
} from '../exportModels';
import { oneOf, type Problems } from './problems';

/** The delivery settings of a body; a field is undefined when its input was refused. */
export interface DeliveryFormat {
  format: FormatType | undefined;
  compression: CompressionMode | undefined;
  partitionData: boolean;
  overwrite: DataOverwriteBehavior | undefined;
}

/** Checks format (default Csv), compression (default none), partitionData (default true) and overwrite. */
export function checkDeliveryFormat(
  problems: Problems,
  input: ExportBodyInput,
  dataset: ExportDataset | undefined,
): DeliveryFormat {
  const format = input.format === undefined ? 'Csv' : oneOf(problems, 'format', input.format, FORMATS);
  const compression =
    input.compression === undefined
      ? 'none'
      : oneOf(problems, 'compression', input.compression, COMPRESSION_MODES);
  if (format === 'Csv' && compression === 'snappy')
    problems.add('compression', 'snappy is for Parquet; use gzip or none with Csv');
  if (format === 'Parquet' && compression === 'gzip')
    problems.add('compression', 'gzip is for Csv; use snappy or none with Parquet');
  if (dataset && format && compression)
    checkUncompressedCsvOnly(problems, input, dataset, format, compression);

  const partitionData = input.partitionData ?? true;
  if (typeof partitionData !== 'boolean') problems.add('partitionData', 'expected true or false');
  const overwrite =
    input.dataOverwriteBehavior === undefined
      ? 'CreateNewReport'
      : oneOf(problems, 'dataOverwriteBehavior', input.dataOverwriteBehavior, OVERWRITE_BEHAVIORS);
  return { format, compression, partitionData, overwrite };
}

// Some datasets, and every dataset at management group scope, are delivered as plain CSV only.
function checkUncompressedCsvOnly(
  problems: Problems,
  input: ExportBodyInput,
  dataset: ExportDataset,
  format: FormatType,
  compression: CompressionMode,
): void {
  let scope: Scope | undefined;
  try {
    scope = typeof input.scope === 'string' ? parseScope(input.scope) : input.scope;
  } catch {
    scope = undefined; // reported with the dataset
  }
  if (isUncompressedCsvOnly(scope, dataset)) {
    const what = scope?.kind === 'managementGroup' ? 'at management group scope' : dataset;
    if (format !== 'Csv') problems.add('format', `${what} is delivered as Csv only, not ${format}`);
    else if (compression !== 'none')
      problems.add('compression', `${what} is delivered uncompressed: use none, not ${compression}`);
  }
}
