// Starting a timer-driven durable round (out-of-band runs, export sync) exactly once per tick.
// The instance id is derived from the tick, so a tick delivered twice finds its round and starts
// nothing; a tick that finds the previous tick's round still running skips, so rounds never pile up
// when one takes longer than the schedule's interval.
import type { InvocationContext, Timer } from '@azure/functions';
import * as df from 'durable-functions';

import { instanceStatus } from '../azure/durableClient';
import { logEventLine, type LogFieldValue } from '../domain/logEvent';
import { roundInstanceId } from '../domain/outOfBandPolicy';

export type RoundStart =
  | { started: true; instanceId: string }
  | {
      started: false;
      instanceId: string;
      reason: 'alreadyStarted' | 'previousRoundRunning';
      previous?: string;
    };

const ACTIVE = new Set<string>([
  df.OrchestrationRuntimeStatus.Running,
  df.OrchestrationRuntimeStatus.Pending,
  df.OrchestrationRuntimeStatus.ContinuedAsNew,
]);

/** The runtime status of an instance, or undefined when there is none. */
async function statusOf(client: df.DurableClient, instanceId: string): Promise<string | undefined> {
  return (await instanceStatus(client, instanceId))?.runtimeStatus;
}

/** Starts this tick's round of `orchestrator` (its instance ids are prefixed with its name). */
export async function startRoundOnce(
  client: df.DurableClient,
  options: { orchestrator: string; now: Date; timer: Timer; input: unknown },
): Promise<RoundStart> {
  const instanceId = roundInstanceId(options.now, options.orchestrator);
  if ((await statusOf(client, instanceId)) !== undefined) {
    return { started: false, instanceId, reason: 'alreadyStarted' };
  }
  const last = Date.parse(options.timer.scheduleStatus?.last ?? '');
  if (Number.isFinite(last) && last > 0) {
    const previous = roundInstanceId(new Date(last), options.orchestrator);
    const status = previous === instanceId ? undefined : await statusOf(client, previous);
    if (status !== undefined && ACTIVE.has(status)) {
      return { started: false, instanceId, reason: 'previousRoundRunning', previous };
    }
  }
  await client.startNew(options.orchestrator, { instanceId, input: options.input });
  return { started: true, instanceId };
}

/** Logs what a tick did as one event: `round.started`, or `round.skipped` with the reason. */
export function logRoundStart(
  context: Pick<InvocationContext, 'log' | 'warn'>,
  round: string,
  result: RoundStart,
  fields: Record<string, LogFieldValue>,
): void {
  if (result.started) {
    context.log(logEventLine('round.started', { round, instanceId: result.instanceId, ...fields }));
  } else {
    const line = logEventLine('round.skipped', {
      round,
      instanceId: result.instanceId,
      reason: result.reason,
      running: result.reason === 'previousRoundRunning' ? result.previous : undefined,
      ...fields,
    });
    if (result.reason === 'alreadyStarted') context.log(line);
    else context.warn(line);
  }
}
