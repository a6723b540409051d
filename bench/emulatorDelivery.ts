// Benchmark: one month (31 days) of 50 resources delivered into a fresh Azurite, per format.
// Prints one line: median delivery time per format over a few repetitions, rows and bytes.
import { startAzurite } from '../dev/azurite';
import { deliverRun, type RunDeliveryRequest } from '../dev/emulator/delivery';

const REPETITIONS = 5;

function request(
  i: number,
  format: RunDeliveryRequest['format'],
  compression: RunDeliveryRequest['compression'],
): RunDeliveryRequest {
  const scope = '/subscriptions/11111111-2222-4333-8444-555555555555';
  return {
    exportName: `bench-${format.toLowerCase()}-${compression}`,
    scope,
    exportResourceId: `${scope}/providers/Microsoft.CostManagement/exports/bench`,
    apiVersion: '2025-03-01',
    runId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    executionType: 'Scheduled',
    submittedTime: new Date(Date.UTC(2024, 2, 1, 9, 42, i)),
    from: new Date(Date.UTC(2024, 0, 1)),
    to: new Date(Date.UTC(2024, 0, 31)),
    dataset: { type: 'FocusCost', version: '1.2-preview', granularity: 'Daily' },
    format,
    compression,
    partitionData: true,
    overwrite: 'CreateNewReport',
    destination: {
      container: 'bench',
      rootFolderPath: 'exports',
      resourceId: '/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z',
    },
    seed: 7,
    resourcesPerDay: 50,
  };
}

async function main(): Promise<void> {
  const azurite = await startAzurite();
  try {
    const storage = { blobEndpoint: azurite.blobEndpoint, connectionString: azurite.connectionString };
    const parts: string[] = [];
    let run = 0;
    for (const [format, compression] of [
      ['Csv', 'none'],
      ['Csv', 'gzip'],
      ['Parquet', 'snappy'],
    ] as const) {
      const times: number[] = [];
      let rows = 0;
      let bytes = 0;
      for (let i = 0; i < REPETITIONS; i++) {
        const started = process.hrtime.bigint();
        const result = await deliverRun(storage, request(run++, format, compression));
        times.push(Number(process.hrtime.bigint() - started) / 1e6);
        rows = result.dataRowCount;
        bytes = result.byteCount;
      }
      times.sort((a, b) => a - b);
      parts.push(
        `${format}/${compression} median ${times[Math.floor(times.length / 2)]!.toFixed(0)} ms (${rows} rows, ${bytes} bytes)`,
      );
    }
    console.log(`emulatorDelivery: FocusCost 1.2-preview, 50 resources x 31 days: ${parts.join('; ')}`);
  } finally {
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
