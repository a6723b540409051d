// The Durable extension's HTTP API (webhook `/runtime/webhooks/durabletask/...` and the RPC base
// `/durabletask/...` that durable-functions' DurableClient calls), served from the engine, plus the
// durableClient binding data the host injects into functions so `df.getClient(context)` works.
// Status codes and bodies follow what DurableClient expects (see its startNew/getStatus/raiseEvent/
// terminate/purge code): 202 + management payload on start, 200/202 on status, 202/404/410 on events.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import {
  type DurableEngine,
  DurableEngineError,
  type OrchestrationStatus,
  type RuntimeStatus,
} from './engine';
import { EventTypeName, type HistoryEvent } from './history';

export const WEBHOOK_PATH = '/runtime/webhooks/durabletask/';
export const RPC_PATH = '/durabletask/';
const INSTANCE_PLACEHOLDER = 'INSTANCEID';

/** The binding data the host injects for a `durableClient` input (OrchestrationClientInputData). */
export interface DurableClientBindingData {
  taskHubName: string;
  creationUrls: { createNewInstancePostUri: string; waitOnNewInstancePostUri: string };
  managementUrls: {
    id: string;
    statusQueryGetUri: string;
    sendEventPostUri: string;
    terminatePostUri: string;
    rewindPostUri: string;
    purgeHistoryDeleteUri: string;
    suspendPostUri: string;
    resumePostUri: string;
  };
  baseUrl: string;
  requiredQueryStringParameters: string;
  rpcBaseUrl: string;
}

export interface DurableApiSettings {
  /** `http://127.0.0.1:PORT`, the origin every URL points at. */
  origin: string;
  taskHub: string;
  connectionName?: string;
  /** The system key put in `code=`; requests may omit it, a wrong one is refused. */
  systemKey?: string;
}

export function durableClientBindingData(settings: DurableApiSettings): DurableClientBindingData {
  const base = `${settings.origin}${WEBHOOK_PATH}`;
  const code = settings.systemKey ? `code=${settings.systemKey}` : '';
  const hub = `taskHub=${encodeURIComponent(settings.taskHub)}&connection=${encodeURIComponent(settings.connectionName ?? 'Storage')}`;
  const q = (extra?: string) => `?${[extra, hub, code].filter(Boolean).join('&')}`;
  const instance = `${base}instances/${INSTANCE_PLACEHOLDER}`;
  return {
    taskHubName: settings.taskHub,
    creationUrls: {
      createNewInstancePostUri: `${base}orchestrators/{functionName}[/{instanceId}]${code ? `?${code}` : ''}`,
      waitOnNewInstancePostUri: `${base}orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}${code ? `&${code}` : ''}`,
    },
    managementUrls: {
      id: INSTANCE_PLACEHOLDER,
      statusQueryGetUri: `${instance}${q()}`,
      sendEventPostUri: `${instance}/raiseEvent/{eventName}${q()}`,
      terminatePostUri: `${instance}/terminate${q('reason={text}')}`,
      rewindPostUri: `${instance}/rewind${q('reason={text}')}`,
      purgeHistoryDeleteUri: `${instance}${q()}`,
      suspendPostUri: `${instance}/suspend${q('reason={text}')}`,
      resumePostUri: `${instance}/resume${q('reason={text}')}`,
    },
    baseUrl: base.replace(/\/$/, ''),
    requiredQueryStringParameters: code,
    rpcBaseUrl: `${settings.origin}${RPC_PATH}`,
  };
}

/** The management links for one instance, as in a 202 from the start API. */
export function managementPayload(settings: DurableApiSettings, instanceId: string): Record<string, string> {
  const urls = durableClientBindingData(settings).managementUrls;
  return Object.fromEntries(
    Object.entries(urls).map(([k, v]) => [
      k,
      v.split(INSTANCE_PLACEHOLDER).join(encodeURIComponent(instanceId)),
    ]),
  );
}

export function isDurableApiPath(pathname: string): boolean {
  return pathname.startsWith(WEBHOOK_PATH) || pathname.startsWith(RPC_PATH);
}

