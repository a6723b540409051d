// Parquet via hyparquet-writer (pure JS, MIT, one dependency: hyparquet), Snappy by default.
// The package is ESM-only: it is loaded with a dynamic import, which Node and tsx run natively and
// which jest runs after @swc/jest compiles it (jest.config.js transformIgnorePatterns lets the
// hyparquet packages through).
import type * as HyparquetWriterModule from 'hyparquet-writer' with { 'resolution-mode': 'import' };

import type { Cell, CellKind } from './columns';
import type { TableShape } from './csv';

type HyparquetWriter = typeof HyparquetWriterModule;

let writerModule: Promise<HyparquetWriter> | undefined;

export class ParquetUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParquetUnavailableError';
  }
}

async function loadWriter(): Promise<HyparquetWriter> {
  writerModule ??= import('hyparquet-writer');
  try {
    return await writerModule;
  } catch (error) {
    writerModule = undefined;
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ParquetUnavailableError(
      `Parquet output needs the hyparquet-writer package, which failed to load: ${reason}`,
    );
  }
}

/** Loads the writer now, so a run can refuse Parquet before it touches storage. */
export async function ensureParquetAvailable(): Promise<void> {
  await loadWriter();
}

const PARQUET_TYPES: Record<CellKind, 'STRING' | 'DOUBLE' | 'TIMESTAMP' | 'BOOLEAN'> = {
  string: 'STRING',
  decimal: 'DOUBLE',
  datetime: 'TIMESTAMP',
  boolean: 'BOOLEAN',
};

/** One Parquet file holding `rows`. Strings stay strings, amounts are DOUBLE (Azure writes
 * DECIMAL(38,18)), dates TIMESTAMP (Azure writes INT96). */
export async function encodeParquet(
  shape: TableShape,
  rows: readonly Cell[][],
  compression: 'snappy' | 'none',
): Promise<Uint8Array> {
  const { parquetWriteBuffer } = await loadWriter();
  const columnData = shape.columns.map((column, i) => {
    const data: Cell[] = rows.map((row) => row[i] ?? null);
    return { name: column.name, data, type: PARQUET_TYPES[column.kind], nullable: true };
  });
  const buffer = parquetWriteBuffer({
    columnData,
    codec: compression === 'snappy' ? 'SNAPPY' : 'UNCOMPRESSED',
    // Column statistics cost ~6x the encoding time and nothing reads them here; one row group per file.
    statistics: false,
    rowGroupSize: Math.max(1, rows.length),
    createdBy: 'cost-export-autopilot emulator',
  });
  return new Uint8Array(buffer);
}
