// An in-process stand-in for the Durable Task extension: it keeps instances and their histories in
// memory and drives each orchestration through durable-functions' own replay code (the captured
// orchestrationTrigger handler). Sequence ids follow the host-side counter the library mirrors: one
// per scheduled task in flattened action order, one per retry timer when a retried task fails, one
// per re-attempt when that timer fires, and one per sub-timer of a long timer (schema V3+). Events
// that make the library allocate such ids are appended one per episode; other completions are
// batched. That keeps allocation order identical to the library's, whatever order work finishes in.
import { randomUUID } from 'node:crypto';

import type { InvocationContext } from '@azure/functions';

import { redactSecrets } from '../../../src/domain/redact';
import { type Clock, RealClock } from '../clock';
import { type CapturedRegistration, registrations as capturedRegistrations } from '../functionsCoreStub';
import { consoleLogger, describeError, type HostLogger } from '../invocation';
import {
  actionSignature,
  ActionType,
  ActionTypeName,
  decodeProcessedInput,
  EventType,
  flattenActions,
  type HistoryEvent,
  type OrchestratorAction,
  type OrchestratorStateLike,
  retryDelayMs,
  roundTrip,
  timeSpanMs,
} from './history';
import {
  allocatesIds,
  DurableEngineError,
  type Instance,
  matches,
  newInstance,
  type OrchestrationStatus,
  type ParentLink,
  type RuntimeStatus,
  statusOf,
  type StatusQuery,
  type TaskEntry,
  TERMINAL,
  validateInstanceId,
  type Work,
  workFor,
} from './instance';
import {
  type ActivityHost,
  DEFAULT_LONG_TIMER_INTERVAL,
  DEFAULT_MAX_SHORT_TIMER,
  findOrchestrator,
  invokeActivity,
  invokeOrchestrator,
  type OrchestratorAnswer,
  type ReplaySettings,
} from './invoke';
import { customStatusProblem } from './limits';
import { determinismProblem, lastOrchestratorStarted, unconsumedEvents } from './replay';
import { type EngineState, restoreInstance, type SavedInstance, saveInstance } from './savedState';
import { Semaphore } from './semaphore';

export {
  DurableEngineError,
  type OrchestrationStatus,
  type RuntimeStatus,
  type StatusQuery,
} from './instance';
export type { EngineState, SavedInstance } from './savedState';

export interface DurableEngineOptions {
  clock?: Clock;
  /** Where orchestrators and activities are looked up; defaults to the functions-core stub's registrations. */
  registrations?: readonly CapturedRegistration[];
  /** Replay schema the "extension" offers: 0 = V1 … 3 = V4 (default, as current extensions). */
  schemaVersion?: 0 | 1 | 2 | 3;
  maximumShortTimerDuration?: string;
  longRunningTimerIntervalDuration?: string;
  /** Like host.json durableTask.maxConcurrentActivityFunctions (default 10). */
  maxConcurrentActivities?: number;
  /** Builds activity contexts (the local host injects durable client bindings); default: plain context. */
  createContext?: (registration: CapturedRegistration) => InvocationContext;
  logger?: HostLogger;
}

export class DurableEngine {
  readonly clock: Clock;
  private readonly instances = new Map<string, Instance>();
  private readonly listeners = new Set<(status: OrchestrationStatus) => void>();
  private readonly registrationList: readonly CapturedRegistration[];
  private readonly schemaVersion: number;
  private readonly maxShortMs: number;
  private readonly longIntervalMs: number;
  private readonly logger: HostLogger;
  private readonly activitySlots: Semaphore;
  private readonly replaySettings: ReplaySettings;
  private readonly activityHost: ActivityHost;
  private stopped = false;
  /** Each instance as of its last consistent point (no episode half done): what exportState returns. */
  private readonly checkpoints = new Map<string, SavedInstance>();

