// The shared pacing budget every Cost Management call draws from, kept in Table Storage so that
// every function instance (and every caller: backfill, out-of-band, sync, reconcile, healing) sees
// the same one. One row per bucket, updated with ETag conditions (read, decide, write-if-unchanged;
// a lost race re-reads), so two instances never hand out the same token.
//
// Every answer teaches the budget: a 429 blocks and re-measures its bucket, and the remaining-call
// counts Cost Management reports on answers (x-ms-ratelimit-remaining-microsoft.costmanagement-
// {entity,tenant,clienttype}-requests: DefaultQuota:N; microsoft/AzureTRE#2835,
// electrolux-oss/azure-cost-exporter#8) set its tokens to where the service stands, so calls slow
// down before a 429 rather than after. Answers are placed by the ticket acquire handed out.
//
// Buckets, as Cost Management names them in its 429 headers
// (x-ms-ratelimit-microsoft.costmanagement-{entity,client,tenant,qpu}-retry-after; Azure/azqr#745):
//   entity: one scope and ClientType (a 429 with only Retry-After or the entity header lands here);
//   client: the whole ClientType across scopes (client, tenant and qpu headers land here).
// Each is kept separately for runs (POST …/run) and for every other call. The rules are in
// domain/pacing.ts; this file only stores them. Storage trouble (a busy table timing out) defers a
// call for a moment rather than sending it unpaced into a crowd; only a table that stays out of
// reach for a minute (an outage) lets calls through unpaced, the service's own 429 then protecting us.
import type { TableClient } from '@azure/data-tables';

import type { PaceOptions, PaceSeed, PaceState } from '../domain/pacing';
import { admit, DEFAULT_PACE_OPTIONS, learnRemaining, learnThrottle } from '../domain/pacing';
import { unlessMissing, wentThrough } from './storageRefusal';

export type BudgetKind = 'run' | 'other';
export type BudgetLevel = 'entity' | 'client';

export interface BudgetKey {
  /** The service's host (management.azure.com, or an emulator's host:port): its buckets are its own. */
  service: string;
  clientType: string;
  kind: BudgetKind;
  /** Canonical scope (case is ignored). */
  scope: string;
}

/** The numbers of the tokens a call took, per bucket (absent where the bucket is not paced). */
export interface BudgetTickets {
  entity?: number;
  client?: number;
  /** The buckets in which the call's slot was spaced from the others' (pacing's Admission). */
  spaced?: BudgetLevel[];
}

export type BudgetDecision =
  { kind: 'go'; tickets?: BudgetTickets } | { kind: 'defer'; retryAfterMs: number };

export interface ThrottleBudget {
  /** Waits (briefly) for this call's slot, or says how long to come back after. */
  acquire(key: BudgetKey, signal?: AbortSignal): Promise<BudgetDecision>;
  /** The service answered 429 for `level`'s bucket, asking for `retryAfterMs`. */
  observeThrottle(
    key: BudgetKey,
    level: BudgetLevel,
    retryAfterMs: number,
    tickets?: BudgetTickets,
  ): Promise<void>;
  /** The service answered and said `level`'s bucket has `remaining` calls left. */
  observeRemaining(
    key: BudgetKey,
    level: BudgetLevel,
    remaining: number,
    tickets?: BudgetTickets,
  ): Promise<void>;
}

export type BudgetSeeds = Record<BudgetLevel, Record<BudgetKind, PaceSeed>>;

/** Where a fresh or quiet bucket starts. Runs per scope: the 10 per minute the FinOps toolkit's
 * Start-FinOpsCostExport plans with (a burst of 10, as a quiet service bucket allows); everything
 * else starts unpaced and is learned from the first 429. */
export const DEFAULT_BUDGET_SEEDS: BudgetSeeds = {
  entity: { run: { perMinute: 10, burst: 10 }, other: { perMinute: 0, burst: 1 } },
  client: { run: { perMinute: 0, burst: 1 }, other: { perMinute: 0, burst: 1 } },
};

