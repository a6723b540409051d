// Healing: a consumer of the ledger. For scopes whose policy is `heal`, every Missing, Failed or Stale
// month gets a one-month backfill, at most once per cell per cool-down and at most `maxAttempts`
// times, and at most `maxPerSweep` backfills per sweep. What was tried is written into the cell
// (`healing`), so the page and GET /api/ledger show "healing started …, attempt 2".
// `report` only lists such months as problems in the status; `off` does neither.
import { ledgerCellsInStates } from '../azure/catalog';
import type { AppConfig } from '../config';
import {
  healingDecision,
  type HealingPolicy,
  type HealingRecord,
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
  const settings = deps.config.ledger.healing;
  const result: HealingResult = {
    considered: 0,
    started: 0,
    alreadyRunning: 0,
    refused: 0,
    skipped: 0,
    deferred: 0,
  };
  const anyHeal =
    settings.defaultPolicy === 'heal' || Object.values(settings.scopes).some((p) => p === 'heal');
  if (!anyHeal) return result;

  for await (const cell of deps.catalog.query(ledgerCellsInStates(LEDGER_PROBLEM_STATES))) {
    result.considered += 1;
    const decision = healingDecision(
      cell.state,
      cell.healing,
      healingPolicyOf(deps.config, cell.scope),
      now,
      settings,
    );
    if (!decision.heal) {
      result.skipped += 1;
      continue;
    }
    if (result.started >= settings.maxPerSweep) {
      result.deferred += 1;
      continue;
    }
    const registered = await deps.catalog.getExport(cell.scope, cell.exportName);
    const attempt = (cell.healing?.attempts ?? 0) + 1;
    let record: HealingRecord;
    if (!registered || registered.missing) {
      record = {
        attempts: attempt,
        lastAt: now.toISOString(),
        outcome: 'refused: no registered export to take the destination from',
      };
    } else if (!registered.destination.sasDelivered && !registered.destination.resourceId) {
      // A managed-identity destination is named by the account's ARM id, which export syncs before
      // this field existed did not record; the next sync does.
      record = {
        attempts: attempt,
        lastAt: now.toISOString(),
        outcome:
          "refused: the export delivers with a managed identity and its storage account's resource id is not recorded yet; the next export sync records it, or start the backfill the status problem names",
      };
    } else {
      const d = registered.destination;
      const root = d.rootFolderPath ? { rootFolderPath: d.rootFolderPath } : {};
      const body = {
        scope: cell.scope,
        datasets: [registered.dataset],
        from: cell.month,
        to: cell.month,
        // The backfill delivers the way the export does: the same managed identity, or its token.
        destination:
          !d.sasDelivered && d.resourceId
            ? { resourceId: d.resourceId, container: d.container, ...root }
            : {
                storageAccount: d.storageAccount,
                container: d.container,
                ...root,
                ...(d.tokenRef ? { tokenId: d.tokenRef } : {}),
              },
        force: true,
      };
      const begun = await deps.start(body, now);
      record =
        begun.kind === 'invalid'
          ? {
              attempts: attempt,
              lastAt: now.toISOString(),
              outcome: `refused: ${begun.errors
                .map((e) => `${e.field}: ${e.message}`)
                .join('; ')
                .slice(0, 800)}`,
            }
          : {
              attempts: attempt,
              lastAt: now.toISOString(),
              backfillId: begun.id,
              outcome:
                begun.kind === 'started' ? 'started' : begun.kind === 'running' ? 'running' : 'started',
            };
    }
    if (record.outcome.startsWith('refused')) result.refused += 1;
    else if (record.outcome === 'running') result.alreadyRunning += 1;
    else result.started += 1;
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
  return result;
}
