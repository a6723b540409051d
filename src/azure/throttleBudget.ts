// The shared pacing budget every Cost Management call draws from, kept in Table Storage so that
// every function instance (and every caller: backfill, out-of-band, sync, reconcile, healing) sees
// the same one. One row per bucket, updated with ETag conditions (read, decide, write-if-unchanged;
// a lost race re-reads), so two instances never hand out the same token.
//
// Every answer teaches the budget: a 429 blocks and re-measures its bucket, and the remaining-call
// counts Cost Management reports on answers (x-ms-ratelimit-remaining-microsoft.costmanagement-
// {entity,tenant,clienttype}-requests: DefaultQuota:N; microsoft/AzureTRE#2835,
// electrolux-oss/azure-cost-exporter#8) bring its tokens down to where the service stands, so calls
// slow down before a 429 rather than after; any answer starts the refill of a bucket that handed
// out tokens while full. Answers are placed by the ticket acquire handed out. The callers one
// instance has waiting for a bucket are served together (one read, one write for all their tokens).
//
// Buckets, as Cost Management names them in its 429 headers
// (x-ms-ratelimit-microsoft.costmanagement-{entity,client,tenant,qpu}-retry-after; Azure/azqr#745):
//   entity: one scope and ClientType (a 429 with only Retry-After or the entity header lands here);
//   client: the whole ClientType across scopes (client, tenant and qpu headers land here).
// Each is kept separately for runs (POST …/run) and for every other call. The rules are in
// domain/pacing.ts; this file only stores them. Storage trouble (a busy table timing out) defers a
// call for a moment rather than sending it unpaced into a crowd; only a table that stays out of
// reach for a minute (an outage) lets calls through unpaced, the service's own 429 then protecting us.
//
// Most buckets are never throttled: no row, or a row that paces nothing, and admit() takes nothing
// from them. Reading those two rows for every call was ~40% of the storage requests of the ARM
// phases (#18), so a bucket found unpaced is not read again for UNPACED_MEMORY_MS.
import type { TableClient } from '@azure/data-tables';

import type { Admission, Answer, PaceOptions, PaceSeed, PaceState } from '../domain/pacing';
import { admit, DEFAULT_PACE_OPTIONS, isUnpaced, learnAnswer, learnThrottle } from '../domain/pacing';
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
  /** The service answered (anything but a 429: the call reached it), saying how many calls a
   * bucket has left where it did. */
  observeAnswer(
    key: BudgetKey,
    remaining: Partial<Record<BudgetLevel, number>>,
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
  /** Reads of a bucket left out because it was found unpaced moments before (UNPACED_MEMORY_MS). */
  readsSkipped: number;
  /** Answers that changed a bucket: its tokens or burst (a remaining count), or its refill start. */
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
  /** How long a bucket found unpaced is not read again (0: read every time). */
  unpacedMemoryMs?: number;
  /** Buckets each per-bucket memory of this process holds at most (tests use a small bound). */
  maxRememberedBuckets?: number;
}

/** A table out of reach for a minute is an outage, not a busy moment (tries time out after 5 s). */
export const STORAGE_OUTAGE_MS = 60_000;

/** A bucket found unpaced (no row, or one with no rate and no block in force) is taken as unpaced
 * for this long without reading it. The row stays the truth; this only bounds how late this
 * instance sees a block another instance wrote after its 429: by then the service refuses this
 * instance's calls too, and each of those 429s is learnt at once (observeThrottle forgets the
 * bucket and localBlocks holds it), so being late costs at most the calls one instance sends to a
 * bucket in these seconds, each refused rather than lost. 5 s is short next to the waits a 429
 * asks for (tens of seconds are common) and to a quiet bucket's 10 minutes, yet long enough to
 * cover a scope's List/Get/CreateOrUpdate sequence and to read the ClientType's bucket, which
 * every call of the instance draws from, once per 5 s rather than once per call. */
export const UNPACED_MEMORY_MS = 5_000;

/** Buckets remembered at most, in unpacedUntil (an entry is ~100 bytes) and in lastSeen (~300):
 * the budget lives as long as its process, and a partner's fleet of thousands of scopes must not
 * grow it. Both are shortcuts, so past the bound the oldest entries are dropped and cost a read
 * when next needed; 10,000 holds the run and other buckets of 5,000 scopes, and lastSeen only has
 * to keep a bucket from a call's acquire to its answer, seconds in which far fewer are touched. */