export { THROTTLE_BUDGET_TABLE } from './appTables';

export interface BudgetStats {
  reads: number;
  writes: number;
  conflicts: number;
  deferred: number;
  slept: number;
  storageErrors: number;
  /** Answers whose remaining count moved a bucket's tokens. */
  synced: number;
}

export interface TableThrottleBudgetOptions {
  seeds?: BudgetSeeds;
  pace?: Partial<PaceOptions>;
  now?: () => number;
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Lost races retried before deferring the call. */
  maxConflicts?: number;
  /** Storage failing for this long in a row counts as an outage: calls then go unpaced. */
  outageMs?: number;
}

/** A table out of reach for a minute is an outage, not a busy moment (tries time out after 5 s). */
export const STORAGE_OUTAGE_MS = 60_000;

/** A bucket's row: the pure pacing state plus its keys and the scope it paces. */
type Row = PaceState & { partitionKey: string; rowKey: string; scope: string };

interface Read {
  state: PaceState | undefined;
  etag: string | undefined;
}

const STATE_FIELDS = [
  'rate',
  'capacity',
  'tokens',
  'updatedAt',
  'blockedUntil',
  'admitted',
  'sampleSince',
] as const;

export class TableThrottleBudget implements ThrottleBudget {
  readonly stats: BudgetStats = {
    reads: 0,
    writes: 0,
    conflicts: 0,
    deferred: 0,
    slept: 0,
    storageErrors: 0,
    synced: 0,
  };
  private readonly seeds: BudgetSeeds;
  private readonly pace: PaceOptions;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly maxConflicts: number;
  private readonly outageMs: number;
  /** Since when the table has failed every acquire of this process (undefined: it answers). Only
   * about this process's reach of storage; the budget itself is in the rows. */
  private failingSince: number | undefined;
  private tableReady: Promise<void> | undefined;
  /** Blocks this process learnt from its own 429s: a caller that slept towards its slot re-checks
   * them before sending. Only a shortcut: the rows hold the same blocks for everyone. */
  private readonly localBlocks = new Map<string, number>();
  /** Callers of this process take their turn per scope bucket, so the table sees one writer per
   * instance and bucket instead of a crowd losing ETag races to each other. */
  private readonly turns = new Map<string, Promise<unknown>>();
  /** The last state this process read or wrote per bucket: an answer's remaining count is first
   * compared with it, and the table is only touched when that moves the tokens. Other instances'
   * tickets shift both sides of that comparison alike, so a stale copy decides the same. */
  private readonly lastSeen = new Map<string, PaceState>();

  constructor(
    private readonly table: TableClient,
    options: TableThrottleBudgetOptions = {},
  ) {
    this.seeds = options.seeds ?? DEFAULT_BUDGET_SEEDS;
    this.pace = { ...DEFAULT_PACE_OPTIONS, ...options.pace };
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? sleep;
    this.maxConflicts = options.maxConflicts ?? 8;
    this.outageMs = options.outageMs ?? STORAGE_OUTAGE_MS;
  }

  async acquire(key: BudgetKey, signal?: AbortSignal): Promise<BudgetDecision> {
    let sleepMs = 0;
    let tickets: BudgetTickets = {};
    try {
      ({ sleepMs, tickets } = await this.inTurn(keyId('entity', key), () => this.reserve(key)));
      this.failingSince = undefined;
    } catch (error) {
      if (error instanceof Deferred) {
        this.failingSince = undefined;
        this.stats.deferred++;
        return { kind: 'defer', retryAfterMs: error.retryAfterMs };
      }
      this.stats.storageErrors++;
      const now = this.now();
      this.failingSince ??= now;
      if (now - this.failingSince >= this.outageMs) return { kind: 'go' };
      // A busy table: come back in a moment (spread, so the deferred do not return together).
      this.stats.deferred++;
      return { kind: 'defer', retryAfterMs: 1_000 + Math.floor(this.random() * 2_000) };
    }
    if (sleepMs > 0) {
      this.stats.slept++;
      await this.sleep(sleepMs, signal);
      const blocked = Math.max(
        ...(['entity', 'client'] as const).map((level) => this.localBlocks.get(keyId(level, key)) ?? 0),
      );
      const now = this.now();
      if (blocked > now) {
        this.stats.deferred++;
        return { kind: 'defer', retryAfterMs: Math.ceil(blocked - now + this.random() * 1_000) };
      }
    }
    return { kind: 'go', tickets };
  }

