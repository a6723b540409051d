// An orchestration instance as the local durable engine keeps it (status, history, the tasks it
// waits on), what the client API shows of it, and the engine's typed errors.
import type { TimerHandle } from '../clock';
import {
  ActionType,
  decodeProcessedInput,
  EventType,
  type HistoryEvent,
  type OrchestratorAction,
  type RetryOptionsLike,
  roundTrip,
} from './history';

export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated' | 'ContinuedAsNew';
export const TERMINAL: ReadonlySet<RuntimeStatus> = new Set(['Completed', 'Failed', 'Terminated']);

export interface OrchestrationStatus {
  instanceId: string;
  name: string;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  runtimeStatus: RuntimeStatus;
  createdTime: Date;
  lastUpdatedTime: Date;
  parentInstanceId?: string;
  history?: HistoryEvent[];
}

export interface StatusQuery {
  runtimeStatus?: RuntimeStatus[];
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
  instanceIdPrefix?: string;
  showInput?: boolean;
}

export class DurableEngineError extends Error {
  constructor(
    message: string,
    readonly code: 'NotFound' | 'AlreadyExists' | 'NotRunning' | 'BadRequest',
  ) {
    super(message);
    this.name = 'DurableEngineError';
  }
}

export interface ParentLink {
  instanceId: string;
  taskId: number;
  generation: number;
}

export interface Work {
  kind: 'activity' | 'subOrchestration';
  name: string;
  input: unknown;
  instanceId?: string;
  retry?: { options: RetryOptionsLike; failures: number; firstAttemptAt: number };
}

export type TaskEntry =
  | { role: 'attempt'; work: Work }
  | { role: 'retryTimer'; work: Work }
  | { role: 'timer'; finalFireAt: number; long: boolean };

export interface Instance {
  instanceId: string;
  name: string;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  runtimeStatus: RuntimeStatus;
  createdTime: Date;
  lastUpdatedTime: Date;
  history: HistoryEvent[];
  parent?: ParentLink;
  generation: number;
  inbox: HistoryEvent[];
  busy: boolean;
  nextId: number;
  actionCount: number;
  signatures: string[];
  /** Flattened action index → its timer entry (a long timer owns several sequence ids). */
  timersByAction: Map<number, TaskEntry>;
  tasks: Map<number, TaskEntry>;
  timers: Map<number, TimerHandle>;
}

export function matches(inst: Instance, q: StatusQuery): boolean {
  if (q.runtimeStatus?.length && !q.runtimeStatus.includes(inst.runtimeStatus)) return false;
  if (q.createdTimeFrom && inst.createdTime < q.createdTimeFrom) return false;
  if (q.createdTimeTo && inst.createdTime > q.createdTimeTo) return false;
  if (q.instanceIdPrefix && !inst.instanceId.startsWith(q.instanceIdPrefix)) return false;
  return true;
}

export function validateInstanceId(id: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > 256) {
    throw new DurableEngineError('instanceId: expected 1-256 characters', 'BadRequest');
  }
  if (/[/\\#?]/.test(id) || /[\u0000-\u001f\u007f]/.test(id)) {
    throw new DurableEngineError(
      `instanceId "${id}": must not contain / \\ # ? or control characters`,
      'BadRequest',
    );
  }
}

/** What getStatus and the HTTP API show of an instance. */
export function statusOf(inst: Instance, showInput: boolean, showHistory: boolean): OrchestrationStatus {
  return {
    instanceId: inst.instanceId,
    name: inst.name,
    input: showInput ? (inst.input ?? null) : null,
    output: inst.output ?? null,
    customStatus: inst.customStatus ?? null,
    runtimeStatus: inst.runtimeStatus,
    createdTime: inst.createdTime,
    lastUpdatedTime: inst.lastUpdatedTime,
    ...(inst.parent ? { parentInstanceId: inst.parent.instanceId } : {}),
    ...(showHistory ? { history: inst.history.map((e) => ({ ...e })) } : {}),
  };
}

/** A new instance, Pending, with nothing scheduled yet. */
export function newInstance(
  name: string,
  instanceId: string,
  input: unknown,
  parent: ParentLink | undefined,
  generation: number,
  now: Date,
): Instance {
  return {
    instanceId,
    name,
    input,
    output: null,
    customStatus: null,
    runtimeStatus: 'Pending',
    createdTime: now,
    lastUpdatedTime: now,
    history: [],
    parent,
    generation,
    inbox: [],
    busy: false,
    nextId: 0,
    actionCount: 0,
    signatures: [],
    timersByAction: new Map(),
    tasks: new Map(),
    timers: new Map(),
  };
}

/** Whether replaying `event` makes the library allocate sequence ids (a retried task's failure, a
 * retry or long-timer step firing): such an event is appended alone. */
export function allocatesIds(inst: Instance, event: HistoryEvent): boolean {
  if (
    event.EventType === EventType.TaskFailed ||
    event.EventType === EventType.SubOrchestrationInstanceFailed
  ) {
    const entry = inst.tasks.get(event.TaskScheduledId as number);
    return entry?.role === 'attempt' && entry.work.retry !== undefined;
  }
  if (event.EventType === EventType.TimerFired) {
    const entry = inst.tasks.get(event.TimerId as number);
    return entry?.role === 'retryTimer' || (entry?.role === 'timer' && entry.long);
  }
  return false;
}

/** The work a call action schedules: an activity or sub-orchestration, with its retry state. */
export function workFor(action: OrchestratorAction, ts: number): Work {
  const activity =
    action.actionType === ActionType.CallActivity || action.actionType === ActionType.CallActivityWithRetry;
  const withRetry =
    action.actionType === ActionType.CallActivityWithRetry ||
    action.actionType === ActionType.CallSubOrchestratorWithRetry;
  return {
    kind: activity ? 'activity' : 'subOrchestration',
    name: String(action.functionName),
    input: activity ? decodeProcessedInput(action.input) : roundTrip(action.input),
    instanceId: action.instanceId || undefined,
    retry: withRetry ? { options: action.retryOptions!, failures: 0, firstAttemptAt: ts } : undefined,
  };
}
