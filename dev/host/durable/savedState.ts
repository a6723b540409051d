// The engine's instances as JSON (exportState / importState, kept in a file by stateFile.ts): an
// Instance minus its live timer handles, shared Work objects stored once.
import { type HistoryEvent, roundTrip } from './history';
import type { Instance, ParentLink, RuntimeStatus, TaskEntry, Work } from './instance';

/** One instance as exportState saves it: the Instance minus live handles, with shared objects
 * (a task's Work is shared by its attempts and retry timers) stored once and referred to by index. */
export interface SavedInstance {
  instanceId: string;
  name: string;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  runtimeStatus: RuntimeStatus;
  createdTime: string;
  lastUpdatedTime: string;
  history: HistoryEvent[];
  parent?: ParentLink;
  generation: number;
  inbox: HistoryEvent[];
  nextId: number;
  actionCount: number;
  signatures: string[];
  works: Work[];
  tasks: [number, { role: 'attempt' | 'retryTimer'; work: number } | Extract<TaskEntry, { role: 'timer' }>][];
  /** Flattened action index → the first task id holding that timer entry. */
  timersByAction: [number, number][];
  outstandingTimers: number[];
}

export interface EngineState {
  version: 1;
  instances: SavedInstance[];
}

export function saveInstance(inst: Instance): SavedInstance {
  const works: Work[] = [];
  const workIndex = (work: Work) => {
    const at = works.indexOf(work);
    return at >= 0 ? at : works.push(work) - 1;
  };
  const tasks: SavedInstance['tasks'] = [...inst.tasks].map(([id, entry]) => [
    id,
    entry.role === 'timer' ? { ...entry } : { role: entry.role, work: workIndex(entry.work) },
  ]);
  const timersByAction: [number, number][] = [];
  for (const [index, entry] of inst.timersByAction) {
    const id = [...inst.tasks].find(([, e]) => e === entry)?.[0];
    if (id !== undefined) timersByAction.push([index, id]);
  }
  return roundTrip({
    instanceId: inst.instanceId,
    name: inst.name,
    input: inst.input,
    output: inst.output,
    customStatus: inst.customStatus,
    runtimeStatus: inst.runtimeStatus,
    createdTime: inst.createdTime.toISOString(),
    lastUpdatedTime: inst.lastUpdatedTime.toISOString(),
    history: inst.history,
    ...(inst.parent ? { parent: inst.parent } : {}),
    generation: inst.generation,
    inbox: inst.inbox,
    nextId: inst.nextId,
    actionCount: inst.actionCount,
    signatures: inst.signatures,
    works,
    tasks,
    timersByAction,
    outstandingTimers: [...inst.timers.keys()],
  }) as SavedInstance;
}

export function restoreInstance(saved: SavedInstance): Instance {
  const tasks = new Map<number, TaskEntry>();
  for (const [id, entry] of saved.tasks) {
    tasks.set(
      id,
      entry.role === 'timer' ? { ...entry } : { role: entry.role, work: saved.works[entry.work]! },
    );
  }
  const timersByAction = new Map<number, TaskEntry>();
  for (const [index, id] of saved.timersByAction) {
    const entry = tasks.get(id);
    if (entry) timersByAction.set(index, entry);
  }
  return {
    instanceId: saved.instanceId,
    name: saved.name,
    input: saved.input,
    output: saved.output,
    customStatus: saved.customStatus,
    runtimeStatus: saved.runtimeStatus,
    createdTime: new Date(saved.createdTime),
    lastUpdatedTime: new Date(saved.lastUpdatedTime),
    history: saved.history,
    ...(saved.parent ? { parent: saved.parent } : {}),
    generation: saved.generation,
    inbox: saved.inbox,
    busy: false,
    nextId: saved.nextId,
    actionCount: saved.actionCount,
    signatures: saved.signatures,
    timersByAction,
    tasks,
    timers: new Map(),
  };
}
