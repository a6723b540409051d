// The completeness ledger (services/ledger.ts does the work):
// - GET /api/ledger (function key): cells, one per (export, billing month), filtered by scope, export,
//   months and states, a page at a time (the continuation token comes back in the answer).
// - timer `%LEDGER_SWEEP_SCHEDULE%` (06:45 UTC daily by default): the sweep that moves cells whose
//   state changes with time alone and creates the expected months that never landed; then healing.
import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
  type Timer,
} from '@azure/functions';
import * as df from 'durable-functions';

import type { AppConfig } from '../config';
import { LEDGER_STATES, type LedgerState } from '../domain/ledger';
import { logEventLine } from '../domain/logEvent';
import { redactMessage } from '../domain/redact';
import { parseScope } from '../domain/scope';
import { appService } from '../services/appServices';
import { type HealingResult, healLedger, type StartBackfill } from '../services/healing';
import { type LedgerCatalog, type LedgerQuery, LedgerService, type SweepResult } from '../services/ledger';
import { beginBackfill } from './backfill';
import { badRequest, type FieldError, httpHandler, json, routeAuthLevel } from './http';

export const LEDGER_FUNCTION = 'ledger';
export const LEDGER_SWEEP_TIMER = 'ledgerSweep';

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
export const DEFAULT_LEDGER_PAGE = 200;

/** What the ledger functions read: parts of the app's services (tests override them with
 * useAppServices), or a test's own when it calls runLedgerSweep directly. */
export interface LedgerRuntime {
  config: AppConfig;
  catalog: LedgerCatalog;
  now?: () => Date;
}

async function runtime(): Promise<LedgerRuntime> {
  return {
    config: await appService('config'),
    catalog: await appService('catalog'),
    now: await appService('now'),
  };
}

export function ledgerServiceOf(rt: LedgerRuntime): LedgerService {
  return new LedgerService({
    catalog: rt.catalog,
    settings: { finalAfterDays: rt.config.ledger.finalAfterDays, graceHours: rt.config.ledger.graceHours },
    ...(rt.now ? { now: rt.now } : {}),
  });
}

const LEDGER_QUERY_KEYS = new Set([
  'scope',
  'export',
  'from',
  'to',
  'state',
  'pageSize',
  'continuationToken',
  'format',
  'code',
]);

/** Validates the query string; every problem is named by its parameter. */
export function parseLedgerQuery(
  query: URLSearchParams,
): { ok: true; value: LedgerQuery } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const value: LedgerQuery = { pageSize: DEFAULT_LEDGER_PAGE };
  checkLedgerQueryKeys(query, errors);
  parseLedgerFilters(query, value, errors);
  parseLedgerMonths(query, value, errors);
  parseLedgerPaging(query, value, errors);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value };
}

function checkLedgerQueryKeys(query: URLSearchParams, errors: FieldError[]): void {
  for (const key of query.keys()) {
    if (!LEDGER_QUERY_KEYS.has(key))
      errors.push({
        field: key.slice(0, 40),
        message: `unknown parameter; allowed: ${[...LEDGER_QUERY_KEYS].filter((k) => k !== 'code').join(', ')}`,
      });
  }
}

/** `scope` and `export`: which cells the page holds. */
function parseLedgerFilters(query: URLSearchParams, value: LedgerQuery, errors: FieldError[]): void {
  const scope = query.get('scope');
  if (scope !== null) {
    try {
      value.scope = parseScope(scope).canonical;
    } catch (error) {
      errors.push({
        field: 'scope',
        message: redactMessage(error).slice(0, 300),
      });
    }
  }
  const exportName = query.get('export');
  if (exportName !== null) {
    if (exportName.length === 0 || exportName.length > 256)
      errors.push({ field: 'export', message: 'expected an export name of 1-256 characters' });
    else value.exportName = exportName;
  }
}

/** `from` and `to`: the month range, in order. */
function parseLedgerMonths(query: URLSearchParams, value: LedgerQuery, errors: FieldError[]): void {
  for (const [field, key] of [
    ['from', 'fromMonth'],
    ['to', 'toMonth'],
  ] as const) {
    const month = query.get(field);
    if (month === null) continue;
    if (!MONTH.test(month))
      errors.push({
        field,
        message: `expected a month like 2026-09, got ${JSON.stringify(month.slice(0, 20))}`,
      });
    else value[key] = month;
  }
  if (value.fromMonth && value.toMonth && value.fromMonth > value.toMonth)
    errors.push({ field: 'to', message: 'must not be before from' });
}

