// What one run's files hold: the dataset's schema and its rows, cut into partitions and encoded
// as CSV (optionally gzip) or Parquet. Pure except for compression, which runs off the main thread.
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

import { type AnySchema, type Cell, cellsOf, schemaFor } from './columns';
import { encodeCsv, type TableShape } from './csv';
import type { Compression, FileFormat } from './layout';
import { encodeParquet } from './parquet';
import { type Agreement, buildPopulation, generateCharges, generatePrices, type Population } from './rows';

const gzipAsync = promisify(gzip);

export interface DatasetOptions {
  seed: number;
  scope: string;
  type: string;
  version?: string;
  granularity: 'Daily' | 'Monthly';
  from: Date;
  to: Date;
  resourcesPerDay: number;
  agreement?: Agreement;
}

export interface DatasetPlan {
  type: string;
  dataVersion: string;
  shape: TableShape;
  population: Population;
  /** Lazily generated rows, in file order. */
  rows(): Iterable<Cell[]>;
}

/** Throws UnsupportedDatasetError for datasets or versions the emulator does not write. */
export function planDataset(options: DatasetOptions): DatasetPlan {
  const population = buildPopulation({
    seed: options.seed,
    scope: options.scope,
    resourceCount: options.resourcesPerDay,
    ...(options.agreement ? { agreement: options.agreement } : {}),
  });
  const tagged: AnySchema = schemaFor(options.type, options.version, population.billing.agreement);
  const { schema } = tagged;
  const shape: TableShape = {
    columns: schema.columns.map((c) => ({ name: c.name, kind: c.kind })),
    dateStyle: schema.dateStyle,
    booleanStyle: schema.booleanStyle,
  };
  const rows = (): Iterable<Cell[]> =>
    tagged.records === 'prices'
      ? cellsOf(tagged.schema, generatePrices(population, options.from), population)
      : cellsOf(
          tagged.schema,
          generateCharges(population, {
            from: options.from,
            to: options.to,
            granularity: options.granularity,
            includePurchases: tagged.schema.costView !== 'amortized',
          }),
          population,
        );
  return { type: schema.type, dataVersion: schema.dataVersion, shape, population, rows };
}

/** Cuts rows into partitions of at most `rowsPerPartition` (one partition when not partitioning).
 * Always yields at least one partition, so an empty run still writes a header-only file. */
export function* partitionRows(
  rows: Iterable<Cell[]>,
  partitionData: boolean,
  rowsPerPartition: number,
): Generator<Cell[][]> {
  const limit = partitionData ? rowsPerPartition : Number.POSITIVE_INFINITY;
  let current: Cell[][] = [];
  let yielded = false;
  for (const row of rows) {
    current.push(row);
    if (current.length >= limit) {
      yield current;
      yielded = true;
      current = [];
    }
  }
  if (current.length > 0 || !yielded) yield current;
}

/** The bytes of one data file. */
export async function encodeFile(
  shape: TableShape,
  rows: readonly Cell[][],
  format: FileFormat,
  compression: Compression,
): Promise<Buffer> {
  if (format === 'Parquet') {
    const bytes = await encodeParquet(shape, rows, compression === 'snappy' ? 'snappy' : 'none');
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  const text = Buffer.from(encodeCsv(shape, rows), 'utf8');
  return compression === 'gzip' ? gzipAsync(text) : text;
}