  constructor(options: DurableEngineOptions = {}) {
    this.clock = options.clock ?? new RealClock();
    this.registrationList = options.registrations ?? capturedRegistrations;
    this.schemaVersion = options.schemaVersion ?? 3;
    if (![0, 1, 2, 3].includes(this.schemaVersion)) throw new Error('schemaVersion: expected 0, 1, 2 or 3');
    this.maxShortMs = timeSpanMs(options.maximumShortTimerDuration ?? DEFAULT_MAX_SHORT_TIMER);
    this.longIntervalMs = timeSpanMs(options.longRunningTimerIntervalDuration ?? DEFAULT_LONG_TIMER_INTERVAL);
    this.logger = options.logger ?? consoleLogger;
    const slots = options.maxConcurrentActivities ?? 10;
    if (!Number.isInteger(slots) || slots < 1)
      throw new Error('maxConcurrentActivities: expected a positive integer');
    this.activitySlots = new Semaphore(slots);
    this.replaySettings = {
      schemaVersion: this.schemaVersion,
      maximumShortTimerDuration: options.maximumShortTimerDuration,
      longRunningTimerIntervalDuration: options.longRunningTimerIntervalDuration,
      logger: this.logger,
    };
    this.activityHost = {
      registrations: this.registrationList,
      createContext: options.createContext,
      logger: this.logger,
    };
  }

  // ---- client operations -------------------------------------------------------------------

  /** Starts an orchestration; refuses an id whose instance is still Pending/Running, as the host does. */
  startNew(name: string, options: { instanceId?: string; input?: unknown } = {}): string {
    findOrchestrator(this.registrationList, name);
    const instanceId = options.instanceId ?? randomUUID().replace(/-/g, '');
    validateInstanceId(instanceId);
    this.create(name, instanceId, roundTrip(options.input), undefined);
    return instanceId;
  }

  getStatus(
    instanceId: string,
    options: { showHistory?: boolean; showInput?: boolean } = {},
  ): OrchestrationStatus | undefined {
    const inst = this.instances.get(instanceId);
    return inst ? statusOf(inst, options.showInput ?? true, options.showHistory ?? false) : undefined;
  }

  listInstances(query: StatusQuery = {}): OrchestrationStatus[] {
    return [...this.instances.values()]
      .filter((inst) => matches(inst, query))
      .map((inst) => statusOf(inst, query.showInput ?? false, false));
  }

  /** Delivers an external event. Events raised before the orchestrator waits are kept in its history,
   * where the library buffers them until a matching waitForExternalEvent, as with the real host. */
  raiseEvent(instanceId: string, eventName: string, data?: unknown): void {
    if (!eventName) throw new DurableEngineError('eventName: expected a non-empty string', 'BadRequest');
    const inst = this.requireInstance(instanceId);
    if (TERMINAL.has(inst.runtimeStatus)) {
      throw new DurableEngineError(
        `Instance '${instanceId}' is ${inst.runtimeStatus}; it accepts no events`,
        'NotRunning',
      );
    }
    const input = JSON.stringify(data === undefined ? null : data);
    this.enqueue(inst, this.event(EventType.EventRaised, { Name: eventName, Input: input }), inst.generation);
  }

  terminate(instanceId: string, reason = ''): void {
    const inst = this.requireInstance(instanceId);
    if (TERMINAL.has(inst.runtimeStatus)) {
      throw new DurableEngineError(`Instance '${instanceId}' is already ${inst.runtimeStatus}`, 'NotRunning');
    }
    inst.history.push(this.event(EventType.ExecutionTerminated, { Input: JSON.stringify(reason) }));
    this.finish(inst, 'Terminated', reason, { Reason: `Terminated: ${reason}`, Details: reason });
  }

  /** Removes a finished instance (Completed/Failed/Terminated); returns how many were deleted. */
  purge(instanceId: string): number {
    const inst = this.instances.get(instanceId);
    if (!inst || !TERMINAL.has(inst.runtimeStatus)) return 0;
    this.instances.delete(instanceId);
    this.checkpoints.delete(instanceId);
    return 1;
  }

