// A small scriptable HTTPS server on 127.0.0.1 for adapter tests: it records every request and
// answers from a queue of scripted responses (then from a default handler). HTTPS because the
// Azure SDK's bearer-token policy refuses plain http; clients trust `caPem` explicitly.
import type { IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';

import type { LoopbackCertificate } from '../../dev/tls';
import { createLoopbackCertificate } from '../../dev/tls';

export interface RecordedRequest {
  method: string;
  /** Path without the query, as sent (not decoded). */
  path: string;
  query: URLSearchParams;
  /** Header names lower-cased, as Node delivers them. */
  headers: IncomingHttpHeaders;
  body: string;
}

export interface FakeResponse {
  status: number;
  headers?: Record<string, string>;
  /** A string is sent as is (e.g. malformed JSON); anything else as JSON. */
  body?: unknown;
}

export type FakeHandler = (request: RecordedRequest) => FakeResponse | Promise<FakeResponse>;

export interface HttpsFake {
  /** `https://127.0.0.1:{port}` */
  url: string;
  /** The self-signed certificate to trust. */
  caPem: string;
  /** Every request received, oldest first. */
  requests: RecordedRequest[];
  /** Queues answers for the next requests, in order. */
  enqueue(...responses: (FakeResponse | FakeHandler)[]): void;
  /** Answers once the queue is empty (default: 500 "unscripted request"). */
  setDefault(handler: FakeResponse | FakeHandler): void;
  /** Clears requests, queue and default. */
  reset(): void;
  close(): Promise<void>;
}

const UNSCRIPTED: FakeHandler = (r) => ({
  status: 500,
  body: { error: { code: 'Unscripted', message: `no scripted response for ${r.method} ${r.path}` } },
});

export async function startHttpsFake(certificate?: LoopbackCertificate): Promise<HttpsFake> {
  const { cert, key } = certificate ?? (await createLoopbackCertificate());
  const requests: RecordedRequest[] = [];
  const queue: (FakeResponse | FakeHandler)[] = [];
  let fallback: FakeResponse | FakeHandler = UNSCRIPTED;

  const server = createServer({ cert, key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: (req.url ?? '/').split('?')[0]!,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      const next = queue.shift() ?? fallback;
      Promise.resolve(typeof next === 'function' ? next(recorded) : next)
        .then((answer) => {
          const text =
            answer.body === undefined
              ? ''
              : typeof answer.body === 'string'
                ? answer.body
                : JSON.stringify(answer.body);
          res.writeHead(answer.status, {
            ...(text ? { 'Content-Type': 'application/json; charset=utf-8' } : {}),
            'Content-Length': Buffer.byteLength(text),
            ...answer.headers,
          });
          res.end(text);
        })
        .catch((error: unknown) => {
          res.writeHead(500);
          res.end(String(error));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `https://127.0.0.1:${port}`,
    caPem: cert,
    requests,
    enqueue: (...responses) => queue.push(...responses),
    setDefault: (handler) => {
      fallback = handler;
    },
    reset: () => {
      requests.length = 0;
      queue.length = 0;
      fallback = UNSCRIPTED;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
