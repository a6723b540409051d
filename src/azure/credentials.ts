// Who the app is to ARM, and which TLS roots it trusts, from the costManagement settings.
//
// The rule for credentials:
// - A non-loopback endpoint (Azure) always gets DefaultAzureCredential: managed identity in Azure
//   (the user-assigned one named by AZURE_CLIENT_ID when set), developer logins elsewhere.
// - A loopback endpoint (127.0.0.0/8, ::1, localhost: the local Exports emulator) gets a static
//   fake token, because nothing there can validate a real one and no login should be needed.
// - The fake credential refuses to exist for any other endpoint, so a misconfiguration cannot
//   send a made-up token to Azure or a real one to a stray local process.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

import type { AccessToken, TokenCredential } from '@azure/identity';
import { DefaultAzureCredential } from '@azure/identity';

import type { AppConfig, Env } from '../config';

/** The token scope of Azure Resource Manager, whatever endpoint requests actually go to. */
export const ARM_TOKEN_SCOPE = 'https://management.azure.com/.default';

export const LOOPBACK_TOKEN = 'local-emulator-token';

/** True when `endpoint`'s host is a loopback address: 127.0.0.0/8, ::1 or localhost. */
export function isLoopbackEndpoint(endpoint: string): boolean {
  let host: string;
  try {
    host = new URL(endpoint).hostname.toLowerCase();
  } catch {
    return false;
  }
  host = host.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/** A fixed bearer token for the local emulator. Throws for any non-loopback endpoint. */
export class LoopbackTokenCredential implements TokenCredential {
  constructor(endpoint: string) {
    if (!isLoopbackEndpoint(endpoint)) {
      throw new Error(
        `A static token is only for a loopback Cost Management endpoint; ${new URL(endpoint).host} is not one`,
      );
    }
  }
  getToken(): Promise<AccessToken> {
    return Promise.resolve({
      token: LOOPBACK_TOKEN,
      expiresOnTimestamp: Date.now() + 3_600_000,
      tokenType: 'Bearer',
    });
  }
}

/** The credential for `endpoint` by the rule at the top of this file. */
export function createCostManagementCredential(endpoint: string, env: Env = process.env): TokenCredential {
  if (isLoopbackEndpoint(endpoint)) return new LoopbackTokenCredential(endpoint);
  const clientId = env.AZURE_CLIENT_ID?.trim();
  // Passed explicitly (DefaultAzureCredential also reads it) so the choice is visible here.
  return new DefaultAzureCredential(
    clientId ? { managedIdentityClientId: clientId, workloadIdentityClientId: clientId } : {},
  );
}

/** Reads the PEM of an extra CA to trust (the emulator's certificate). Throws naming the setting. */
export function loadCaPem(
  caFile: string,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): string {
  let pem: string;
  try {
    pem = readFile(caFile);
  } catch (error) {
    // Node's fs errors are not always `instanceof Error` across realms (jest); read the code duck-typed.
    const code: unknown =
      typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
    const reason = typeof code === 'string' ? code : 'unreadable';
    throw new Error(`COST_MANAGEMENT_CA_FILE: cannot read "${caFile}" (${reason})`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error(`COST_MANAGEMENT_CA_FILE: "${caFile}" holds no PEM certificate`);
  }
  return pem;
}

/** What the Exports adapter needs to reach ARM (or the emulator). */
export interface CostManagementAccess {
  endpoint: string;
  credential: TokenCredential;
  /** An extra CA to trust on top of Node's bundled roots (the adapter adds them). */
  caPem?: string;
  clientType: string;
}

export function costManagementAccess(
  settings: AppConfig['costManagement'],
  deps: { env?: Env; readFile?: (path: string) => string } = {},
): CostManagementAccess {
  return {
    endpoint: settings.endpoint,
    credential: createCostManagementCredential(settings.endpoint, deps.env),
    ...(settings.caFile ? { caPem: loadCaPem(settings.caFile, deps.readFile) } : {}),
    clientType: settings.clientType,
  };
}