  async observeRemaining(
    key: BudgetKey,
    level: BudgetLevel,
    remaining: number,
    tickets: BudgetTickets = {},
  ): Promise<void> {
    const ticket = tickets[level];
    const id = keyId(level, key);
    const seen = this.lastSeen.get(id);
    if (ticket === undefined || seen === undefined || !Number.isInteger(remaining) || remaining < 0) return;
    const seed = this.seeds[level][key.kind];
    const answer = { remaining, ticket, spaced: tickets.spaced?.includes(level) === true };
    if (!learnRemaining(seen, seed, this.now(), answer, this.pace)) return;
    try {
      await this.inTurn(id, async () => {
        for (let attempt = 0; attempt <= this.maxConflicts; attempt++) {
          const read = await this.read(level, key);
          const next = learnRemaining(read.state, seed, this.now(), answer, this.pace);
          if (!next) return;
          if (await this.write(level, key, read, next)) {
            this.stats.synced++;
            return;
          }
        }
      });
    } catch {
      this.stats.storageErrors++;
    }
  }

  async observeThrottle(
    key: BudgetKey,
    level: BudgetLevel,
    retryAfterMs: number,
    tickets: BudgetTickets = {},
  ): Promise<void> {
    const now = this.now();
    const id = keyId(level, key);
    this.localBlocks.set(id, Math.max(this.localBlocks.get(id) ?? 0, now + retryAfterMs));
    try {
      for (let attempt = 0; attempt <= this.maxConflicts; attempt++) {
        const read = await this.read(level, key);
        const next = learnThrottle(
          read.state,
          this.seeds[level][key.kind],
          this.now(),
          retryAfterMs,
          this.pace,
          tickets[level],
        );
        if (await this.write(level, key, read, next)) return;
      }
    } catch {
      this.stats.storageErrors++;
    }
  }

