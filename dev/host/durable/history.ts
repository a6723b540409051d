// The wire shapes the Durable extension exchanges with durable-functions' replay code: history
// events (EventType numbers from DurableTask.Core) going in, actions (ActionType numbers) coming out.

export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
} as const;

export const EventTypeName: Record<number, string> = Object.fromEntries(
  Object.entries(EventType).map(([name, value]) => [value, name]),
);

export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  /** ISO 8601; the library turns it into a Date. */
  Timestamp: string;
  [field: string]: unknown;
}

export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

export const ActionTypeName: Record<number, string> = Object.fromEntries(
  Object.entries(ActionType).map(([name, value]) => [value, name]),
);

export interface RetryOptionsLike {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

/** An action as the library returns it in-process (class instances; JSON-compatible fields). */
export interface OrchestratorAction {
  actionType: number;
  functionName?: string;
  input?: unknown;
  instanceId?: string;
  retryOptions?: RetryOptionsLike;
  fireAt?: Date | string;
  isCanceled?: boolean;
  externalEventName?: string;
  compoundActions?: OrchestratorAction[];
}

/** What an orchestrator invocation returns (durable-functions' OrchestratorState). */
export interface OrchestratorStateLike {
  isDone: boolean;
  actions: unknown[];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  schemaVersion?: number;
}

function isAction(value: unknown): value is OrchestratorAction {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { actionType?: unknown }).actionType === 'number'
  );
}

/**
 * The schedulable actions in the order the library tracks them: V1 groups per yield, V2+ nests
 * WhenAll/WhenAny; both flatten depth-first. A task yielded again inside a later Task.all is the
 * same action object, so identity de-duplication keeps it from being scheduled twice.
 */
export function flattenActions(actions: unknown[]): OrchestratorAction[] {
  const out: OrchestratorAction[] = [];
  const seen = new Set<OrchestratorAction>();
  const visit = (item: unknown): void => {
    if (Array.isArray(item)) {
      item.forEach(visit);
      return;
    }
    if (!isAction(item)) return;
    if (item.actionType === ActionType.WhenAll || item.actionType === ActionType.WhenAny) {
      (item.compoundActions ?? []).forEach(visit);
      return;
    }
    if (seen.has(item)) return;
    seen.add(item);
    out.push(item);
  };
  visit(actions);
  return out;
}

/** A stable description of an action, compared across replays to catch non-determinism. */
export function actionSignature(action: OrchestratorAction): string {
  const name = ActionTypeName[action.actionType] ?? `ActionType${action.actionType}`;
  switch (action.actionType) {
    case ActionType.CreateTimer:
      return `${name}(${new Date(action.fireAt as Date).toISOString()})`;
    case ActionType.WaitForExternalEvent:
      return `${name}(${action.externalEventName})`;
    case ActionType.ContinueAsNew:
      return `${name}(${JSON.stringify(action.input) ?? ''})`;
    default:
      return `${name}(${action.functionName ?? ''}${action.instanceId ? `, id=${action.instanceId}` : ''}, ${
        JSON.stringify(action.input) ?? 'undefined'
      })`;
  }
}

/** Inputs the library passes through `Utils.processInput` (activities, continueAsNew) arrive as JSON text when they were strings. */
export function decodeProcessedInput(input: unknown): unknown {
  if (typeof input === 'string') return JSON.parse(input) as unknown;
  return roundTrip(input);
}

/** JSON round trip, as the host's serialisation does (Dates become strings, undefined stays undefined). */
export function roundTrip(value: unknown): unknown {
  if (value === undefined) return undefined;
  const text = JSON.stringify(value);
  return text === undefined ? undefined : (JSON.parse(text) as unknown);
}

/** TimeSpan text `d.hh:mm:ss` (or `hh:mm:ss`) in milliseconds. */
export function timeSpanMs(text: string): number {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/.exec(text);
  if (!m) throw new Error(`Expected a TimeSpan like "6.00:00:00", got "${text}"`);
  const [, d, h, min, s] = m;
  return (((Number(d ?? 0) * 24 + Number(h)) * 60 + Number(min)) * 60 + Number(s)) * 1000;
}

/** Delay before the next attempt, as DurableTask's RetryInterceptor computes it (failedAttempts counts from 1). */
export function retryDelayMs(options: RetryOptionsLike, failedAttempts: number): number {
  const coefficient = options.backoffCoefficient ?? 1;
  const delay = options.firstRetryIntervalInMilliseconds * Math.pow(coefficient, failedAttempts - 1);
  const cap = options.maxRetryIntervalInMilliseconds;
  return cap !== undefined && cap > 0 ? Math.min(delay, cap) : delay;
}
