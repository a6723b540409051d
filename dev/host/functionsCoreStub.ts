// Stand-in for `@azure/functions-core`, the module only the Functions host's Node worker provides.
// With it in place, `app.*` calls register for real (instead of @azure/functions' silent "test mode"),
// so tests and the local host see the exact binding metadata and handlers the host would.
// Jest maps the module name here (jest.config.js); the local host installs it with installFunctionsCoreStub().

export interface CapturedBinding {
  type: string;
  direction: 'in' | 'out' | 'inout';
  [option: string]: unknown;
}

export interface CapturedRegistration {
  name: string;
  bindings: Record<string, CapturedBinding>;
  retryOptions?: unknown;
  /** The handler exactly as the worker would receive it (durable-functions wraps orchestrators). */
  handler: (...args: unknown[]) => unknown;
  /** The trigger binding (the one whose type ends in "Trigger"). */
  trigger: CapturedBinding;
}

export const registrations: CapturedRegistration[] = [];
export const hooks: { name: string; callback: (...args: unknown[]) => unknown }[] = [];
let programmingModel: unknown;

export function setProgrammingModel(model: unknown): void {
  programmingModel = model;
}

export function getProgrammingModel(): unknown {
  return programmingModel;
}

export function registerFunction(
  metadata: { name: string; bindings: Record<string, CapturedBinding>; retryOptions?: unknown },
  handler: (...args: unknown[]) => unknown,
): { dispose(): void } {
  if (registrations.some((r) => r.name === metadata.name)) {
    throw new Error(`A function named "${metadata.name}" is already registered`);
  }
  const trigger = Object.values(metadata.bindings).find((b) => b.type.endsWith('Trigger'));
  if (!trigger) throw new Error(`Function "${metadata.name}" has no trigger binding`);
  const registration: CapturedRegistration = { ...metadata, handler, trigger };
  registrations.push(registration);
  return { dispose: () => void registrations.splice(registrations.indexOf(registration), 1) };
}

export function registerHook(name: string, callback: (...args: unknown[]) => unknown): { dispose(): void } {
  const hook = { name, callback };
  hooks.push(hook);
  return { dispose: () => void hooks.splice(hooks.indexOf(hook), 1) };
}

export function findRegistration(name: string): CapturedRegistration {
  const found = registrations.find((r) => r.name === name);
  if (!found) {
    const known = registrations.map((r) => r.name).join(', ') || '(none)';
    throw new Error(`No function named "${name}" was registered; registered: ${known}`);
  }
  return found;
}