const MAX_REMEMBERED_BUCKETS = 10_000;

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
    readsSkipped: 0,
    synced: 0,
  };
  private readonly seeds: BudgetSeeds;
  private readonly pace: PaceOptions;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly maxConflicts: number;
  private readonly outageMs: number;
  private readonly unpacedMemoryMs: number;
  private readonly maxRemembered: number;
  /** Buckets found unpaced, until when their reads are skipped, oldest first (an entry is moved to
   * the end when renewed; the window is one length, so that is also the order of expiry). */
  private readonly unpacedUntil = new Map<string, number>();
  /** Counts this process's 429s: a read that began before one is not remembered as unpaced (it may
   * predate the block that 429 wrote). */
  private throttles = 0;
  /** Since when the table has failed every acquire of this process (undefined: it answers). Only
   * about this process's reach of storage; the budget itself is in the rows. */
  private failingSince: number | undefined;
  private tableReady: Promise<void> | undefined;
  /** Blocks this process learnt from its own 429s: a caller that slept towards its slot re-checks
   * them before sending. Only a shortcut: the rows hold the same blocks for everyone. Only blocks
   * in force are kept (an expired one is dropped when read, and all of them when one is added). */
  private readonly localBlocks = new Map<string, number>();
  /** Callers of this process take their turn per scope bucket, so the table sees one writer per
   * instance and bucket instead of a crowd losing ETag races to each other. */
  private readonly turns = new Map<string, Promise<unknown>>();
  /** Callers waiting for the next turn of a scope bucket: that turn serves them all with one read
   * and one write (their tokens are taken together), so the row sees a write per instance and turn
   * rather than per call, and fewer races are lost. */
  private readonly waiting = new Map<string, Waiter[]>();
  /** Reads of a row under way in this process: a caller that needs the same row joins one (the
   * ClientType's row is read by every scope's turn at once). */
  private readonly reading = new Map<string, Promise<Read>>();
  /** The last state this process read or wrote per bucket, least recently stored first: an
   * answer's remaining count is first compared with it, and the table is only touched when that
   * moves the tokens. Other instances' tickets shift both sides of that comparison alike, so a
   * stale copy decides the same. Bounded (MAX_REMEMBERED_BUCKETS): an answer for a bucket no
   * longer here is decided on the row, as a changing one is. */
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
    this.unpacedMemoryMs = options.unpacedMemoryMs ?? UNPACED_MEMORY_MS;
    this.maxRemembered = options.maxRememberedBuckets ?? MAX_REMEMBERED_BUCKETS;
  }

  /** How many entries the per-bucket memories hold now (they are bounded; see the fields). */
  memoryEntries(): { lastSeen: number; localBlocks: number; unpacedUntil: number } {
    return {
      lastSeen: this.lastSeen.size,
      localBlocks: this.localBlocks.size,
      unpacedUntil: this.unpacedUntil.size,
    };
  }

  async acquire(key: BudgetKey, signal?: AbortSignal): Promise<BudgetDecision> {
    let sleepMs = 0;
    let tickets: BudgetTickets = {};
    try {
      ({ sleepMs, tickets } = await this.inBatch(key));
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
      const now = this.now();
      const blocked = Math.max(
        ...(['entity', 'client'] as const).map((level) => this.localBlock(keyId(level, key), now)),
      );
      if (blocked > now) {
        this.stats.deferred++;
        return { kind: 'defer', retryAfterMs: Math.ceil(blocked - now + this.random() * 1_000) };
      }
    }
    return { kind: 'go', tickets };
  }

  async observeAnswer(
    key: BudgetKey,
    remaining: Partial<Record<BudgetLevel, number>>,
    tickets: BudgetTickets = {},
  ): Promise<void> {
    for (const level of ['entity', 'client'] as const) {
      const ticket = tickets[level];
      if (ticket === undefined) continue;
      const count = remaining[level];
      const counted = count !== undefined && Number.isInteger(count) && count >= 0 ? count : undefined;
      await this.learnAnswered(key, level, {
        remaining: counted,
        ticket,
        spaced: tickets.spaced?.includes(level) === true,
      });
    }
  }

  private async learnAnswered(key: BudgetKey, level: BudgetLevel, answer: Answer): Promise<void> {
    const id = keyId(level, key);
    const seen = this.lastSeen.get(id);
    const seed = this.seeds[level][key.kind];
    // Compared with the state last seen first: most answers change nothing and cost no table call.
    // A bucket no longer remembered (evicted) is decided on the row: learnAnswer learns nothing
    // from no state, which would drop the answer.
    if (seen && !learnAnswer(seen, seed, this.now(), answer, this.pace)) return;
    try {
      await this.inTurn(id, async () => {
        for (let attempt = 0; attempt <= this.maxConflicts; attempt++) {
          const read = await this.read(level, key, attempt > 0);
          const next = learnAnswer(read.state, seed, this.now(), answer, this.pace);
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
    const until = Math.max(this.localBlock(id, now), now + retryAfterMs);
    // Blocks run out in no particular order: sweep them all (429s are rare, and each costs a write).
    for (const [old, end] of this.localBlocks) if (end <= now) this.localBlocks.delete(old);
    this.localBlocks.set(id, until);
    this.unpacedUntil.delete(id);
    this.throttles++;
    try {
      for (let attempt = 0; attempt <= this.maxConflicts; attempt++) {
        const read = await this.read(level, key, attempt > 0);
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

  /** Joins the callers waiting for the scope bucket's next turn (starting one if none waits). */
  private inBatch(key: BudgetKey): Promise<Reservation> {
    const id = keyId('entity', key);
    return new Promise<Reservation>((resolve, reject) => {
      const queued = this.waiting.get(id);
      if (queued) {
        queued.push({ resolve, reject });
        return;
      }
      const batch: Waiter[] = [{ resolve, reject }];
      this.waiting.set(id, batch);
      void this.inTurn(id, async () => {
        // Callers arriving from now on wait for the next turn.
        this.waiting.delete(id);
        try {
          const outcomes = await this.reserve(key, batch.length);
          batch.forEach((waiter, i) => {
            const outcome = outcomes[i]!;
            if (outcome instanceof Deferred) waiter.reject(outcome);
            else waiter.resolve(outcome);
          });
        } catch (error) {
          for (const waiter of batch) waiter.reject(error);
        }
      });
    });
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

  /** Takes a token from both buckets for each of `count` callers with one write per bucket: per
   * caller the time to sleep and the tokens' numbers, or Deferred. Throws on storage trouble. */
  private async reserve(key: BudgetKey, count: number): Promise<(Reservation | Deferred)[]> {
    for (let attempt = 0; attempt <= this.maxConflicts; attempt++) {
      // A bucket remembered unpaced is neither read nor written: it hands out nothing.
      const skipEntity = this.remembersUnpaced('entity', key);
      const skipClient = this.remembersUnpaced('client', key);
      const throttles = this.throttles;
      const [entity, client] = await Promise.all([
        skipEntity ? NOTHING_READ : this.read('entity', key, attempt > 0),
        skipClient ? NOTHING_READ : this.read('client', key, attempt > 0),
      ]);
      const now = this.now();
      if (throttles === this.throttles) {
        if (!skipEntity) this.rememberIfUnpaced('entity', key, entity.state, now);
        if (!skipClient) this.rememberIfUnpaced('client', key, client.state, now);
      }
      let entityState = entity.state;
      let clientState = client.state;
      let entityTaken = false;
      let clientTaken = false;
      const outcomes: (Reservation | Deferred)[] = [];
      for (let i = 0; i < count; i++) {
        const jitter = this.random();
        const a = skipEntity
          ? UNPACED_GO
          : admit(entityState, this.seeds.entity[key.kind], now, jitter, this.pace);
        const b = skipClient
          ? UNPACED_GO
          : admit(clientState, this.seeds.client[key.kind], now, jitter, this.pace);
        if (a.kind === 'defer' || b.kind === 'defer') {
          const wait = (d: typeof a) => (d.kind === 'defer' ? d.retryAfterMs : 0);
          outcomes.push(new Deferred(Math.max(wait(a), wait(b))));
          continue;
        }
        if (a.state) [entityState, entityTaken] = [a.state, true];
        if (b.state) [clientState, clientTaken] = [b.state, true];
        outcomes.push({ sleepMs: Math.max(a.sleepMs, b.sleepMs), tickets: ticketsOf(a, b) });
      }
      // Client bucket first: when it loses a race nothing was taken from the scope's bucket.
      if (
        (clientTaken && !(await this.write('client', key, client, clientState!))) ||
        (entityTaken && !(await this.write('entity', key, entity, entityState!)))
      ) {
        // Another instance won and its write is in: re-read at once, but a random few ms apart so
        // that instances which lost together do not collide again. (Not a round trip's worth: on
        // a busy table that is seconds, and the bucket's other callers would wait all of it.)
        await this.sleep(Math.floor(this.random() * 20 * (attempt + 1)));
        continue;
      }
      return outcomes;
    }
    // Contention beyond reason: come back shortly rather than send unpaced into a crowd.
    return Array.from({ length: count }, () => new Deferred(1_000 + Math.floor(this.random() * 1_000)));
  }

  /** True (and counted) when the bucket was found unpaced less than the window ago and this process
   * has no block of its own for it. */
  private remembersUnpaced(level: BudgetLevel, key: BudgetKey): boolean {
    const id = keyId(level, key);
    const until = this.unpacedUntil.get(id);
    if (until === undefined) return false;
    const now = this.now();
    if (until <= now || this.localBlock(id, now) > now) {
      this.unpacedUntil.delete(id);
      return false;
    }
    this.stats.readsSkipped++;
    return true;
  }

  /** Remembers a bucket just read as unpaced (admit would take nothing from it) for the window. */
  private rememberIfUnpaced(level: BudgetLevel, key: BudgetKey, state: PaceState | undefined, now: number) {
    const id = keyId(level, key);
    this.unpacedUntil.delete(id);
    if (this.unpacedMemoryMs <= 0 || this.localBlock(id, now) > now) return;
    if (!isUnpaced(state, this.seeds[level][key.kind], now, this.pace)) return;
    // Oldest first (a renewed entry moves to the end), so the expired are at the front.
    setNewest(this.unpacedUntil, id, now + this.unpacedMemoryMs, this.maxRemembered, (until) => until <= now);
  }

  /** When this process's own block for the bucket ends (0: none in force; an expired one is dropped). */
  private localBlock(id: string, now: number): number {
    const until = this.localBlocks.get(id);
    if (until === undefined) return 0;
    if (until > now) return until;
    this.localBlocks.delete(id);
    return 0;
  }

  /** A read of the row, joining one under way unless `fresh` (after a lost race: that one may
   * predate the write that won). */
  private read(level: BudgetLevel, key: BudgetKey, fresh = false): Promise<Read> {
    const id = keyId(level, key);
    const under = this.reading.get(id);
    if (under && !fresh) return under;
    const reading = this.readRow(level, key);
    this.reading.set(id, reading);
    const forget = () => {
      if (this.reading.get(id) === reading) this.reading.delete(id);
    };
    reading.then(forget, forget);
    return reading;
  }

  private async readRow(level: BudgetLevel, key: BudgetKey): Promise<Read> {
    await this.ensureTable();
    this.stats.reads++;
    const entity = await unlessMissing(
      this.table.getEntity<Record<string, unknown>>(partitionKey(level, key), rowKey(level, key)),
    );
    if (!entity) return { state: undefined, etag: undefined };
    const state = toState(entity);
    if (state) setNewest(this.lastSeen, keyId(level, key), state, this.maxRemembered);
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
    if (written) {
      setNewest(this.lastSeen, keyId(level, key), state, this.maxRemembered);
      // A written bucket paces (or waits out a block) now: read it again from the next call on.
      this.unpacedUntil.delete(keyId(level, key));
    } else this.stats.conflicts++;
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

/** Stores `value` as the newest entry of `map` (a Map keeps insertion order, so re-inserting makes
 * it least-recently-stored first). From the oldest end, first drops entries until the map is under
 * `max` and the next one is not `stale`. */
function setNewest<V>(
  map: Map<string, V>,
  id: string,
  value: V,
  max: number,
  stale: (value: V) => boolean = () => false,
): void {
  map.delete(id);
  for (const [old, held] of map) {
    if (map.size < max && !stale(held)) break;
    map.delete(old);
  }
  map.set(id, value);
}

/** What a bucket remembered unpaced stands for: no row read, and a call that takes nothing. */
const NOTHING_READ: Read = { state: undefined, etag: undefined };
const UNPACED_GO: Admission = { kind: 'go', sleepMs: 0, state: undefined };

/** A caller's tokens: the time to sleep towards its slot and the tokens' numbers. */
interface Reservation {
  sleepMs: number;
  tickets: BudgetTickets;
}

interface Waiter {
  resolve: (reservation: Reservation) => void;
  reject: (error: unknown) => void;
}

function ticketsOf(
  entity: { ticket?: number; spaced?: boolean },
  client: { ticket?: number; spaced?: boolean },
): BudgetTickets {
  const tickets: BudgetTickets = {};
  if (entity.ticket !== undefined) tickets.entity = entity.ticket;
  if (client.ticket !== undefined) tickets.client = client.ticket;
  const spaced: BudgetLevel[] = [];
  if (entity.spaced) spaced.push('entity');
  if (client.spaced) spaced.push('client');
  if (spaced.length) tickets.spaced = spaced;
  return tickets;
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
    // Rows written before the refill waited for answers refill at once.
    refillFrom: typeof r.refillFrom === 'number' && Number.isFinite(r.refillFrom) ? r.refillFrom : 0,
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