interface ApiResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Serves one request under the webhook or RPC path. */
export async function handleDurableApiRequest(
  engine: DurableEngine,
  settings: DurableApiSettings,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', settings.origin);
  let response: ApiResponse;
  try {
    const key = url.searchParams.get('code') ?? req.headers['x-functions-key'];
    if (settings.systemKey && key !== undefined && key !== settings.systemKey) {
      response = {
        status: 401,
        body: { error: 'The key in code= or x-functions-key is not this host’s system key' },
      };
    } else {
      const body = await readBody(req);
      response = route(engine, settings, req.method ?? 'GET', url, body);
    }
  } catch (err) {
    response = errorResponse(err);
  }
  const text = response.body === undefined ? '' : JSON.stringify(response.body);
  res.writeHead(response.status, {
    ...(text ? { 'Content-Type': 'application/json; charset=utf-8' } : {}),
    ...response.headers,
  });
  res.end(text);
}

/** One durable API request, its path split into resource/id/action/extra. */
interface RouteRequest {
  engine: DurableEngine;
  settings: DurableApiSettings;
  method: string;
  body: string;
  q: URLSearchParams;
  id?: string;
  action?: string;
  extra?: string;
}

function route(
  engine: DurableEngine,
  settings: DurableApiSettings,
  method: string,
  url: URL,
  body: string,
): ApiResponse {
  const base = url.pathname.startsWith(WEBHOOK_PATH) ? WEBHOOK_PATH : RPC_PATH;
  const parts = url.pathname
    .slice(base.length)
    .split('/')
    .filter((p) => p !== '')
    .map((p) => decodeURIComponent(p));
  const [resource, id, action, extra] = parts;
  const request: RouteRequest = { engine, settings, method, body, q: url.searchParams, id, action, extra };
  const response =
    resource === 'orchestrators'
      ? startOrchestration(request)
      : resource === 'instances'
        ? instancesRoute(request)
        : resource === 'entities'
          ? { status: 501, body: { error: 'The local host does not emulate durable entities' } }
          : undefined;
  return response ?? { status: 404, body: { error: `No durable API route for ${method} ${url.pathname}` } };
}

/** POST orchestrators/{name}[/{instanceId}]: 202 with the management links. */
function startOrchestration({
  engine,
  settings,
  method,
  body,
  id,
  action,
}: RouteRequest): ApiResponse | undefined {
  if (method !== 'POST' || !id) return undefined;
  const input = body.trim() === '' ? undefined : parseJson(body, 'request body');
  const instanceId = engine.startNew(id, { instanceId: action, input });
  const payload = managementPayload(settings, instanceId);
  return {
    status: 202,
    body: { id: instanceId, ...payload },
    headers: { Location: payload.statusQueryGetUri! },
  };
}

/** instances (list, purge by filter), instances/{id} (status, purge) and instances/{id}/{action}. */
function instancesRoute(request: RouteRequest): ApiResponse | undefined {
  const { engine, settings, method, q, id } = request;
  if (!id) {
    if (method === 'GET')
      return { status: 200, body: engine.listInstances(query(q)).map((s) => statusBody(s)) };
    if (method === 'DELETE') return { status: 200, body: { instancesDeleted: engine.purgeBy(query(q)) } };
    return undefined;
  }
  if (!request.action) {
    if (method === 'GET') return statusResponse(engine, settings, id, q);
    if (method !== 'DELETE') return undefined;
    const deleted = engine.purge(id);
    return deleted ? { status: 200, body: { instancesDeleted: deleted } } : { status: 404 };
  }
  return method === 'POST' ? instanceAction(request, id, request.action) : undefined;
}

/** POST instances/{id}/raiseEvent/{name} | terminate; the actions the local host does not support. */
function instanceAction(
  { engine, body, q, extra }: RouteRequest,
  id: string,
  action: string,
): ApiResponse | undefined {
  if (action === 'raiseEvent' && extra) {
    engine.raiseEvent(id, extra, body.trim() === '' ? null : parseJson(body, 'event data'));
    return { status: 202 };
  }
  if (action === 'terminate') {
    engine.terminate(id, q.get('reason') ?? '');
    return { status: 202 };
  }
  if (['rewind', 'suspend', 'resume', 'restart'].includes(action)) {
    return { status: 501, body: { error: `The local host does not support ${action}` } };
  }
  return undefined;
}

