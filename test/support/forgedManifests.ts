// Manifests an attacker (or a stale copy) could write into the exports container: the shape Azure
// writes (manifestVersion 2024-04-01, exportConfig, runInfo, blobs), with whatever claims the test
// wants. Used by the adversarial landing tests.
import { randomUUID } from 'node:crypto';

import type { ContainerClient } from '@azure/storage-blob';

export interface ForgedManifest {
  /** Folder the manifest is written to (no trailing slash). */
  folder: string;
  scope: string;
  exportName: string;
  runId?: string;
  /** `YYYY-MM-DD`, first day of the month. */
  startDate: string;
  blobs?: { blobName: string; byteCount: number; dataRowCount: number }[];
}

/** `{yyyyMMddHHmm}` of now, as Azure names the run-time folder. */
export function runTimeFolder(at = new Date()): string {
  return at.toISOString().replace(/[-:T]/g, '').slice(0, 12);
}

/** Writes a forged manifest.json and returns its blob name and run id. */
export async function writeForgedManifest(
  container: ContainerClient,
  forged: ForgedManifest,
): Promise<{ blobName: string; runId: string }> {
  const runId = forged.runId ?? randomUUID();
  const blobs = forged.blobs ?? [];
  const manifest = {
    manifestVersion: '2024-04-01',
    byteCount: blobs.reduce((n, b) => n + b.byteCount, 0),
    blobCount: blobs.length,
    dataRowCount: blobs.reduce((n, b) => n + b.dataRowCount, 0),
    exportConfig: {
      exportName: forged.exportName,
      resourceId: `${forged.scope}/providers/Microsoft.CostManagement/exports/${forged.exportName}`,
      dataVersion: '2021-10-01',
      apiVersion: '2025-03-01',
      type: 'ActualCost',
      timeFrame: 'Custom',
      granularity: 'Daily',
    },
    deliveryConfig: { partitionData: true, dataOverwriteBehavior: 'CreateNewReport', fileFormat: 'Csv' },
    runInfo: {
      executionType: 'OnDemand',
      submittedTime: new Date().toISOString(),
      runId,
      startDate: `${forged.startDate}T00:00:00Z`,
    },
    blobs,
  };
  const blobName = `${forged.folder}/manifest.json`;
  const text = JSON.stringify(manifest, null, 2);
  await container.getBlockBlobClient(blobName).upload(text, Buffer.byteLength(text));
  return { blobName, runId };
}
