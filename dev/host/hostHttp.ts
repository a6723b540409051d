// What the local host answers over HTTP: the Durable HTTP API, `POST /admin/functions/{name}`
// (run a timer, poll a blob function's container) and the HTTP functions under the route prefix,
// with the host's URL and body limits and its keys (see localHost.ts).
import type http from 'node:http';

import { HttpRequest, HttpResponse, type HttpResponseInit } from '@azure/functions';

import type { DurableEngine } from './durable/engine';
import {
  type DurableApiSettings,
  handleDurableApiRequest,
  isDurableApiPath,
  readBytes,
} from './durable/httpApi';
import type { ContextFor, FunctionIndex, HttpFunction } from './functionIndex';
import { MAX_REQUEST_BODY_BYTES, MAX_URL_BYTES, readBodyWithinLimit, urlTooLong } from './httpLimits';
import { matchRoute } from './httpRoutes';
import { describeError, type HostLogger } from './invocation';

export interface HostHttpDeps {
  engine: DurableEngine;
  index: FunctionIndex;
  contextFor: ContextFor;
  logger: HostLogger;
  /** Without a leading or trailing slash; '' serves functions at the root. */
  routePrefix: string;
  functionKey: string;
  requireKeys: boolean;
  /** Known once the server listens (its URLs need the port). */
  durable: () => DurableApiSettings;
}

export class HostHttp {
  constructor(private readonly deps: HostHttpDeps) {}

  async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (urlTooLong(req.url))
      return sendText(res, 414, `URI Too Long (the host allows ${MAX_URL_BYTES} bytes)`);
    const durable = this.deps.durable();
    const url = new URL(req.url ?? '/', durable.origin);
    if (isDurableApiPath(url.pathname)) return handleDurableApiRequest(this.deps.engine, durable, req, res);
    if (url.pathname.startsWith('/admin/functions/') && req.method === 'POST')
      return this.serveAdmin(req, res, url);
    const routePrefix = this.deps.routePrefix;
    const prefix = routePrefix ? `/${routePrefix}` : '';
    const lowerPath = url.pathname.toLowerCase();
    if (prefix && lowerPath !== prefix && !lowerPath.startsWith(`${prefix}/`))
      return sendText(res, 404, 'Not Found');
    const path = url.pathname.slice(prefix.length);
    const method = (req.method ?? 'GET').toUpperCase();
    for (const fn of this.deps.index.http) {
      if (fn.methods.length > 0 && !fn.methods.includes(method)) continue;
      const params = matchRoute(fn.route, path);
      if (!params) continue;
      const denied = this.checkKey(fn.authLevel, req, url);
      if (denied) return sendText(res, 401, denied);
      return this.invokeHttp(fn, req, res, url, params);
    }
    return sendText(res, 404, 'Not Found');
  }

  /** Why the request is refused at this auth level, or undefined if it is let in. */
  private checkKey(authLevel: string, req: http.IncomingMessage, url: URL): string | undefined {
    if (authLevel === 'anonymous') return undefined;
    const header = req.headers['x-functions-key'];
    const key = url.searchParams.get('code') ?? (Array.isArray(header) ? header[0] : header);
    if (key === undefined || key === '')
      return this.deps.requireKeys ? `This function needs a key (authLevel ${authLevel})` : undefined;
    return key === this.deps.functionKey ? undefined : 'The key is not valid for this host';
  }

  private async invokeHttp(
    fn: HttpFunction,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    params: Record<string, string>,
  ): Promise<void> {
    const read = await readBodyWithinLimit(req);
    if (read.kind === 'tooLarge')
      return sendText(res, 413, `Payload Too Large (the host allows ${MAX_REQUEST_BODY_BYTES} bytes)`);
    const body = read.body;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const request = new HttpRequest({
      method: req.method ?? 'GET',
      url: url.toString(),
      headers,
      params,
      body: body.length > 0 ? { bytes: body } : undefined,
    });
    const context = this.deps.contextFor(fn.registration);
    let result: unknown;
    try {
      result = await fn.registration.handler(request, context);
    } catch (err) {
      this.deps.logger(
        'error',
        `[${fn.registration.name}] ${request.method} ${redactUrl(url.pathname)} failed: ${describeError(err)}`,
      );
      return sendText(res, 500, 'Internal Server Error');
    }
    if (result === undefined) {
      const out = Object.entries(fn.registration.bindings).find(
        ([n, b]) => b.type === 'http' && n !== '$return',
      );
      result = out ? context.extraOutputs.get(out[0]) : undefined;
    }
    if (result === undefined || result === null) {
      res.writeHead(204);
      res.end();
      return;
    }
    await writeHttpResponse(res, result);
  }

  /** `POST /admin/functions/{name}`: starts a timer function, or polls a blob function's container. */
  private async serveAdmin(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const name = decodeURIComponent(url.pathname.slice('/admin/functions/'.length));
    const denied = this.checkKey('admin', req, url);
    if (denied) return sendText(res, 401, denied);
    const text = (await readBytes(req)).toString('utf8');
    let input: unknown;
    try {
      input = text ? (JSON.parse(text) as { input?: unknown }).input : undefined;
    } catch {
      return sendText(res, 400, 'Body must be JSON: {"input": "..."}');
    }
    const { timers, blobs, watchers } = this.deps.index;
    const timer = timers.get(name);
    if (timer) {
      void timer.fireNow().catch(() => undefined);
      return sendText(res, 202, '');
    }
    const registration = blobs.get(name);
    if (registration && typeof input === 'string') {
      const watcher = watchers.find((w) => w.registration === registration);
      if (!watcher)
        return sendText(res, 400, `Blob function ${name} has no watcher (startBlobWatchers: false)`);
      void watcher.pollNow();
      return sendText(res, 202, '');
    }
    return sendText(res, 404, `No timer or blob function named ${name}`);
  }
}

function isHttpResponse(value: unknown): value is HttpResponse {
  return (
    value instanceof HttpResponse ||
    (typeof value === 'object' &&
      value !== null &&
      typeof (value as HttpResponse).arrayBuffer === 'function' &&
      (value as HttpResponse).headers instanceof Headers)
  );
}

async function writeHttpResponse(res: http.ServerResponse, result: unknown): Promise<void> {
  const response = isHttpResponse(result) ? result : new HttpResponse(result as HttpResponseInit);
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const cookies = (response.cookies ?? []).map(
    (c) =>
      `${c.name}=${c.value}` +
      (c.path ? `; Path=${c.path}` : '') +
      (c.domain ? `; Domain=${c.domain}` : '') +
      (c.maxAge !== undefined ? `; Max-Age=${c.maxAge}` : '') +
      (c.expires ? `; Expires=${new Date(c.expires).toUTCString()}` : '') +
      (c.secure ? '; Secure' : '') +
      (c.httpOnly ? '; HttpOnly' : '') +
      (c.sameSite ? `; SameSite=${c.sameSite}` : ''),
  );
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  const body = Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, headers);
  res.end(body);
}

function sendText(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, text ? { 'Content-Type': 'text/plain; charset=utf-8' } : {});
  res.end(text);
}

/** Query strings may carry SAS tokens or keys: logs get the path only. */
export function redactUrl(url: string | undefined): string {
  return (url ?? '').split('?')[0] ?? '';
}
