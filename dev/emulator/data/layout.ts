// Where a run's files go: {rootFolderPath}/{exportName}/{yyyyMMdd-yyyyMMdd}/{yyyyMMddHHmm}/{runId}/
// (the order seen in real 2024-04-01 manifests, see shared/research/real-exports.md §3).
import { daysInMonth, yyyyMMdd, yyyyMMddHHmm } from './format';

export type FileFormat = 'Csv' | 'Parquet';
export type Compression = 'none' | 'gzip' | 'snappy';

export interface PeriodLocation {
  rootFolderPath?: string;
  exportName: string;
  from: Date;
  to: Date;
}

export interface RunLocation extends PeriodLocation {
  runTime: Date;
  runId: string;
}

/** `20240201-20240229`. */
export function dateRangeFolder(from: Date, to: Date): string {
  return `${yyyyMMdd(from)}-${yyyyMMdd(to)}`;
}

/** The first and last day of a calendar month (`month` is 1-12), as UTC midnights. */
export function monthPeriod(year: number, month: number): { from: Date; to: Date } {
  if (!Number.isInteger(month) || month < 1 || month > 12) throw new RangeError(`month ${month} is not 1-12`);
  return {
    from: new Date(Date.UTC(year, month - 1, 1)),
    to: new Date(Date.UTC(year, month - 1, daysInMonth(year, month - 1))),
  };
}

/** The root folder without leading or trailing slashes ('' when there is none). */
export function normalizeRootFolder(rootFolderPath: string | undefined): string {
  return (rootFolderPath ?? '').replace(/^\/+|\/+$/g, '');
}

function join(...segments: string[]): string {
  return segments.filter((s) => s.length > 0).join('/');
}

/** Every run of one export for one period lives under this prefix (no trailing slash). */
export function periodFolder(location: PeriodLocation): string {
  return join(
    normalizeRootFolder(location.rootFolderPath),
    location.exportName,
    dateRangeFolder(location.from, location.to),
  );
}

export function runFolder(location: RunLocation): string {
  return join(periodFolder(location), yyyyMMddHHmm(location.runTime), location.runId);
}

/** `.csv`, `.csv.gz`, `.snappy.parquet` or `.parquet`. */
export function fileExtension(format: FileFormat, compression: Compression): string {
  if (format === 'Csv') return compression === 'gzip' ? '.csv.gz' : '.csv';
  return compression === 'snappy' ? '.snappy.parquet' : '.parquet';
}

/** `part_{i}_0001{ext}`: real runs number partitions from 0 with a 4-digit sequence. */
export function partitionFileName(index: number, format: FileFormat, compression: Compression): string {
  return `part_${index}_0001${fileExtension(format, compression)}`;
}