/** `state`, `pageSize` and `continuationToken`. */
function parseLedgerPaging(query: URLSearchParams, value: LedgerQuery, errors: FieldError[]): void {
  const states = query.get('state');
  if (states !== null) {
    const list = states.split(',').map((s) => s.trim());
    const wrong = list.filter((s) => !LEDGER_STATES.includes(s as LedgerState));
    if (wrong.length > 0 || list.length === 0)
      errors.push({
        field: 'state',
        message: `expected a comma-separated list of ${LEDGER_STATES.join(', ')}`,
      });
    else value.states = list as LedgerState[];
  }
  const pageSize = query.get('pageSize');
  if (pageSize !== null) {
    const n = Number(pageSize);
    if (!/^\d{1,4}$/.test(pageSize) || n < 1 || n > 1000)
      errors.push({ field: 'pageSize', message: 'expected a whole number from 1 to 1000' });
    else value.pageSize = n;
  }
  const token = query.get('continuationToken');
  if (token !== null) {
    if (!/^[A-Za-z0-9+/=_-]{1,2048}$/.test(token))
      errors.push({ field: 'continuationToken', message: 'expected the token a previous page returned' });
    else value.continuationToken = token;
  }
}

export async function ledgerHandler(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const parsed = parseLedgerQuery(new URLSearchParams(request.query));
  if (!parsed.ok) return badRequest(parsed.errors);
  const rt = await runtime();
  let page: Awaited<ReturnType<LedgerService['page']>>;
  try {
    page = await ledgerServiceOf(rt).page(parsed.value);
  } catch (error) {
    if (!isBadContinuation(error)) throw error;
    return badRequest([
      { field: 'continuationToken', message: 'expected the token a previous page returned' },
    ]);
  }
  return json(200, {
    cells: page.items,
    ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
  });
}

/** The SDK decodes the token itself: one that is not its own base64 JSON fails before any request. */
function isBadContinuation(error: unknown): boolean {
  return (
    error instanceof SyntaxError || (error instanceof TypeError && /continuation|JSON/i.test(error.message))
  );
}

export interface LedgerSweepOutcome {
  sweep: SweepResult;
  healing: HealingResult;
}

/** The sweep, then healing over the cells it left in a problem state. */
export async function runLedgerSweep(
  rt: LedgerRuntime,
  start: StartBackfill,
  log: (m: string) => void,
): Promise<LedgerSweepOutcome> {
  const ledger = ledgerServiceOf(rt);
  const sweep = await ledger.sweep();
  const healing = await healLedger({
    ledger,
    catalog: rt.catalog,
    config: rt.config,
    start,
    ...(rt.now ? { now: rt.now } : {}),
  });
  log(
    logEventLine('ledger.sweep', {
      exports: sweep.exports,
      cellsRead: sweep.cellsRead,
      cellsWritten: sweep.cellsWritten,
      ...Object.fromEntries(LEDGER_STATES.map((s) => [`state${s}`, sweep.byState[s]])),
      healing: JSON.stringify(healing),
    }),
  );
  return { sweep, healing };
}

export async function ledgerSweepHandler(
  _timer: Timer,
  context: InvocationContext,
): Promise<LedgerSweepOutcome> {
  const rt = await runtime();
  const client = df.getClient(context);
  return runLedgerSweep(
    rt,
    (body, now) => beginBackfill(client, body, now, rt.config),
    (m) => context.log(m),
  );
}

app.http(LEDGER_FUNCTION, {
  route: 'ledger',
  methods: ['GET'],
  authLevel: routeAuthLevel(),
  handler: httpHandler('ledger', ledgerHandler),
});

app.timer(LEDGER_SWEEP_TIMER, {
  schedule: '%LEDGER_SWEEP_SCHEDULE%',
  extraInputs: [df.input.durableClient()],
  handler: ledgerSweepHandler,
});
