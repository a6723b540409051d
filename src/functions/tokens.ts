// SAS token endpoints (a function key, or an Entra role with AUTH_MODE=entra):
//   POST /api/tokens                           { storageAccount, container, sasToken } → 201 metadata
//   POST /api/tokens/{storageAccount}/rotate   { sasToken, container? } → per-export results
//   GET  /api/tokens                           metadata and days left of every token
// Thin: parse, call services/tokens.ts, shape the answer. Bodies and logs never carry the token: errors
// are answered from TokenRequestError (built from redacting parsers) or, through the HTTP edge
// (./http.ts), as a generic 500/503 with a redacted log line.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';

import { appService } from '../services/appServices';
import {
  listTokens,
  parseRegisterRequest,
  parseRotateRequest,
  registerToken,
  rotateToken,
  TokenRequestError,
} from '../services/tokens';
import { logEvent } from './eventLog';
import { HttpError, httpHandler, readJsonBody, routeAuthLevel } from './http';

export const REGISTER_TOKEN_FUNCTION = 'registerToken';
export const ROTATE_TOKEN_FUNCTION = 'rotateToken';
export const LIST_TOKENS_FUNCTION = 'listTokens';

/** TokenRequestError (a request the caller can fix) answers in the one error shape. */
async function answer(work: () => Promise<HttpResponseInit>): Promise<HttpResponseInit> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof TokenRequestError) {
      throw new HttpError(error.status, error.code, error.message, error.fields, { ...error.details });
    }
    throw error;
  }
}

export async function registerTokenHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return answer(async () => {
    const input = parseRegisterRequest(await readJsonBody(request, { optional: true }));
    const token = await registerToken(await appService('tokens'), input);
    logEvent(context, 'info', 'token.registered', {
      storageAccount: token.storageAccount,
      fingerprint: token.fingerprint,
      expiresOn: token.expiresOn,
    });
    return { status: 201, jsonBody: { token } };
  });
}

export async function rotateTokenHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return answer(async () => {
    const input = parseRotateRequest(
      request.params.storageAccount,
      await readJsonBody(request, { optional: true }),
    );
    const outcome = await rotateToken(await appService('tokens'), input);
    logEvent(context, outcome.failed > 0 ? 'warn' : 'info', 'token.rotated', {
      storageAccount: input.storageAccount,
      fingerprint: outcome.token.fingerprint,
      updated: outcome.updated,
      failed: outcome.failed,
    });
    for (const r of outcome.results.filter((x) => x.status === 'failed')) {
      logEvent(context, 'warn', 'token.rotation.failed', {
        storageAccount: input.storageAccount,
        exportName: r.exportName,
        scope: r.scope,
        error: `still carries the old token: ${r.error ?? 'unknown error'}`,
      });
    }
    return { status: outcome.failed > 0 ? 207 : 200, jsonBody: outcome };
  });
}

export async function listTokensHandler(
  _request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  return answer(async () => ({
    status: 200,
    jsonBody: { tokens: await listTokens(await appService('tokens')) },
  }));
}

app.http(REGISTER_TOKEN_FUNCTION, {
  route: 'tokens',
  methods: ['POST'],
  authLevel: routeAuthLevel(),
  handler: httpHandler('token registration', registerTokenHandler),
});

app.http(ROTATE_TOKEN_FUNCTION, {
  route: 'tokens/{storageAccount}/rotate',
  methods: ['POST'],
  authLevel: routeAuthLevel(),
  handler: httpHandler('token rotation', rotateTokenHandler),
});

app.http(LIST_TOKENS_FUNCTION, {
  route: 'tokens',
  methods: ['GET'],
  authLevel: routeAuthLevel(),
  handler: httpHandler('token listing', listTokensHandler),
});
