// HTTP health and status (services/status.ts does the work):
// - GET /api/health (anonymous): liveness for probes and load balancers. Validates settings, nothing
//   else; 503 with the problems (each naming its variable) when they do not validate.
// - GET /api/status (function key): configuration summary, catalog reachability, Cost Management
//   access per managed scope (cached a few minutes) and bounded catalog counts, as JSON, or as an
//   HTML page for `Accept: text/html` (a browser) or `?format=html`.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';

import { ConfigError, getConfig } from '../config';
import { quoteInput } from '../domain/fieldError';
import { redactError } from '../domain/redact';
import { appService } from '../services/appServices';
import { collectStatus, type StatusRuntime } from '../services/status';
import { checkHealth } from '../services/statusConfig';
import { parseHeatmapPageKey } from '../services/statusHeatmap';
import { renderStatusHtml } from '../services/statusHtml';
import { badRequest, httpHandler, routeAuthLevel } from './http';

export const HEALTH_FUNCTION = 'health';
export const STATUS_FUNCTION = 'status';

let version: string | undefined;

/** This app's package.json version, read once (the nearest package.json named like this app). */
export function appVersion(): string {
  if (version !== undefined) return version;
  version = 'unknown';
  for (let dir = __dirname, i = 0; i < 5; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === 'cost-export-autopilot' && typeof pkg.version === 'string') {
        version = pkg.version;
        break;
      }
    } catch {
      // not here: look one folder up
    }
  }
  return version;
}

const NO_STORE = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

export function healthHandler(_request: HttpRequest, _context: InvocationContext): HttpResponseInit {
  const result = checkHealth(getConfig, appVersion());
  return { status: result.status, headers: NO_STORE, jsonBody: result.body };
}

/** `?format=html|json` wins; otherwise HTML when the client accepts it (a browser), else JSON. */
export function responseFormat(request: HttpRequest): 'html' | 'json' | { error: string } {
  const format = request.query.get('format');
  if (format !== null) {
    const f = format.trim().toLowerCase();
    if (f === 'html' || f === 'json') return f;
    return { error: `expected html or json, got ${quoteInput(format)}` };
  }
  const accept = request.headers.get('accept') ?? '';
  const html = accept
    .split(',')
    .map((part) => part.trim().toLowerCase())
    .some((part) => part.startsWith('text/html') && !/;\s*q=0(?:\.0*)?\s*(?:;|$)/.test(part));
  return html ? 'html' : 'json';
}

export async function statusHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const format = responseFormat(request);
  if (typeof format === 'object') return badRequest([{ field: 'format', message: format.error }]);

  let runtime: StatusRuntime;
  try {
    runtime = await appService('status');
  } catch (error) {
    if (!(error instanceof ConfigError)) context.error(`status: ${redactError(error)}`);
    const health = checkHealth(() => {
      throw error;
    }, appVersion());
    return { status: 503, headers: NO_STORE, jsonBody: health.body };
  }

  // The heatmap's "next exports" link: a continuation token the ledger page handed out.
  const pageText = request.query.get('ledgerPage');
  const ledgerPage = pageText === null ? undefined : parseHeatmapPageKey(pageText);
  if (pageText !== null && !ledgerPage) {
    return badRequest([{ field: 'ledgerPage', message: 'expected the key a previous page linked' }]);
  }
  const report = await collectStatus(
    {
      config: runtime.config,
      ...(runtime.catalog ? { catalog: runtime.catalog } : {}),
      ...(runtime.catalogError !== undefined ? { catalogError: runtime.catalogError } : {}),
      exports: runtime.exports,
      ...(runtime.fleet ? { fleet: runtime.fleet } : {}),
      checker: runtime.checker,
      version: appVersion(),
      ...(runtime.now ? { now: runtime.now } : {}),
      ...(ledgerPage ? { ledgerPage } : {}),
    },
    runtime.counts,
  );
  if (report.status !== 'ok')
    context.warn(`status: degraded: ${report.problems.map((p) => `${p.kind} ${p.subject}`).join('; ')}`);
  if (format === 'json') return { status: 200, headers: NO_STORE, jsonBody: report };
  return {
    status: 200,
    headers: {
      ...NO_STORE,
      'Content-Type': 'text/html; charset=utf-8',
      // No scripts, no external anything; the inline <style> is the page's only resource.
      'Content-Security-Policy':
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
      'Referrer-Policy': 'no-referrer',
    },
    body: renderStatusHtml(report),
  };
}

app.http(HEALTH_FUNCTION, {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: healthHandler,
});

app.http(STATUS_FUNCTION, {
  route: 'status',
  methods: ['GET'],
  authLevel: routeAuthLevel(),
  handler: httpHandler('status', statusHandler),
});
