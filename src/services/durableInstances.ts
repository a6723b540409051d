// Reading orchestration instances through the durable client.
import type { DurableClient, DurableOrchestrationStatus, GetStatusOptions } from 'durable-functions';

/** An instance's status, or undefined when there is no such instance (the client throws on 404). */
export async function instanceStatus(
  client: DurableClient,
  instanceId: string,
  options?: GetStatusOptions,
): Promise<DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(instanceId, options);
  } catch (error) {
    if (error instanceof Error && /\b404\b/.test(error.message)) return undefined;
    throw error;
  }
}