  private inTurn<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.turns.get(id) ?? Promise.resolve();
    const mine = previous.then(work, work);
    const settled = mine.catch(() => undefined);
    this.turns.set(id, settled);
    void settled.then(() => {
      if (this.turns.get(id) === settled) this.turns.delete(id);
    });
    return mine;
  }

  /** Takes a token from both buckets (or throws Deferred); resolves to the time to sleep and the
   * tokens' numbers. */
  private async reserve(key: BudgetKey): Promise<{ sleepMs: number; tickets: BudgetTickets }> {
    for (let attempt = 0; attempt <= this.maxConflicts; attempt++) {
      const [entity, client] = await Promise.all([this.read('entity', key), this.read('client', key)]);
      const now = this.now();
      const jitter = this.random();
      const a = admit(entity.state, this.seeds.entity[key.kind], now, jitter, this.pace);
      const b = admit(client.state, this.seeds.client[key.kind], now, jitter, this.pace);
      if (a.kind === 'defer' || b.kind === 'defer') {
        throw new Deferred(
          Math.max(a.kind === 'defer' ? a.retryAfterMs : 0, b.kind === 'defer' ? b.retryAfterMs : 0),
        );
      }
      // Client bucket first: when it loses a race nothing was taken from the scope's bucket.
      if (
        (b.state && !(await this.write('client', key, client, b.state))) ||
        (a.state && !(await this.write('entity', key, entity, a.state)))
      ) {
        // Another instance won: step back a random moment so the next try does not collide again.
        await this.sleep(Math.floor(this.random() * 20 * (attempt + 1)));
        continue;
      }
      const tickets: BudgetTickets = {};
      if (a.ticket !== undefined) tickets.entity = a.ticket;
      if (b.ticket !== undefined) tickets.client = b.ticket;
      const spaced: BudgetLevel[] = [];
      if (a.spaced) spaced.push('entity');
      if (b.spaced) spaced.push('client');
      if (spaced.length) tickets.spaced = spaced;
      return { sleepMs: Math.max(a.sleepMs, b.sleepMs), tickets };
    }
    // Contention beyond reason: come back shortly rather than send unpaced into a crowd.
    throw new Deferred(1_000 + Math.floor(this.random() * 1_000));
  }

  private async read(level: BudgetLevel, key: BudgetKey): Promise<Read> {
    await this.ensureTable();
    this.stats.reads++;
    const entity = await unlessMissing(
      this.table.getEntity<Record<string, unknown>>(partitionKey(level, key), rowKey(level, key)),
    );
    if (!entity) return { state: undefined, etag: undefined };
    const state = toState(entity);
    if (state) this.lastSeen.set(keyId(level, key), state);
    return { state, etag: entity.etag };
  }

  /** False when another caller changed the row first. */
  private async write(level: BudgetLevel, key: BudgetKey, read: Read, state: PaceState): Promise<boolean> {
    const row: Row = {
      partitionKey: partitionKey(level, key),
      rowKey: rowKey(level, key),
      scope: level === 'entity' ? key.scope : '',
      ...state,
    };
    this.stats.writes++;
    const written = await wentThrough(
      read.etag === undefined
        ? this.table.createEntity(row)
        : this.table.updateEntity(row, 'Replace', { etag: read.etag }),
      'exists',
      'changed',
    );
    if (written) this.lastSeen.set(keyId(level, key), state);
    else this.stats.conflicts++;
    return written;
  }

  /** Catalog.ensureTables creates this table at start; this once-per-process create stays because
   * Cost Management calls may come before any catalog part is used, and bench/tests use no catalog. */
  private ensureTable(): Promise<void> {
    this.tableReady ??= this.table.createTable().catch((error: unknown) => {
      this.tableReady = undefined;
      throw error;
    });
    return this.tableReady;
  }
}

class Deferred extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`deferred for ${retryAfterMs} ms`);
  }
}

function partitionKey(level: BudgetLevel, key: BudgetKey): string {
  // ClientType is letters, digits, . _ - (checked by the adapter), a host has no key-breaking characters.
  return `${level}|${key.kind}|${key.clientType}|${key.service.toLowerCase()}`;
}

/** Scopes hold '/', which keys may not: base64url of the lower-cased scope is safe and one-to-one. */
function rowKey(level: BudgetLevel, key: BudgetKey): string {
  return level === 'client' ? '-' : Buffer.from(key.scope.toLowerCase()).toString('base64url');
}

function keyId(level: BudgetLevel, key: BudgetKey): string {
  return `${partitionKey(level, key)}/${rowKey(level, key)}`;
}

function toState(row: Record<string, unknown>): PaceState | undefined {
  for (const field of STATE_FIELDS)
    if (typeof row[field] !== 'number' || !Number.isFinite(row[field])) return undefined;
  const r = row as unknown as Row;
  if (r.rate < 0 || r.capacity < 1) return undefined; // a damaged row starts again from the seed
  return {
    rate: r.rate,
    capacity: r.capacity,
    tokens: r.tokens,
    updatedAt: r.updatedAt,
    blockedUntil: r.blockedUntil,
    admitted: r.admitted,
    sampleSince: r.sampleSince,
    measured: r.measured === true,
    // Rows written before tickets existed start counting from 0.
    issued: typeof r.issued === 'number' && Number.isInteger(r.issued) && r.issued >= 0 ? r.issued : 0,
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
