// The SAS token a backfill relies on: a SAS destination needs a registered, active token that does not
// expire before the backfill can finish. Reads token metadata only; the secret itself is fetched by
// the activity that writes the export (services/backfillActivities.ts).
import type { TokenRecord } from '../azure/catalog';
import type { BackfillDestination } from '../domain/contracts';
import type { FieldError } from '../domain/fieldError';
import type { ParsedBackfill } from './backfillRequest';

/** A generous per-run allowance (Cost Management usually lands a month in minutes; retries and
 * queueing can take hours) used to decide whether a token outlives the backfill. */
export const ESTIMATED_MINUTES_PER_RUN = 60;

/** How long the backfill should take: waves of `concurrency` runs, an hour each, plus an hour. */
export function estimateBackfillMs(chunks: number, concurrency: number): number {
  return (Math.ceil(chunks / Math.max(1, concurrency)) + 1) * ESTIMATED_MINUTES_PER_RUN * 60_000;
}

export interface TokenMetadataReader {
  getToken(storageAccount: string, tokenId: string): Promise<TokenRecord | undefined>;
  listTokens(storageAccount: string): AsyncIterable<TokenRecord>;
}

/** The active token of an account with the latest expiry. */
export async function activeToken(
  tokens: TokenMetadataReader,
  account: string,
): Promise<TokenRecord | undefined> {
  let best: TokenRecord | undefined;
  for await (const token of tokens.listTokens(account)) {
    if (token.status !== 'active') continue;
    if (!best || Date.parse(token.expiresOn) > Date.parse(best.expiresOn)) best = token;
  }
  return best;
}

/**
 * A SAS destination needs a registered, active token that does not expire before the backfill can
 * finish. Returns the token id to use, or the problems. Resource-id destinations pass unchanged.
 */
export async function checkBackfillToken(
  parsed: ParsedBackfill,
  tokens: TokenMetadataReader,
  now: Date,
): Promise<{ ok: true; destination: BackfillDestination } | { ok: false; errors: FieldError[] }> {
  const d = parsed.request.destination;
  if ('resourceId' in d) return { ok: true, destination: d };
  let token: TokenRecord | undefined;
  if (d.tokenId) {
    token = await tokens.getToken(d.storageAccount, d.tokenId);
    if (!token) {
      return fail(
        'destination.tokenId',
        `token "${d.tokenId}" is not registered for storage account ${d.storageAccount}`,
      );
    }
    if (token.status !== 'active')
      return fail('destination.tokenId', `token "${d.tokenId}" is ${token.status}, not active`);
  } else {
    token = await activeToken(tokens, d.storageAccount);
    if (!token) {
      return fail(
        'destination.storageAccount',
        `no active SAS token is registered for storage account ${d.storageAccount}; register one with POST /api/tokens`,
      );
    }
  }
  const chunks = parsed.windows.length * parsed.request.datasets.length;
  const finishBy = now.getTime() + estimateBackfillMs(chunks, parsed.request.concurrency);
  const expires = Date.parse(token.expiresOn);
  if (!Number.isFinite(expires) || expires < finishBy) {
    return fail(
      d.tokenId ? 'destination.tokenId' : 'destination.storageAccount',
      `the SAS token "${token.tokenId}" expires ${token.expiresOn}, before the backfill can finish ` +
        `(${chunks} runs at concurrency ${parsed.request.concurrency}: allow until ${new Date(finishBy).toISOString()}); rotate it first`,
    );
  }
  const { tokenId: _ignored, ...rest } = d;
  return { ok: true, destination: { ...rest, tokenId: token.tokenId } };
}

function fail(field: string, message: string): { ok: false; errors: FieldError[] } {
  return { ok: false, errors: [{ field, message }] };
}
