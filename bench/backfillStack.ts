// Shared by the backfill benchmarks: the dev stack (Azurite + the Exports emulator + the local host
// serving the real registrations of src/index.ts on the real clock), with fast emulator runs and
// the emulator's throttling in real time.
import type { EmulatorOptions } from '../dev/emulator/server';
import { EXPORTS_CONTAINER, type RunningStack, startStack } from '../dev/stack';
import type { BackfillOutput } from '../src/domain/contracts';

export const BENCH_DESTINATION = {
  resourceId:
    '/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1',
  container: EXPORTS_CONTAINER,
};

export function startBenchStack(
  emulator: Omit<EmulatorOptions, 'storage' | 'caFile'> = {},
): Promise<RunningStack> {
  return startStack({
    speedFactor: 2000,
    blobPollIntervalMs: 200,
    managedScopes: [],
    logger: () => undefined,
    emulator,
    settings: { DURABLE_TASK_HUB: 'backfillbench' },
  });
}

export async function startBackfill(api: string, body: unknown): Promise<string> {
  const response = await fetch(`${api}/backfills`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as { id?: string; errors?: unknown };
  if (response.status !== 202 || !json.id)
    throw new Error(`POST /backfills: ${response.status} ${JSON.stringify(json)}`);
  return json.id;
}

export async function waitForBackfill(api: string, id: string, timeoutMs = 600_000): Promise<BackfillOutput> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${api}/backfills/${id}`);
    const json = (await response.json()) as { runtimeStatus: string; result: BackfillOutput };
    if (json.runtimeStatus === 'Completed') return json.result;
    if (['Failed', 'Terminated'].includes(json.runtimeStatus) || Date.now() > deadline)
      throw new Error(`backfill ${id}: ${json.runtimeStatus}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
