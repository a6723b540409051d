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