function statusResponse(
  engine: DurableEngine,
  settings: DurableApiSettings,
  id: string,
  q: URLSearchParams,
): ApiResponse {
  const status = engine.getStatus(id, {
    showHistory: q.get('showHistory') === 'true',
    showInput: q.get('showInput') !== 'false',
  });
  if (!status) return { status: 404, body: { error: `No instance with ID '${id}' found.` } };
  const inProgress = ['Pending', 'Running', 'ContinuedAsNew'].includes(status.runtimeStatus);
  const failedAs500 =
    status.runtimeStatus === 'Failed' && q.get('returnInternalServerErrorOnFailure') === 'true';
  return {
    status: inProgress ? 202 : failedAs500 ? 500 : 200,
    body: statusBody(status, q.get('showHistoryOutput') === 'true'),
    headers: inProgress
      ? { Location: managementPayload(settings, id).statusQueryGetUri!, 'Retry-After': '1' }
      : {},
  };
}

function statusBody(status: OrchestrationStatus, showHistoryOutput = false): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: status.name,
    instanceId: status.instanceId,
    runtimeStatus: status.runtimeStatus,
    input: status.input ?? null,
    customStatus: status.customStatus ?? null,
    output: status.output ?? null,
    createdTime: status.createdTime.toISOString(),
    lastUpdatedTime: status.lastUpdatedTime.toISOString(),
  };
  if (status.history) body.historyEvents = status.history.map((e) => friendlyEvent(e, showHistoryOutput));
  return body;
}

/** The history as the status API shows it: event type names, no replay bookkeeping. */
function friendlyEvent(event: HistoryEvent, showOutput: boolean): Record<string, unknown> {
  const { EventType: type, IsPlayed: _played, EventId, Result, ...rest } = event;
  return {
    EventType: EventTypeName[type] ?? type,
    ...(EventId !== -1 ? { EventId } : {}),
    ...rest,
    ...(showOutput && Result !== undefined ? { Result } : {}),
  };
}

function query(q: URLSearchParams): {
  runtimeStatus?: RuntimeStatus[];
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
  instanceIdPrefix?: string;
  showInput?: boolean;
} {
  const date = (name: string) => {
    const v = q.get(name);
    if (!v) return undefined;
    const d = new Date(v);
    if (Number.isNaN(d.getTime()))
      throw new DurableEngineError(`${name}: "${v}" is not a date`, 'BadRequest');
    return d;
  };
  const statuses = q.get('runtimeStatus');
  return {
    runtimeStatus: statuses ? (statuses.split(',').map((s) => s.trim()) as RuntimeStatus[]) : undefined,
    createdTimeFrom: date('createdTimeFrom'),
    createdTimeTo: date('createdTimeTo'),
    instanceIdPrefix: q.get('instanceIdPrefix') ?? undefined,
    showInput: q.get('showInput') === 'true',
  };
}

function errorResponse(err: unknown): ApiResponse {
  if (err instanceof DurableEngineError) {
    const status = { NotFound: 404, NotRunning: 410, BadRequest: 400, AlreadyExists: 500 }[err.code];
    // The extension answers a duplicate start with a 500 whose body names the existing status.
    return {
      status,
      body: {
        Message: 'Something went wrong while processing your request',
        ExceptionMessage: err.message,
        ExceptionType: err.code === 'AlreadyExists' ? 'System.InvalidOperationException' : err.code,
      },
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return {
    status: 500,
    body: { Message: 'Something went wrong while processing your request', ExceptionMessage: message },
  };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new DurableEngineError(`${what}: not valid JSON`, 'BadRequest');
  }
}

const MAX_BODY = 16 * 1024 * 1024;

export function readBody(req: http.IncomingMessage): Promise<string> {
  return readBytes(req).then((b) => b.toString('utf8'));
}

export function readBytes(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('request body over 16 MiB'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The durable HTTP API alone on a loopback port (for tests that invoke starters directly). */
export async function startDurableApiServer(
  engine: DurableEngine,
  options: { port?: number; taskHub?: string; systemKey?: string } = {},
): Promise<{
  origin: string;
  settings: DurableApiSettings;
  bindingData: DurableClientBindingData;
  stop(): Promise<void>;
}> {
  const state: { settings?: DurableApiSettings } = {};
  const server = http.createServer((req, res) => {
    void engine.clock.track(handleDurableApiRequest(engine, state.settings!, req, res));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const settings: DurableApiSettings = {
    origin,
    taskHub: options.taskHub ?? 'LocalTaskHub',
    systemKey: options.systemKey,
  };
  state.settings = settings;
  return {
    origin,
    settings,
    bindingData: durableClientBindingData(settings),
    stop: () => closeServer(server),
  };
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
