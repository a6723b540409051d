// manifest.json, version 2024-04-01, in the key order and text shape of real runs (2-space JSON,
// CRLF line ends): see shared/research/real-exports.md §3 and exports-api.md §5.
import type { Compression, FileFormat } from './layout';

export interface ManifestBlob {
  blobName: string;
  byteCount: number;
  dataRowCount: number;
}

export interface ExportManifest {
  manifestVersion: '2024-04-01';
  byteCount: number;
  blobCount: number;
  dataRowCount: number;
  exportConfig: {
    exportName: string;
    resourceId: string;
    dataVersion: string;
    apiVersion: string;
    type: string;
    timeFrame: string;
    granularity: string;
  };
  deliveryConfig: {
    partitionData: boolean;
    dataOverwriteBehavior: 'OverwritePreviousReport' | 'CreateNewReport';
    fileFormat: FileFormat;
    compressionMode: 'None' | 'Gzip' | 'Snappy';
    containerUri: string;
    rootFolderPath: string;
  };
  runInfo: {
    executionType: 'OnDemand' | 'Scheduled';
    submittedTime: string;
    runId: string;
    startDate: string;
    endDate: string;
  };
  blobs: ManifestBlob[];
}

export interface ManifestInput {
  exportConfig: ExportManifest['exportConfig'];
  deliveryConfig: Omit<ExportManifest['deliveryConfig'], 'compressionMode'> & { compression: Compression };
  runInfo: ExportManifest['runInfo'];
  blobs: readonly ManifestBlob[];
}

const COMPRESSION_MODES: Record<Compression, ExportManifest['deliveryConfig']['compressionMode']> = {
  none: 'None',
  gzip: 'Gzip',
  snappy: 'Snappy',
};

/** Builds the manifest with totals that are the sums over its blobs (as in every real sample). */
export function buildManifest(input: ManifestInput): ExportManifest {
  const blobs = input.blobs.map((b) => ({
    blobName: b.blobName,
    byteCount: b.byteCount,
    dataRowCount: b.dataRowCount,
  }));
  const d = input.deliveryConfig;
  const e = input.exportConfig;
  const r = input.runInfo;
  // Literal key order matters: consumers diff these files and the real ones keep this order.
  return {
    manifestVersion: '2024-04-01',
    byteCount: blobs.reduce((sum, b) => sum + b.byteCount, 0),
    blobCount: blobs.length,
    dataRowCount: blobs.reduce((sum, b) => sum + b.dataRowCount, 0),
    exportConfig: {
      exportName: e.exportName,
      resourceId: e.resourceId,
      dataVersion: e.dataVersion,
      apiVersion: e.apiVersion,
      type: e.type,
      timeFrame: e.timeFrame,
      granularity: e.granularity,
    },
    deliveryConfig: {
      partitionData: d.partitionData,
      dataOverwriteBehavior: d.dataOverwriteBehavior,
      fileFormat: d.fileFormat,
      compressionMode: COMPRESSION_MODES[d.compression],
      containerUri: d.containerUri,
      rootFolderPath: d.rootFolderPath,
    },
    runInfo: {
      executionType: r.executionType,
      submittedTime: r.submittedTime,
      runId: r.runId,
      startDate: r.startDate,
      endDate: r.endDate,
    },
    blobs,
  };
}

/** 2-space indented JSON with CRLF line ends, no trailing newline. */
export function serializeManifest(manifest: ExportManifest): string {
  return JSON.stringify(manifest, null, 2).replace(/\n/g, '\r\n');
}
