// Times every function invocation the local host makes, as the Functions host does for its
// `functionTimeout` (and Application Insights' request duration): from the handler's call until its
// promise settles. HTTP, timer and blob triggers, activities and orchestrator episodes (one replay
// of the generator) each count as one invocation. Wall time on the real clock, also under a
// VirtualClock: it measures the work, not the simulated schedule.
import { performance } from 'node:perf_hooks';

import type { CapturedRegistration } from './functionsCoreStub';

export interface InvocationTiming {
  functionName: string;
  /** The trigger binding's type, e.g. `timerTrigger`, `activityTrigger`, `orchestrationTrigger`. */
  trigger: string;
  ms: number;
  /** The handler threw or its promise rejected. */
  failed: boolean;
}

export type InvocationObserver = (timing: InvocationTiming) => void;

/** Copies of `registrations` whose handlers report each invocation to `observe` (unchanged without one). */
export function timedRegistrations(
  registrations: readonly CapturedRegistration[],
  observe: InvocationObserver | undefined,
): readonly CapturedRegistration[] {
  if (!observe) return registrations;
  return registrations.map((registration) => ({
    ...registration,
    handler: async (...args: unknown[]) => {
      const started = performance.now();
      let failed = false;
      try {
        return await registration.handler(...args);
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        observe({
          functionName: registration.name,
          trigger: registration.trigger.type,
          ms: performance.now() - started,
          failed,
        });
      }
    },
  }));
}
