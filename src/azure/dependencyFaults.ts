// Which failures mean "a service the app depends on did not answer usefully" (storage, Key Vault,
// Cost Management, the network), as opposed to a bug: the HTTP edge answers the first with a
// generic 503 and the second with a 500, and logs the detail of both.
import { isRestError } from '@azure/core-rest-pipeline';

import { CostManagementError } from './armErrors';
import { StorageConnectionError } from './storageClients';

/** A storage or Key Vault call that took longer than its budget (see withTimeout). */
export class DependencyTimeoutError extends Error {
  constructor(
    readonly dependency: string,
    readonly timeoutMs: number,
  ) {
    super(`${dependency} did not answer within ${timeoutMs} ms`);
    this.name = 'DependencyTimeoutError';
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function systemCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

export function isDependencyFailure(error: unknown): boolean {
  if (
    error instanceof DependencyTimeoutError ||
    error instanceof CostManagementError ||
    error instanceof StorageConnectionError ||
    isRestError(error)
  ) {
    return true;
  }
  const code = systemCode(error);
  if (code !== undefined && NETWORK_CODES.has(code)) return true;
  if (error instanceof Error && error.name === 'AbortError') return true;
  const cause = error instanceof Error ? error.cause : undefined;
  return cause !== undefined && cause !== error && isDependencyFailure(cause);
}

/** `work`, or a DependencyTimeoutError after `timeoutMs` (the work is left to its own timeouts). */
export async function withTimeout<T>(work: Promise<T>, timeoutMs: number, dependency: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DependencyTimeoutError(dependency, timeoutMs)), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What a caller may be told about a failed dependency call: the kind of failure, from typed fields
 * (timeout, network code, HTTP status and service code), never the SDK's message, which names hosts,
 * ports and sometimes URLs. The detail belongs in the log.
 */
export function describeDependencyFailure(error: unknown): string {
  if (error instanceof DependencyTimeoutError) return `did not answer within ${error.timeoutMs} ms`;
  if (error instanceof Error && error.name === 'AbortError') return 'did not answer in time';
  if (isRestError(error) && error.statusCode !== undefined) {
    const code =
      typeof error.code === 'string' && /^[A-Za-z]{1,64}$/.test(error.code) ? ` ${error.code}` : '';
    return `answered HTTP ${error.statusCode}${code}`;
  }
  const code = systemCode(error) ?? (error instanceof Error ? systemCode(error.cause) : undefined);
  if (code === 'ECONNREFUSED') return 'refused the connection';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'could not be resolved (DNS)';
  if (code !== undefined && NETWORK_CODES.has(code)) return `dropped the connection (${code})`;
  if (error instanceof StorageConnectionError) return 'is not configured usably (see the app settings)';
  return 'failed';
}
