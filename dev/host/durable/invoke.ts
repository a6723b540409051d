// Calling the app's durable functions as the extension does: an orchestrator with its trigger
// payload (history, schema versions, timer settings) through durable-functions' replay code, and an
// activity with its input; each answer or failure as the engine records it.
import type { InvocationContext } from '@azure/functions';

import type { CapturedRegistration } from '../functionsCoreStub';
import { createInvocationContext, type HostLogger } from '../invocation';
import type { HistoryEvent, OrchestratorStateLike } from './history';
import { DurableEngineError, type Instance } from './instance';
import { activityFailure, orchestratorFailure } from './replay';

export const DEFAULT_MAX_SHORT_TIMER = '6.00:00:00';
export const DEFAULT_LONG_TIMER_INTERVAL = '3.00:00:00';

/** What the "extension" offers the library on every orchestrator call. */
export interface ReplaySettings {
  /** 0 = V1 … 3 = V4. */
  schemaVersion: number;
  maximumShortTimerDuration?: string;
  longRunningTimerIntervalDuration?: string;
  logger: HostLogger;
}

export interface OrchestratorAnswer {
  state?: OrchestratorStateLike;
  error?: string;
  failedState?: OrchestratorStateLike;
}

/** The orchestrator registered under `name`, or BadRequest naming the ones there are. */
export function findOrchestrator(
  registrations: readonly CapturedRegistration[],
  name: string,
): CapturedRegistration {
  const found = registrations.find((r) => r.name === name && r.trigger.type === 'orchestrationTrigger');
  if (!found) {
    const known = registrations
      .filter((r) => r.trigger.type === 'orchestrationTrigger')
      .map((r) => r.name)
      .join(', ');
    throw new DurableEngineError(
      `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function. Orchestrators: ${known || '(none)'}`,
      'BadRequest',
    );
  }
  return found;
}

export async function invokeOrchestrator(
  registration: CapturedRegistration,
  inst: Instance,
  history: HistoryEvent[],
  settings: ReplaySettings,
): Promise<OrchestratorAnswer> {
  const trigger = {
    // The library mutates events (Timestamp → Date): give it a copy, as the host gives it JSON.
    history: JSON.parse(JSON.stringify(history)) as HistoryEvent[],
    input: inst.input,
    instanceId: inst.instanceId,
    isReplaying: history.some((e) => e.IsPlayed),
    parentInstanceId: inst.parent?.instanceId,
    upperSchemaVersion: Math.min(settings.schemaVersion, 2),
    ...(settings.schemaVersion >= 3 ? { upperSchemaVersionNew: settings.schemaVersion } : {}),
    maximumShortTimerDuration: settings.maximumShortTimerDuration ?? DEFAULT_MAX_SHORT_TIMER,
    longRunningTimerIntervalDuration:
      settings.longRunningTimerIntervalDuration ?? DEFAULT_LONG_TIMER_INTERVAL,
    defaultHttpAsyncRequestSleepTimeMillseconds: 30_000,
  };
  const context = createInvocationContext(registration, { logger: settings.logger });
  try {
    const state = (await registration.handler(trigger, context)) as OrchestratorStateLike;
    return { state };
  } catch (err) {
    return orchestratorFailure(err);
  }
}

export interface ActivityHost {
  registrations: readonly CapturedRegistration[];
  createContext?: (registration: CapturedRegistration) => InvocationContext;
  logger: HostLogger;
}

/** Runs an activity: its result as JSON, or the failure as the extension reports it. */
export async function invokeActivity(
  host: ActivityHost,
  name: string,
  input: unknown,
): Promise<{ result: string } | { failure: Record<string, unknown> }> {
  const registration = host.registrations.find(
    (r) => r.name === name && r.trigger.type === 'activityTrigger',
  );
  if (!registration) {
    const message = `The function '${name}' doesn't exist, is disabled, or is not an activity function.`;
    return { failure: { Reason: message, Details: message } };
  }
  try {
    const context =
      host.createContext?.(registration) ?? createInvocationContext(registration, { logger: host.logger });
    const result: unknown = await registration.handler(input, context);
    return { result: JSON.stringify(result === undefined ? null : result) };
  } catch (err) {
    return { failure: activityFailure(name, err) };
  }
}
