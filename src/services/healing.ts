// Healing: a consumer of the ledger. For scopes whose policy is `heal`, every Missing, Failed or Stale
// month gets a one-month backfill, at most once per cell per cool-down and at most `maxAttempts`
// times, and at most `maxPerSweep` backfills per sweep. What was tried is written into the cell
// (`healing`), so the page and GET /api/ledger show "healing started …, attempt 2".
// `report` only lists such months as problems in the status; `off` does neither.
import { type ExportRecord, type LedgerCellRecord, ledgerCellsInStates } from '../azure/catalog';
import type { AppConfig } from '../config';
import {
  type HealingAttempt,
  healingDecision,
  healingDestination,
  type HealingPolicy,
  healingRecord,
  LEDGER_PROBLEM_STATES,
} from '../domain/ledger';
import { cadenceOf, type LedgerCatalog, type LedgerService } from './ledger';

/** Starts a backfill from a request body, as POST /api/backfills would (functions/backfill.ts). */
export type StartBackfill = (
  body: unknown,
  now: Date,
) => Promise<
  | { kind: 'invalid'; errors: readonly { field: string; message: string }[] }
  | { kind: 'running' | 'started' | 'finished'; id: string }
>;

export interface HealingDependencies {
  ledger: LedgerService;
  catalog: LedgerCatalog;
  config: AppConfig;
  start: StartBackfill;
  now?: () => Date;
}

export interface HealingResult {
  considered: number;
  started: number;
  alreadyRunning: number;
  refused: number;
  /** Cooling down, given up, or policy not `heal`. */
  skipped: number;
  /** More cells wanted healing than `maxPerSweep` allowed: the next sweep goes on. */
  deferred: number;
}

export function healingPolicyOf(config: AppConfig, scope: string): HealingPolicy {
  return config.ledger.healing.scopes[scope.toLowerCase()] ?? config.ledger.healing.defaultPolicy;
}

export async function healLedger(deps: HealingDependencies): Promise<HealingResult> {
  const now = (deps.now ?? (() => new Date()))();
  const result: HealingResult = {
    considered: 0,
    started: 0,
    alreadyRunning: 0,
    refused: 0,
    skipped: 0,
    deferred: 0,
  };
  if (!anyScopeHeals(deps.config)) return result;

  for await (const cell of deps.catalog.query(ledgerCellsInStates(LEDGER_PROBLEM_STATES))) {
    result.considered += 1;
    const turn = cellTurn(deps.config, cell, result.started, now);
    if (turn === 'heal') await healCell(deps, cell, now, result);
    else result[turn] += 1;
  }
  return result;
}

function anyScopeHeals(config: AppConfig): boolean {
  const settings = config.ledger.healing;
  return settings.defaultPolicy === 'heal' || Object.values(settings.scopes).some((p) => p === 'heal');
}

/** Whether this sweep heals the cell, skips it (cooling down, given up, policy), or leaves it to
 * the next sweep (`maxPerSweep` backfills started already). */
function cellTurn(
  config: AppConfig,
  cell: LedgerCellRecord,
  startedSoFar: number,
  now: Date,
): 'heal' | 'skipped' | 'deferred' {
  const settings = config.ledger.healing;
  const decision = healingDecision(
    cell.state,
    cell.healing,
    healingPolicyOf(config, cell.scope),
    now,
    settings,
  );
  if (!decision.heal) return 'skipped';
  return startedSoFar >= settings.maxPerSweep ? 'deferred' : 'heal';
}

const COUNTED_AS = {
  started: 'started',
  running: 'alreadyRunning',
  refused: 'refused',
} as const satisfies Record<HealingAttempt['kind'], keyof HealingResult>;

/** Tries one backfill for the cell and writes what was tried into it. */
async function healCell(
  deps: HealingDependencies,
  cell: LedgerCellRecord,
  now: Date,
  result: HealingResult,
): Promise<void> {
  const registered = await deps.catalog.getExport(cell.scope, cell.exportName);
  const attempt = await startHealing(deps.start, cell, registered, now);
  result[COUNTED_AS[attempt.kind]] += 1;
  const record = healingRecord(cell.healing, attempt, now);
  await deps.ledger.change(
    {
      scope: cell.scope,
      exportName: cell.exportName,
      ...(cell.dataset ? { dataset: cell.dataset } : {}),
      cadence: cadenceOf(registered),
    },
    cell.month,
    (facts) => facts,
    (next) => ({ ...next, healing: record }),
  );
}

/** A one-month backfill of the cell's month, delivered where the registered export delivers. */
async function startHealing(
  start: StartBackfill,
  cell: LedgerCellRecord,
  registered: ExportRecord | undefined,
  now: Date,
): Promise<HealingAttempt> {
  if (!registered || registered.missing) {
    return { kind: 'refused', why: 'no registered export to take the destination from' };
  }
  const destination = healingDestination(registered.destination);
  if (!destination) {
    return {
      kind: 'refused',
      why: "the export delivers with a managed identity and its storage account's resource id is not recorded yet; the next export sync records it, or start the backfill the status problem names",
    };
  }
  const body = {
    scope: cell.scope,
    datasets: [registered.dataset],
    from: cell.month,
    to: cell.month,
    destination,
    force: true,
  };
  const begun = await start(body, now);
  if (begun.kind === 'invalid') {
    const why = begun.errors
      .map((e) => `${e.field}: ${e.message}`)
      .join('; ')
      .slice(0, 800);
    return { kind: 'refused', why };
  }
  return { kind: begun.kind === 'running' ? 'running' : 'started', backfillId: begun.id };
}
