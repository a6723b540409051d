// The local host's functions by trigger: HTTP functions (compiled routes, most specific first),
// timer runners and blob functions with their watchers. Activities and orchestrators belong to the
// durable engine; any other trigger is reported as not served.
import type { InvocationContext, Timer } from '@azure/functions';

import { type BlobDelivery, BlobTriggerWatcher } from './blobTriggers';
import type { Clock } from './clock';
import type { CapturedRegistration } from './functionsCoreStub';
import { type CompiledRoute, compileRoute } from './httpRoutes';
import { describeError, type HostLogger } from './invocation';
import type { HostEnv } from './settings';
import { TimerTriggerRunner } from './timerTriggers';

export interface HttpFunction {
  registration: CapturedRegistration;
  route: CompiledRoute;
  methods: string[];
  authLevel: string;
}

export interface FunctionIndex {
  http: HttpFunction[];
  timers: Map<string, TimerTriggerRunner>;
  blobs: Map<string, CapturedRegistration>;
  watchers: BlobTriggerWatcher[];
}

export type ContextFor = (
  registration: CapturedRegistration,
  triggerMetadata?: Record<string, unknown>,
) => InvocationContext;

export interface IndexDeps {
  env: HostEnv;
  clock: Clock;
  logger: HostLogger;
  contextFor: ContextFor;
  startBlobWatchers: boolean;
  blobPollIntervalMs: number;
  processExistingBlobs: boolean;
}

/** Runs a non-HTTP handler on the clock (so tests can wait for it), logging a failure. */
async function runHandler(
  deps: IndexDeps,
  registration: CapturedRegistration,
  call: () => unknown,
): Promise<unknown> {
  try {
    return await deps.clock.track(Promise.resolve().then(call));
  } catch (err) {
    deps.logger('error', `[${registration.name}] failed: ${describeError(err)}`);
    throw err;
  }
}

/** Delivers one blob to a blob function, with the host's trigger metadata. */
export function invokeBlobDelivery(
  deps: IndexDeps,
  registration: CapturedRegistration,
  d: BlobDelivery,
): Promise<unknown> {
  return runHandler(deps, registration, () =>
    registration.handler(
      d.content,
      deps.contextFor(registration, {
        ...d.params,
        blobTrigger: d.blobPath,
        uri: d.uri,
        properties: d.properties,
        metadata: d.metadata,
      }),
    ),
  );
}

function httpFunction(registration: CapturedRegistration): HttpFunction {
  const trigger = registration.trigger;
  const route = typeof trigger.route === 'string' ? trigger.route : registration.name;
  const methods = Array.isArray(trigger.methods)
    ? (trigger.methods as string[]).map((m) => m.toUpperCase())
    : [];
  return {
    registration,
    route: compileRoute(route),
    methods,
    authLevel: typeof trigger.authLevel === 'string' ? trigger.authLevel.toLowerCase() : 'anonymous',
  };
}

export function indexFunctions(
  registrations: readonly CapturedRegistration[],
  deps: IndexDeps,
): FunctionIndex {
  const index: FunctionIndex = { http: [], timers: new Map(), blobs: new Map(), watchers: [] };
  const invokeTimer = (registration: CapturedRegistration, timer: Timer) =>
    runHandler(deps, registration, () => registration.handler(timer, deps.contextFor(registration)));
  const invokeBlob = (registration: CapturedRegistration, d: BlobDelivery) =>
    invokeBlobDelivery(deps, registration, d);
  for (const registration of registrations) {
    const type = registration.trigger.type;
    if (type === 'httpTrigger') {
      index.http.push(httpFunction(registration));
    } else if (type === 'timerTrigger') {
      index.timers.set(
        registration.name,
        new TimerTriggerRunner(registration, deps.env, deps.clock, invokeTimer),
      );
    } else if (type === 'blobTrigger') {
      index.blobs.set(registration.name, registration);
      if (deps.startBlobWatchers) {
        index.watchers.push(
          new BlobTriggerWatcher(registration, deps.env, deps.clock, invokeBlob, {
            pollIntervalMs: deps.blobPollIntervalMs,
            processExisting: deps.processExistingBlobs,
            logger: deps.logger,
          }),
        );
      }
    } else if (type !== 'activityTrigger' && type !== 'orchestrationTrigger') {
      deps.logger('warn', `[${registration.name}] ${type} is not served by the local host`);
    }
  }
  index.http.sort((a, b) => b.route.specificity - a.route.specificity);
  return index;
}
