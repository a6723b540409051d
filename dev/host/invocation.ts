// Builds the InvocationContext the Node worker would hand a function: options from the captured
// binding metadata (as @azure/functions' fromRpcBindings does), extra inputs the host injects
// (durable client binding data), trigger metadata, and a log handler that redacts secrets.
import { randomUUID } from 'node:crypto';

import { InvocationContext, type LogLevel } from '@azure/functions';

import { redactSecrets } from '../../src/domain/redact';
import type { CapturedBinding, CapturedRegistration } from './functionsCoreStub';

export type HostLogLevel = 'debug' | 'info' | 'warn' | 'error';
/** Where the host's own messages and the functions' `context.log` output go. */
export type HostLogger = (level: HostLogLevel, message: string) => void;

export const consoleLogger: HostLogger = (level, message) => {
  const line = redactSecrets(message);
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
};

export const silentLogger: HostLogger = () => undefined;

/** Supplies values for a function's non-trigger input bindings (e.g. durableClient). */
export type ExtraInputProvider = (binding: CapturedBinding & { name: string }) => unknown;

export interface ContextInit {
  triggerMetadata?: Record<string, unknown>;
  extraInputs?: ExtraInputProvider;
  logger?: HostLogger;
  invocationId?: string;
}

interface NamedBinding extends CapturedBinding {
  name: string;
}

/** The `options` an InvocationContext carries: bindings split into trigger / return / extra in / extra out. */
export function bindingOptions(registration: CapturedRegistration): {
  trigger: NamedBinding;
  return?: NamedBinding;
  extraInputs: NamedBinding[];
  extraOutputs: NamedBinding[];
} {
  let trigger: NamedBinding | undefined;
  let ret: NamedBinding | undefined;
  const extraInputs: NamedBinding[] = [];
  const extraOutputs: NamedBinding[] = [];
  for (const [name, binding] of Object.entries(registration.bindings)) {
    const named = { ...binding, name };
    if (/trigger$/i.test(binding.type)) trigger = named;
    else if (name === '$return') ret = named;
    else if (binding.direction === 'in') extraInputs.push(named);
    else if (binding.direction === 'out') extraOutputs.push(named);
  }
  if (!trigger) throw new Error(`Function "${registration.name}" has no trigger binding`);
  return { trigger, return: ret, extraInputs, extraOutputs };
}

const LEVELS: Record<LogLevel, HostLogLevel> = {
  trace: 'debug',
  debug: 'debug',
  information: 'info',
  warning: 'warn',
  error: 'error',
  critical: 'error',
  none: 'debug',
};

export function formatLogArgs(args: unknown[]): string {
  return args
    .map((a) => {
      if (typeof a === 'string') return a;
      if (a instanceof Error) return `${a.name}: ${a.message}`;
      try {
        return JSON.stringify(a);
      } catch {
        return String(a);
      }
    })
    .join(' ');
}

export function createInvocationContext(
  registration: CapturedRegistration,
  init: ContextInit = {},
): InvocationContext {
  const options = bindingOptions(registration);
  const logger = init.logger ?? consoleLogger;
  const context = new InvocationContext({
    invocationId: init.invocationId ?? randomUUID(),
    functionName: registration.name,
    triggerMetadata: init.triggerMetadata,
    options,
    logHandler: (level, ...args) =>
      logger(LEVELS[level] ?? 'info', `[${registration.name}] ${formatLogArgs(args)}`),
  });
  for (const binding of options.extraInputs) {
    const value = init.extraInputs?.(binding);
    if (value !== undefined) context.extraInputs.set(binding.name, value);
  }
  return context;
}

/** Error text safe for logs and HTTP bodies: message only, secrets redacted. */
export function describeError(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return redactSecrets(text);
}