  purgeBy(query: StatusQuery): number {
    let deleted = 0;
    for (const inst of [...this.instances.values()]) {
      if (TERMINAL.has(inst.runtimeStatus) && matches(inst, query)) deleted += this.purge(inst.instanceId);
    }
    return deleted;
  }

  /** Called whenever an instance's status changes (used by waitForCompletion and dev tooling). */
  onStatusChange(listener: (status: OrchestrationStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the instance is Completed, Failed or Terminated. */
  waitForCompletion(instanceId: string): Promise<OrchestrationStatus> {
    const current = this.getStatus(instanceId);
    if (!current)
      return Promise.reject(new DurableEngineError(`No instance with ID '${instanceId}' found.`, 'NotFound'));
    if (TERMINAL.has(current.runtimeStatus)) return Promise.resolve(current);
    return new Promise((resolve) => {
      const off = this.onStatusChange((s) => {
        if (s.instanceId === instanceId && TERMINAL.has(s.runtimeStatus)) {
          off();
          resolve(s);
        }
      });
    });
  }

  /**
   * Runs the orchestrator once more over the instance's stored history and returns what it
   * decided (a determinism probe: the same history must always give the same actions). When the
   * orchestrator fails, `failedState` is the state the library sent along with its error (actions
   * so far, `error`), and the signatures are its actions.
   */
  async replay(instanceId: string): Promise<{
    state?: OrchestratorStateLike;
    error?: string;
    failedState?: OrchestratorStateLike;
    signatures: string[];
  }> {
    const inst = this.requireInstance(instanceId);
    const result = await invokeOrchestrator(
      findOrchestrator(this.registrationList, inst.name),
      inst,
      inst.history,
      this.replaySettings,
    );
    const decided = result.state ?? result.failedState;
    const actions = decided ? flattenActions(decided.actions) : [];
    return { ...result, signatures: actions.map(actionSignature) };
  }

  /**
   * Every instance as of its last consistent point, JSON-safe: `npm run dev --data-dir` writes it to
   * disk so a restarted stack resumes where it stopped (see importState).
   */
  exportState(): EngineState {
    return { version: 1, instances: [...this.checkpoints.values()] };
  }

  /**
   * Loads instances saved by exportState (before anything was started) and resumes the unfinished
   * ones: pending events are processed, outstanding timers re-armed at their FireAt, and activities
   * that never reported back run again (at least once, as on the real host after a crash).
   */
  importState(state: EngineState): void {
    if (state.version !== 1 || !Array.isArray(state.instances))
      throw new Error('durable state: expected {"version":1,"instances":[...]}');
    const restored = state.instances.map((saved) => restoreInstance(saved));
    for (const inst of restored) {
      this.instances.set(inst.instanceId, inst);
      this.checkpoint(inst);
    }
    for (const inst of restored) {
      if (TERMINAL.has(inst.runtimeStatus)) continue;
      const saved = state.instances.find((s) => s.instanceId === inst.instanceId)!;
      for (const timerId of saved.outstandingTimers) {
        const created = inst.history.find(
          (e) => e.EventType === EventType.TimerCreated && e.EventId === timerId,
        );
        if (created) this.armTimer(inst, timerId, Date.parse(String(created.FireAt)));
      }
      const reported = new Set(
        [...inst.history, ...inst.inbox]
          .filter((e) => e.EventType === EventType.TaskCompleted || e.EventType === EventType.TaskFailed)
          .map((e) => e.TaskScheduledId as number),
      );
      for (const [id, entry] of inst.tasks) {
        if (entry.role === 'attempt' && entry.work.kind === 'activity' && !reported.has(id))
          void this.clock.track(this.runActivity(inst, id, entry.work, inst.generation));
      }
      if (inst.inbox.length > 0) this.pump(inst);
    }
  }

  /** Cancels every timer; later completions are ignored. */
  stop(): void {
    this.stopped = true;
    for (const inst of this.instances.values()) this.cancelTimers(inst);
  }

  // ---- instance lifecycle ------------------------------------------------------------------

  private create(name: string, instanceId: string, input: unknown, parent: ParentLink | undefined): Instance {
    const existing = this.instances.get(instanceId);
    if (existing && !TERMINAL.has(existing.runtimeStatus)) {
      throw new DurableEngineError(
        `An Orchestration instance with the status ${existing.runtimeStatus} already exists.`,
        'AlreadyExists',
      );
    }
    const now = new Date(this.clock.now());
    const inst = newInstance(name, instanceId, input, parent, (existing?.generation ?? 0) + 1, now);
    this.instances.set(instanceId, inst);
    this.enqueue(inst, this.executionStarted(inst), inst.generation);
    this.notify(inst);
    return inst;
  }

  private executionStarted(inst: Instance): HistoryEvent {
    return this.event(EventType.ExecutionStarted, {
      Name: inst.name,
      Input: inst.input === undefined ? undefined : JSON.stringify(inst.input),
      OrchestrationInstance: { InstanceId: inst.instanceId },
      ParentInstance: inst.parent
        ? { OrchestrationInstance: { InstanceId: inst.parent.instanceId } }
        : undefined,
    });
  }

  private enqueue(inst: Instance, event: HistoryEvent, generation: number): void {
    if (this.stopped || inst.generation !== generation || TERMINAL.has(inst.runtimeStatus)) return;
    if (this.instances.get(inst.instanceId) !== inst) return;
    inst.inbox.push(event);
    this.pump(inst);
  }

  private pump(inst: Instance): void {
    if (inst.busy) return;
    inst.busy = true;
    void this.clock.track(this.drain(inst));
  }

  private async drain(inst: Instance): Promise<void> {
    try {
      while (inst.inbox.length > 0 && !TERMINAL.has(inst.runtimeStatus) && !this.stopped) {
        this.checkpoint(inst);
        const batch = this.takeBatch(inst);
        try {
          await this.episode(inst, batch);
        } catch (err) {
          this.fail(inst, `Local durable engine error: ${describeError(err)}`);
        }
      }
    } finally {
      inst.busy = false;
      this.checkpoint(inst);
    }
  }

  /** Records the instance as it is now; called only between episodes, when it is consistent. */
  private checkpoint(inst: Instance): void {
    if (this.instances.get(inst.instanceId) !== inst) return;
    this.checkpoints.set(inst.instanceId, saveInstance(inst));
  }

  /**
   * The next events to append together. An event whose replay makes the library allocate ids
   * (a retried task's failure, a retry or long-timer step firing) goes alone, so those ids come
   * before any the orchestrator's new actions take; other completions batch, as the host batches.
   */
  private takeBatch(inst: Instance): HistoryEvent[] {
    const first = inst.inbox.shift()!;
    const batch = [first];
    if (allocatesIds(inst, first)) return batch;
    while (inst.inbox.length > 0 && !allocatesIds(inst, inst.inbox[0]!)) batch.push(inst.inbox.shift()!);
    return batch;
  }

  /** One orchestrator episode: append [OrchestratorStarted, ...events], replay, schedule new actions. */
  private async episode(inst: Instance, events: HistoryEvent[]): Promise<void> {
    const generation = inst.generation;
    const ts = this.appendEpisode(inst, events);
    const result = await invokeOrchestrator(
      findOrchestrator(this.registrationList, inst.name),
      inst,
      inst.history,
      this.replaySettings,
    );
    if (inst.generation !== generation || TERMINAL.has(inst.runtimeStatus)) return;
    const state = this.acceptAnswer(inst, result);
    if (!state) return;
    const actions = flattenActions(state.actions);
    const mismatch = determinismProblem(inst, actions);
    if (mismatch) {
      this.fail(inst, mismatch);
      return;
    }
    for (const [index, entry] of inst.timersByAction) {
      if (!actions[index]?.isCanceled) continue;
      for (const [id, other] of inst.tasks) if (other === entry) this.cancelTimer(inst, id);
    }
    let continueAsNew: OrchestratorAction | undefined;
    for (let index = inst.actionCount; index < actions.length; index++) {
      const action = actions[index]!;
      inst.signatures.push(actionSignature(action));
      if (action.actionType === ActionType.ContinueAsNew) continueAsNew = action;
      else this.schedule(inst, action, index, ts);
      if (TERMINAL.has(inst.runtimeStatus)) return;
    }
    inst.actionCount = actions.length;
    inst.history.push(this.event(EventType.OrchestratorCompleted, {}, ts));
    inst.lastUpdatedTime = new Date(this.clock.now());

    if (state.isDone) {
      if (continueAsNew) this.continueAsNew(inst, continueAsNew, actions);
      else this.complete(inst, roundTrip(state.output));
    } else {
      this.notify(inst);
    }
  }

  /** Appends OrchestratorStarted and the events at the episode's time (never before the last
   * episode's or a firing timer's), marking the earlier history played; returns that time. */
  private appendEpisode(inst: Instance, events: HistoryEvent[]): number {
    const fireAt = Math.max(
      0,
      ...events.map((e) => (e.EventType === EventType.TimerFired ? Date.parse(String(e.FireAt)) : 0)),
    );
    const lastStart = lastOrchestratorStarted(inst.history);
    const ts = Math.max(this.clock.now(), fireAt, lastStart);
    for (const e of inst.history) e.IsPlayed = true;
    inst.history.push(this.event(EventType.OrchestratorStarted, {}, ts));
    for (const event of events) {
      event.Timestamp = new Date(ts).toISOString();
      inst.history.push(event);
      if (event.EventType === EventType.ExecutionStarted) inst.runtimeStatus = 'Running';
      this.beforeReplay(inst, event, ts);
    }
    return ts;
  }

  /** The orchestrator's state with its custom status taken; the instance failed (undefined) when it
   * threw, answered nothing, or set a custom status over the limit. */
  private acceptAnswer(inst: Instance, result: OrchestratorAnswer): OrchestratorStateLike | undefined {
    const oversized = result.state ? customStatusProblem(result.state.customStatus) : undefined;
    if (oversized) {
      this.fail(inst, `Orchestrator function '${inst.name}' failed: ${oversized}`);
      return undefined;
    }
    if (result.state) inst.customStatus = roundTrip(result.state.customStatus) ?? null;
    if (result.error !== undefined || !result.state) {
      this.fail(
        inst,
        `Orchestrator function '${inst.name}' failed: ${result.error ?? 'no result'}`,
        result.error,
      );
      return undefined;
    }
    return result.state;
  }

  /** Ids the library allocates while replaying `event` itself (retries, long-timer steps). */
  private beforeReplay(inst: Instance, event: HistoryEvent, ts: number): void {
    if (
      event.EventType === EventType.TaskFailed ||
      event.EventType === EventType.SubOrchestrationInstanceFailed
    ) {
      const entry = inst.tasks.get(event.TaskScheduledId as number);
      if (entry?.role !== 'attempt' || !entry.work.retry) return;
      const retry = entry.work.retry;
      retry.failures++;
      const timeout = retry.options.retryTimeoutInMilliseconds;
      const expired = timeout !== undefined && timeout > 0 && ts - retry.firstAttemptAt >= timeout;
      const exhausted = retry.failures >= retry.options.maxNumberOfAttempts;
      // The library waits on one more timer even after the last attempt; it fires at once here.
      const delay = exhausted || expired ? 0 : retryDelayMs(retry.options, retry.failures);
      if (expired) retry.failures = retry.options.maxNumberOfAttempts;
      const timerId = inst.nextId++;
      inst.tasks.set(timerId, { role: 'retryTimer', work: entry.work });
      this.startTimer(inst, timerId, ts + delay);
    } else if (event.EventType === EventType.TimerFired) {
      const timerId = event.TimerId as number;
      const entry = inst.tasks.get(timerId);
      inst.timers.delete(timerId);
      if (entry?.role === 'retryTimer') {
        const retry = entry.work.retry!;
        if (retry.failures < retry.options.maxNumberOfAttempts)
          this.startWork(inst, inst.nextId++, entry.work);
      } else if (entry?.role === 'timer' && entry.long && entry.finalFireAt > ts) {
        const nextId = inst.nextId++;
        inst.tasks.set(nextId, entry);
        this.startTimer(inst, nextId, this.nextLongTimerStep(entry.finalFireAt, ts));
      }
    }
  }

  private schedule(inst: Instance, action: OrchestratorAction, index: number, ts: number): void {
    switch (action.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry:
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry: {
        const work = workFor(action, ts);
        this.startWork(inst, inst.nextId++, work);
        return;
      }
      case ActionType.CreateTimer: {
        const id = inst.nextId++;
        const finalFireAt = new Date(action.fireAt as Date).getTime();
        const long = this.schemaVersion >= 2 && finalFireAt - ts > this.maxShortMs;
        const entry: TaskEntry = { role: 'timer', finalFireAt, long };
        inst.tasks.set(id, entry);
        inst.timersByAction.set(index, entry);
        if (!action.isCanceled)
          this.startTimer(inst, id, long ? this.nextLongTimerStep(finalFireAt, ts) : finalFireAt);
        return;
      }
      case ActionType.WaitForExternalEvent:
        return; // keyed by event name, no sequence id; raiseEvent delivers it
      default:
        this.fail(
          inst,
          `The local durable engine does not support ${ActionTypeName[action.actionType] ?? `action type ${action.actionType}`} ` +
            `(entities and callHttp are not emulated); orchestrator '${inst.name}' cannot run locally.`,
        );
    }
  }

  private nextLongTimerStep(finalFireAt: number, now: number): number {
    return finalFireAt - now > this.maxShortMs ? now + this.longIntervalMs : finalFireAt;
  }

  private startTimer(inst: Instance, timerId: number, fireAt: number): void {
    inst.history.push(
      this.event(EventType.TimerCreated, { EventId: timerId, FireAt: new Date(fireAt).toISOString() }),
    );
    this.armTimer(inst, timerId, fireAt);
  }

  private armTimer(inst: Instance, timerId: number, fireAt: number): void {
    const generation = inst.generation;
    const at = new Date(fireAt).toISOString();
    const handle = this.clock.setTimer(fireAt, () => {
      inst.timers.delete(timerId);
      this.enqueue(inst, this.event(EventType.TimerFired, { TimerId: timerId, FireAt: at }), generation);
    });
    inst.timers.set(timerId, handle);
  }

  private cancelTimer(inst: Instance, timerId: number): void {
    inst.timers.get(timerId)?.cancel();
    inst.timers.delete(timerId);
  }

  private cancelTimers(inst: Instance): void {
    for (const handle of inst.timers.values()) handle.cancel();
    inst.timers.clear();
  }

  private startWork(inst: Instance, id: number, work: Work): void {
    inst.tasks.set(id, { role: 'attempt', work });
    if (work.kind === 'activity') {
      inst.history.push(
        this.event(EventType.TaskScheduled, {
          EventId: id,
          Name: work.name,
          Input: JSON.stringify(work.input),
        }),
      );
      void this.clock.track(this.runActivity(inst, id, work, inst.generation));
    } else {
      this.startSubOrchestration(inst, id, work);
    }
  }

  private async runActivity(inst: Instance, id: number, work: Work, generation: number): Promise<void> {
    const completion = await this.activitySlots.run(() =>
      invokeActivity(this.activityHost, work.name, work.input),
    );
    const event =
      'result' in completion
        ? this.event(EventType.TaskCompleted, { TaskScheduledId: id, Result: completion.result })
        : this.event(EventType.TaskFailed, { TaskScheduledId: id, ...completion.failure });
    this.enqueue(inst, event, generation);
  }

  private startSubOrchestration(inst: Instance, id: number, work: Work): void {
    const childId = work.instanceId ?? `${inst.instanceId}:${id}`;
    inst.history.push(
      this.event(EventType.SubOrchestrationInstanceCreated, {
        EventId: id,
        Name: work.name,
        InstanceId: childId,
        Input: JSON.stringify(work.input),
      }),
    );
    const parent: ParentLink = { instanceId: inst.instanceId, taskId: id, generation: inst.generation };
    try {
      findOrchestrator(this.registrationList, work.name);
      this.create(work.name, childId, work.input, parent);
    } catch (err) {
      const message = describeError(err);
      this.enqueue(
        inst,
        this.event(EventType.SubOrchestrationInstanceFailed, {
          TaskScheduledId: id,
          Reason: message,
          Details: message,
        }),
        inst.generation,
      );
    }
  }

  private continueAsNew(inst: Instance, action: OrchestratorAction, actions: OrchestratorAction[]): void {
    const carried = unconsumedEvents(inst.history, actions);
    inst.history.push(this.event(EventType.ContinueAsNew, { Result: JSON.stringify(action.input) }));
    this.cancelTimers(inst);
    inst.runtimeStatus = 'ContinuedAsNew';
    inst.input = decodeProcessedInput(action.input);
    inst.output = null;
    this.notify(inst);
    inst.generation++;
    inst.history = [];
    inst.nextId = 0;
    inst.actionCount = 0;
    inst.signatures = [];
    inst.timersByAction.clear();
    inst.tasks.clear();
    const pending = inst.inbox.filter((e) => e.EventType === EventType.EventRaised);
    inst.inbox = [];
    this.enqueue(inst, this.executionStarted(inst), inst.generation);
    for (const e of [...carried, ...pending]) this.enqueue(inst, { ...e, IsPlayed: false }, inst.generation);
  }

  private complete(inst: Instance, output: unknown): void {
    inst.history.push(
      this.event(EventType.ExecutionCompleted, {
        OrchestrationStatus: 'Completed',
        Result: JSON.stringify(output === undefined ? null : output),
      }),
    );
    this.finish(inst, 'Completed', output ?? null);
  }

  private fail(inst: Instance, message: string, details?: string): void {
    if (TERMINAL.has(inst.runtimeStatus)) return;
    const text = redactSecrets(message);
    inst.history.push(
      this.event(EventType.ExecutionCompleted, { OrchestrationStatus: 'Failed', Result: text }),
    );
    this.logger('error', `[${inst.name}] instance ${inst.instanceId} failed: ${text}`);
    this.finish(inst, 'Failed', text, { Reason: text, Details: redactSecrets(details ?? text) });
  }

  private finish(
    inst: Instance,
    status: RuntimeStatus,
    output: unknown,
    failure?: { Reason: string; Details: string },
  ): void {
    inst.runtimeStatus = status;
    inst.output = output;
    inst.lastUpdatedTime = new Date(this.clock.now());
    inst.inbox = [];
    this.cancelTimers(inst);
    if (!inst.busy) this.checkpoint(inst);
    const parent = inst.parent && this.instances.get(inst.parent.instanceId);
    if (inst.parent && parent) {
      const event =
        status === 'Completed'
          ? this.event(EventType.SubOrchestrationInstanceCompleted, {
              TaskScheduledId: inst.parent.taskId,
              Result: JSON.stringify(output ?? null),
            })
          : this.event(EventType.SubOrchestrationInstanceFailed, {
              TaskScheduledId: inst.parent.taskId,
              ...failure,
            });
      this.enqueue(parent, event, inst.parent.generation);
    }
    this.notify(inst);
  }

  // ---- helpers -----------------------------------------------------------------------------

  private event(type: number, fields: Record<string, unknown>, at?: number): HistoryEvent {
    return {
      EventType: type,
      EventId: -1,
      IsPlayed: false,
      Timestamp: new Date(at ?? this.clock.now()).toISOString(),
      ...fields,
    };
  }

  private requireInstance(instanceId: string): Instance {
    const inst = this.instances.get(instanceId);
    if (!inst) throw new DurableEngineError(`No instance with ID '${instanceId}' found.`, 'NotFound');
    return inst;
  }

  private notify(inst: Instance): void {
    if (this.listeners.size === 0) return;
    const status = statusOf(inst, true, false);
    for (const listener of [...this.listeners]) listener(status);
  }
}
