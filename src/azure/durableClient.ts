// The durable client's "no such instance" as a status, not an exception text. durable-functions'
// DurableClient reports an unknown instance only as a plain Error whose text it writes itself (no
// status property, no error type: Azure/azure-functions-durable-js#610), so this module is the one
// place that reads those two fixed texts; every caller gets `undefined` or `'notFound'`. The library
// version is pinned in package.json, and test/integration/localHost.test.ts drives these functions
// through the real client against the local host's 404s, so a change in the library fails a test.
import type { DurableClient, DurableOrchestrationStatus, GetStatusOptions } from 'durable-functions';

/** getStatus: "DurableClient error: Durable Functions extension replied with HTTP 404 response. …" */
const STATUS_NOT_FOUND = /^DurableClient error: Durable Functions extension replied with HTTP 404 response\./;
/** raiseEvent: "No instance with ID '{id}' found." (a 410, a finished instance, is not an error). */
const EVENT_NOT_FOUND = (instanceId: string) => `No instance with ID '${instanceId}' found.`;

/** An instance's status, or undefined when there is no such instance. */
export async function instanceStatus(
  client: Pick<DurableClient, 'getStatus'>,
  instanceId: string,
  options?: GetStatusOptions,
): Promise<DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(instanceId, options);
  } catch (error) {
    if (error instanceof Error && STATUS_NOT_FOUND.test(error.message)) return undefined;
    throw error;
  }
}

/** What raising an event found: the instance took it (running, or finished: the extension answers
 * 410 and drops the event), or there is no such instance. */
export type RaiseOutcome = 'raised' | 'notFound';

export async function raiseEventTo(
  client: Pick<DurableClient, 'raiseEvent'>,
  instanceId: string,
  eventName: string,
  payload: unknown,
): Promise<RaiseOutcome> {
  try {
    await client.raiseEvent(instanceId, eventName, payload);
    return 'raised';
  } catch (error) {
    if (error instanceof Error && error.message === EVENT_NOT_FOUND(instanceId)) return 'notFound';
    throw error;
  }
}
