// Reading what the durable-functions library answers on replay: the determinism check against the
// first run's actions, the orchestrator's failure out of the library's envelope, external events
// nobody waited for, and an activity failure as the extension reports it.
import { redactSecrets } from '../../../src/domain/redact';
import {
  actionSignature,
  ActionType,
  EventType,
  type HistoryEvent,
  type OrchestratorAction,
  type OrchestratorStateLike,
} from './history';
import type { Instance } from './instance';

const OUT_OF_PROC_LABEL = '$OutOfProcData$:';

/** Why replayed actions differ from the ones the first run scheduled, if they do. */
export function determinismProblem(inst: Instance, actions: OrchestratorAction[]): string | undefined {
  const known = Math.min(inst.actionCount, actions.length);
  for (let i = 0; i < known; i++) {
    const now = actionSignature(actions[i]!);
    if (now !== inst.signatures[i]) {
      return (
        `Non-deterministic orchestrator '${inst.name}': on replay, action #${i} is ${now} ` +
        `but the first run scheduled ${inst.signatures[i]}. Orchestrators must not branch on time, randomness or I/O.`
      );
    }
  }
  if (actions.length < inst.actionCount) {
    return `Non-deterministic orchestrator '${inst.name}': on replay it scheduled ${actions.length} actions, the first run ${inst.actionCount}.`;
  }
  return undefined;
}

export function lastOrchestratorStarted(history: HistoryEvent[]): number {
  for (let i = history.length - 1; i >= 0; i--) {
    if (history[i]!.EventType === EventType.OrchestratorStarted) return Date.parse(history[i]!.Timestamp);
  }
  return 0;
}

/** EventRaised events the orchestrator never waited for: carried into the next execution. */
export function unconsumedEvents(history: HistoryEvent[], actions: OrchestratorAction[]): HistoryEvent[] {
  const waits = new Map<string, number>();
  for (const a of actions) {
    if (a.actionType === ActionType.WaitForExternalEvent) {
      waits.set(String(a.externalEventName), (waits.get(String(a.externalEventName)) ?? 0) + 1);
    }
  }
  const carried: HistoryEvent[] = [];
  for (const e of history) {
    if (e.EventType !== EventType.EventRaised) continue;
    const name = String(e.Name);
    const left = waits.get(name) ?? 0;
    if (left > 0) waits.set(name, left - 1);
    else carried.push(e);
  }
  return carried;
}

/** Reason/Details as the extension reports an activity failure; FailureDetails too when the
 * activity wrapper serialised structured details (an ExceptionPropertiesProvider is registered). */
export function activityFailure(name: string, err: unknown): Record<string, unknown> {
  const message = err instanceof Error ? err.message : String(err);
  let structured: Record<string, unknown> | undefined;
  try {
    const parsed = JSON.parse(message) as Record<string, unknown>;
    if (parsed && typeof parsed.errorType === 'string' && typeof parsed.errorMessage === 'string')
      structured = parsed;
  } catch {
    // a plain message
  }
  const shown = redactSecrets(structured ? String(structured.errorMessage) : message);
  const stack = err instanceof Error && err.stack ? redactSecrets(err.stack) : shown;
  const failure: Record<string, unknown> = {
    Reason: `Activity function '${name}' failed: ${shown}`,
    Details: stack,
  };
  if (structured) {
    failure.FailureDetails = {
      ErrorType: structured.errorType,
      ErrorMessage: shown,
      StackTrace: structured.stackTrace,
      IsNonRetriable: structured.isNonRetriable ?? false,
      Properties: structured.properties,
    };
  }
  return failure;
}

/**
 * The orchestrator's own error text, and the state it had decided, out of the library's
 * OrchestrationFailureError envelope (`<message>$OutOfProcData$:<state JSON>`, the state's `error`
 * being the failed task's message); any other throw is its raw message.
 */
export function orchestratorFailure(err: unknown): { error: string; failedState?: OrchestratorStateLike } {
  const message = err instanceof Error ? err.message : String(err);
  const at = message.indexOf(OUT_OF_PROC_LABEL);
  if (at >= 0) {
    try {
      const state = JSON.parse(message.slice(at + OUT_OF_PROC_LABEL.length)) as OrchestratorStateLike;
      if (typeof state.error === 'string') return { error: state.error, failedState: state };
    } catch {
      // fall through to the raw message
    }
  }
  return { error: message };
}
