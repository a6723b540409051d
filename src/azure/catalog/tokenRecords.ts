// The tokens table: SAS token metadata (expiry, permissions, where the secret is, alerts sent),
// keyed by storage account and token id. The token itself is never stored here.
import {
  compact,
  isoTimestamp,
  nonEmpty,
  oneOf,
  optional,
  RowReader,
  storageAccount,
  wholeNumber,
} from './guards';
import { tableKey } from './keys';
import type { Row } from './transactions';

export type TokenStatus = 'active' | 'rotated' | 'expired' | 'revoked';
export const TOKEN_STATUSES: readonly TokenStatus[] = ['active', 'rotated', 'expired', 'revoked'];

/** SAS token metadata. The token itself lives in the secret store (`secretName`/`secretVersion`). */
export interface TokenRecord {
  storageAccount: string;
  tokenId: string;
  expiresOn: string;
  startsOn?: string;
  /** SAS `sp`, e.g. `racwl`. */
  permissions: string;
  /** Account SAS `ss`, e.g. `b`. */
  services?: string;
  /** Account SAS `srt`, e.g. `sco`. */
  resourceTypes?: string;
  secretName: string;
  secretVersion?: string;
  /** A one-way fingerprint (e.g. SHA-256) that identifies the token without revealing it. */
  fingerprint: string;
  /** The smallest alert threshold (days before expiry) already alerted, for de-duplication. */
  lastAlertThresholdDays?: number;
  lastAlertAt?: string;
  rotatedAt?: string;
  status: TokenStatus;
}

export function tokenKeys(account: string, tokenId: string): { partitionKey: string; rowKey: string } {
  return {
    partitionKey: tableKey(storageAccount('storageAccount', account), 'storageAccount'),
    rowKey: tableKey(nonEmpty('tokenId', tokenId, 256), 'tokenId'),
  };
}

function sasLetters(field: string, value: string, letters: RegExp): string {
  if (typeof value !== 'string' || !letters.test(value)) {
    throw new TypeError(`${field}: expected SAS letters matching ${letters.source}, got "${String(value)}"`);
  }
  return value;
}

export function tokenToRow(t: TokenRecord): Row {
  return compact({
    ...tokenKeys(t.storageAccount, t.tokenId),
    storageAccount: t.storageAccount,
    tokenId: t.tokenId,
    expiresOn: isoTimestamp('expiresOn', t.expiresOn),
    startsOn: optional(t.startsOn, (v) => isoTimestamp('startsOn', v)),
    permissions: sasLetters('permissions', t.permissions, /^[a-z]{1,20}$/),
    services: optional(t.services, (v) => sasLetters('services', v, /^[bfqt]{1,4}$/)),
    resourceTypes: optional(t.resourceTypes, (v) => sasLetters('resourceTypes', v, /^[sco]{1,3}$/)),
    secretName: nonEmpty('secretName', t.secretName, 127),
    secretVersion: optional(t.secretVersion, (v) => nonEmpty('secretVersion', v, 64)),
    fingerprint: nonEmpty('fingerprint', t.fingerprint, 128),
    lastAlertThresholdDays: optional(t.lastAlertThresholdDays, (v) =>
      wholeNumber('lastAlertThresholdDays', v, 0, 999),
    ),
    lastAlertAt: optional(t.lastAlertAt, (v) => isoTimestamp('lastAlertAt', v)),
    rotatedAt: optional(t.rotatedAt, (v) => isoTimestamp('rotatedAt', v)),
    status: oneOf('status', t.status, TOKEN_STATUSES),
  });
}

export function tokenFromRow(row: Record<string, unknown>): TokenRecord {
  const r = new RowReader('tokens', row);
  return compact({
    storageAccount: r.string('storageAccount'),
    tokenId: r.string('tokenId'),
    expiresOn: r.string('expiresOn'),
    startsOn: r.optionalString('startsOn'),
    permissions: r.string('permissions'),
    services: r.optionalString('services'),
    resourceTypes: r.optionalString('resourceTypes'),
    secretName: r.string('secretName'),
    secretVersion: r.optionalString('secretVersion'),
    fingerprint: r.string('fingerprint'),
    lastAlertThresholdDays: r.optionalNumber('lastAlertThresholdDays'),
    lastAlertAt: r.optionalString('lastAlertAt'),
    rotatedAt: r.optionalString('rotatedAt'),
    status: r.oneOf('status', TOKEN_STATUSES),
  });
}
