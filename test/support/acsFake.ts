// A local HTTPS stand-in for Azure Communication Services Email (api-version 2025-09-01), enough for
// @azure/communication-email's beginSend + poller: POST /emails:send answers 202 with an
// Operation-Location; GET /emails/operations/{id} answers Running, then the scripted outcome.
// Built on the scriptable HTTPS fake, so every request (and its bearer token) is recorded.
import { randomUUID } from 'node:crypto';

import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';

import { type FakeResponse, type HttpsFake, type RecordedRequest, startHttpsFake } from './httpsFake';

export type AcsOutcome =
  /** The operation reaches Succeeded after `runningPolls` Running answers. */
  | { kind: 'succeed' }
  /** The operation reaches Failed with this error. */
  | { kind: 'fail'; code: string; message: string }
  /** The send itself is refused with this HTTP status. */
  | { kind: 'reject'; status: number; code: string; message: string };

export interface AcsSentEmail {
  operationId: string;
  senderAddress: string;
  subject: string;
  plainText?: string;
  html?: string;
  to: string[];
  authorization?: string;
}

export interface AcsFake {
  /** `https://127.0.0.1:{port}`: the ACS endpoint. */
  url: string;
  caPem: string;
  /** Messages accepted by POST /emails:send, oldest first (also those whose operation later failed). */
  sent: AcsSentEmail[];
  requests: RecordedRequest[];
  /** What the next sends come to (default succeed). */
  setOutcome(outcome: AcsOutcome): void;
  /** Running answers before the terminal one (default 1). */
  runningPolls: number;
  close(): Promise<void>;
}

interface Operation {
  id: string;
  polls: number;
  outcome: AcsOutcome;
}

export async function startAcsFake(): Promise<AcsFake> {
  const fake: HttpsFake = await startHttpsFake();
  const operations = new Map<string, Operation>();
  const sent: AcsSentEmail[] = [];
  let outcome: AcsOutcome = { kind: 'succeed' };
  const state = { runningPolls: 1 };

  const handler = (request: RecordedRequest): FakeResponse => {
    if (request.method === 'POST' && request.path === '/emails:send') {
      if (outcome.kind === 'reject') {
        return { status: outcome.status, body: { error: { code: outcome.code, message: outcome.message } } };
      }
      const body = JSON.parse(request.body) as {
        senderAddress: string;
        content: { subject: string; plainText?: string; html?: string };
        recipients: { to: { address: string }[] };
      };
      const id = request.headers['operation-id']?.toString() ?? randomUUID();
      operations.set(id, { id, polls: 0, outcome });
      sent.push({
        operationId: id,
        senderAddress: body.senderAddress,
        subject: body.content.subject,
        ...(body.content.plainText !== undefined ? { plainText: body.content.plainText } : {}),
        ...(body.content.html !== undefined ? { html: body.content.html } : {}),
        to: body.recipients.to.map((r) => r.address),
        ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
      });
      const apiVersion = request.query.get('api-version') ?? '';
      return {
        status: 202,
        headers: { 'Operation-Location': `${fake.url}/emails/operations/${id}?api-version=${apiVersion}` },
        body: { id, status: 'Running' },
      };
    }
    const match = /^\/emails\/operations\/([^/]+)$/.exec(request.path);
    if (request.method === 'GET' && match) {
      const operation = operations.get(decodeURIComponent(match[1]!));
      if (!operation)
        return { status: 404, body: { error: { code: 'NotFound', message: 'no such operation' } } };
      operation.polls += 1;
      if (operation.polls <= state.runningPolls)
        return { status: 200, body: { id: operation.id, status: 'Running' } };
      if (operation.outcome.kind === 'fail') {
        return {
          status: 200,
          body: {
            id: operation.id,
            status: 'Failed',
            error: { code: operation.outcome.code, message: operation.outcome.message },
          },
        };
      }
      return { status: 200, body: { id: operation.id, status: 'Succeeded' } };
    }
    return {
      status: 404,
      body: { error: { code: 'NotFound', message: `${request.method} ${request.path}` } },
    };
  };
  fake.setDefault(handler);

  return {
    url: fake.url,
    caPem: fake.caPem,
    sent,
    requests: fake.requests,
    setOutcome: (next) => {
      outcome = next;
    },
    get runningPolls() {
      return state.runningPolls;
    },
    set runningPolls(value: number) {
      state.runningPolls = value;
    },
    close: () => fake.close(),
  };
}

/** A TokenCredential that hands out a fixed token and records the scopes asked for. */
export class RecordingCredential implements TokenCredential {
  readonly scopes: string[][] = [];
  constructor(private readonly token = 'fake-acs-token') {}
  getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
    this.scopes.push(Array.isArray(scopes) ? scopes : [scopes]);
    return Promise.resolve({
      token: this.token,
      expiresOnTimestamp: Date.now() + 3_600_000,
      tokenType: 'Bearer',
    });
  }
}
