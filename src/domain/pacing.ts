// Pacing rules for one Cost Management throttling bucket (pure: time and randomness come in).
//
// The state mirrors the service's token bucket as far as we can know it: a refill `rate` (calls per
// ms; 0 = not paced), a `capacity` (burst) and the `tokens` left. A caller takes a token, possibly
// going into debt, and sleeps until its slot; when the slot is further away than it may sleep, it
// takes nothing and is told to come back later (a durable timer in a workflow). A 429 empties the
// bucket, blocks it until the advertised time and re-measures the rate from the calls admitted
// since the previous 429 (the service admitted exactly its rate in between, since it was saturated
// at both ends). Between 429s every admitted call raises the rate a little (probing), fast while
// the rate is only a guess and slowly once it was measured, so a raised limit is found and a 429
// stays rare. A bucket left alone for `quietMs` goes back to its seed.
//
// Every token handed out is numbered (`issued`), and the caller keeps its number (a ticket). That
// lets an answer be placed in the bucket's history: a 429 for a call issued before the last 429 was
// learnt is an echo of it (the call was already on its way) and teaches nothing new; a measurement
// counts only the calls issued before the refused one (the later ones are still in flight); and a
// service that reports its remaining calls (x-ms-ratelimit-remaining-…-requests) tells the bucket
// where it stands: at most the remaining count less the tickets issued after the answered call
// (earlier ones may still be on their way), when the calls after it did not overtake it, which a
// call spaced from the others by its slot vouches for; calls sent at once (a burst) overtake each
// other, so a burst's counts say nothing about tokens. Every count shows the
// service's real burst, though, which a fresh bucket (its seed kept a fifth back) then gains.
//
// A full bucket that hands out a token does not refill until an answer comes back: the service's
// bucket, full too, starts refilling when the first call reaches it, not when we let it go, and
// on a busy host that is seconds later (tens of seconds were seen): refilling from the hand-out
// overspent the burst by that many seconds' worth. Any answer (a count, a plain success, a 429)
// shows a call has arrived; without one the refill starts `answerWaitMs` after the hand-out.

export interface PaceState {
  /** Calls per millisecond; 0 = not paced (nothing learned, no seed). */
  rate: number;
  /** Tokens the bucket holds at most: the burst a quiet caller may send at once. */
  capacity: number;
  /** Tokens at `updatedAt`; negative while callers sleep towards their reserved slots. */
  tokens: number;
  updatedAt: number;
  /** The service said: nothing before this time (epoch ms). */
  blockedUntil: number;
  /** Calls admitted since `sampleSince` (the last 429), for the next measurement. */
  admitted: number;
  /** Time of the last 429, 0 before the first. */
  sampleSince: number;
  /** True once the rate came from a measurement rather than a seed or a guess. */
  measured: boolean;
  /** Tokens handed out over the bucket's life: the last ticket number. */
  issued: number;
  /** Tokens refill only from this time: set ahead when a full bucket hands out a token, brought
   * back to the time of the first answer (0: refilling). */
  refillFrom: number;
}

export interface PaceSeed {
  /** Calls per minute to start from; 0 = start unpaced. */
  perMinute: number;
  /** Burst allowed from a quiet bucket. */
  burst: number;
}

export interface PaceOptions {
  /** A caller sleeps at most this long for its slot; further away it is deferred. */
  maxSleepMs: number;
  /** Safety margin on a measured rate (0.05 = run 5% under it). */
  margin: number;
  /** Rate increase per admitted call while the rate is a guess / once measured. */
  probeGuess: number;
  probeMeasured: number;
  /** A measurement needs at least this many calls within this long. */
  minSample: number;
  sampleHorizonMs: number;
  /** Idle this long → back to the seed. */
  quietMs: number;
  /** A full bucket's refill starts at the first answer after it handed out a token, or this long
   * after the hand-out when no answer comes (a lost call, a crashed instance). */
  answerWaitMs: number;
}

export const DEFAULT_PACE_OPTIONS: PaceOptions = {
  maxSleepMs: 8_000,
  margin: 0.02,
  probeGuess: 0.1,
  probeMeasured: 0.002,
  minSample: 3,
  sampleHorizonMs: 15 * 60_000,
  quietMs: 10 * 60_000,
  answerWaitMs: 30_000,
};

export type Admission =
  /** Send after sleeping `sleepMs`; `state` must be stored (undefined: nothing changed). `ticket`
   * numbers the token taken (undefined when unpaced). `spaced`: its slot is at least half an
   * interval after the previous token's, so calls issued before it reach the service before it and
   * later ones after it (the count on its answer can be trusted; see learnAnswer). */
  | { kind: 'go'; sleepMs: number; state: PaceState | undefined; ticket?: number; spaced?: boolean }
  /** Do not send; come back in `retryAfterMs`. Nothing to store. */
  | { kind: 'defer'; retryAfterMs: number };

/** A fifth of a burst (at least one token when the burst is 3 or more) is left to the service:
 * calls reach it with varying delays, and a bucket we drained to zero would refuse the one that
 * arrives a moment early. */
function usableBurst(burst: number): number {
  return Math.max(1, burst - Math.floor(burst / 5) - (burst >= 3 && burst < 5 ? 1 : 0));
}

export function seededState(seed: PaceSeed, now: number): PaceState {
  // A written-down limit is run a margin under, as a measured one is.
  const rate = seed.perMinute > 0 ? seed.perMinute / 60_000 / (1 + DEFAULT_PACE_OPTIONS.margin) : 0;
  const capacity = usableBurst(seed.burst);
  return {
    rate,
    capacity,
    tokens: capacity,
    updatedAt: now,
    blockedUntil: 0,
    admitted: 0,
    sampleSince: 0,
    // A seed is a limit someone wrote down: probe above it slowly, as above a measured one.
    measured: rate > 0,
    issued: 0,
    refillFrom: 0,
  };
}

/** The state after idling: back to the seed when quiet for `quietMs`, else the tokens refilled. */
function current(state: PaceState, seed: PaceSeed, now: number, options: PaceOptions): PaceState {
  // Back to the seed, but tickets keep counting: answers to calls issued before still place.
  if (now - state.updatedAt >= options.quietMs && now >= state.blockedUntil)
    return { ...seededState(seed, now), issued: state.issued };
  const elapsed = Math.max(0, now - Math.max(state.updatedAt, state.refillFrom));
  return {
    ...state,
    tokens: Math.min(state.capacity, state.tokens + elapsed * state.rate),
    updatedAt: Math.max(now, state.updatedAt),
  };
}

/** May a call go now? `jitter` in [0, 1) spreads deferred callers over the next sleep window. */
export function admit(
  stored: PaceState | undefined,
  seed: PaceSeed,
  now: number,
  jitter: number,
  options: PaceOptions = DEFAULT_PACE_OPTIONS,
): Admission {
  const state = current(stored ?? seededState(seed, now), seed, now, options);
  const blockedMs = Math.max(0, state.blockedUntil - now);
  if (state.rate === 0) {
    if (blockedMs > options.maxSleepMs)
      return { kind: 'defer', retryAfterMs: deferral(blockedMs, jitter, options) };
    // Unpaced: nothing to count, so nothing to write unless a block is still being waited out.
    return { kind: 'go', sleepMs: blockedMs, state: undefined };
  }
  const tokenMs =
    state.tokens >= 1 ? 0 : Math.max(0, state.refillFrom - now) + (1 - state.tokens) / state.rate;
  const waitMs = Math.max(tokenMs, blockedMs);
  if (waitMs > options.maxSleepMs) return { kind: 'defer', retryAfterMs: deferral(waitMs, jitter, options) };
  // Probe only when the pace held this caller back: a caller that found a token tells us nothing.
  const probe = waitMs === 0 ? 0 : state.measured ? options.probeMeasured : options.probeGuess;
  // Taken from a full bucket: the service's refills from when this call reaches it (see above).
  const refillFrom = state.tokens >= state.capacity ? now + waitMs + options.answerWaitMs : state.refillFrom;
  return {
    kind: 'go',
    sleepMs: waitMs,
    ticket: state.issued + 1,
    spaced: state.tokens <= 0.5,
    state: {
      ...state,
      tokens: state.tokens - 1,
      rate: state.rate * (1 + probe),
      admitted: state.admitted + 1,
      issued: state.issued + 1,
      refillFrom,
    },
  };
}

/** Would admit() let a call go at once, taking no token and storing nothing (the bucket is unpaced
 * and no block is in force)? Such a bucket's row says nothing a caller needs for a while, so its
 * reader may skip the next reads of it briefly (see throttleBudget's UNPACED_MEMORY_MS). */
export function isUnpaced(
  stored: PaceState | undefined,
  seed: PaceSeed,
  now: number,
  options: PaceOptions = DEFAULT_PACE_OPTIONS,
): boolean {
  const state = current(stored ?? seededState(seed, now), seed, now, options);
  return state.rate === 0 && state.blockedUntil <= now;
}

function deferral(waitMs: number, jitter: number, options: PaceOptions): number {
  // Come back when the slot is within reach, spread so the deferred do not return together.
  return Math.ceil(Math.max(1_000, waitMs - options.maxSleepMs + jitter * options.maxSleepMs));
}

/** A 429 for this bucket, asking to wait `retryAfterMs`, for the call holding `ticket` (undefined:
 * not known, e.g. the bucket was unpaced when the call went). */
export function learnThrottle(
  stored: PaceState | undefined,
  seed: PaceSeed,
  now: number,
  retryAfterMs: number,
  options: PaceOptions = DEFAULT_PACE_OPTIONS,
  ticket?: number,
): PaceState {
  const state = current(stored ?? seededState(seed, now), seed, now, options);
  const sampleStart = state.issued - state.admitted;
  if (ticket !== undefined && state.sampleSince > 0 && ticket <= sampleStart) {
    // Issued before the last 429 was learnt: an echo of it. Keep the block, learn nothing more.
    return {
      ...state,
      tokens: Math.min(0, state.tokens),
      blockedUntil: Math.max(state.blockedUntil, now + retryAfterMs),
      refillFrom: Math.min(state.refillFrom, now),
    };
  }
  const elapsed = now - state.sampleSince;
  // The service took the calls issued before this one since the last 429; not this one, and the
  // ones issued after it are still on their way (or sleeping towards their slots).
  const taken =
    ticket !== undefined && ticket > sampleStart && ticket <= state.issued
      ? ticket - sampleStart - 1
      : state.admitted - 1;
  let rate: number;
  let measured = state.measured;
  if (state.sampleSince > 0 && taken >= options.minSample && elapsed <= options.sampleHorizonMs) {
    rate = taken / elapsed / (1 + options.margin);
    measured = true;
  } else if (state.rate > 0) {
    // Too few calls to measure: back off a step; a guess keeps probing fast, a seed or a measured
    // rate slowly (it was right until just now).
    rate = state.rate / (1 + 4 * options.margin);
  } else {
    // Nothing known: the service's wait is at most one call's interval, so start there and probe.
    rate = 1 / Math.max(1_000, retryAfterMs);
  }
  const blockedUntil = Math.max(state.blockedUntil, now + retryAfterMs);
  return {
    rate,
    // The service's bucket refills during the block; let the block's worth of calls go at its end.
    capacity: usableBurst(Math.max(seed.burst, Math.floor(rate * retryAfterMs))),
    tokens: Math.min(0, state.tokens),
    updatedAt: now,
    blockedUntil,
    admitted: 0,
    sampleSince: now,
    measured,
    issued: state.issued,
    // The 429 is an answer: a call has reached the service.
    refillFrom: 0,
  };
}

/** An answer (not a 429) to a call that held a ticket of this bucket. */
export interface Answer {
  /** The calls the service says its bucket has left; undefined when the answer did not say. */
  remaining?: number | undefined;
  /** The ticket of the call answered. */
  ticket: number;
  /** The call's slot was spaced from the others' (Admission `spaced`): the calls issued before it
   * reached the service before it, the ones issued after it reach it later. Calls sent at once (a
   * burst) overtake each other. */
  spaced: boolean;
}

/** The service answered the call holding `answer.ticket`. Any answer shows a call has reached the
 * service, so a full bucket that handed out tokens starts refilling now (see the top). With a
 * count of the calls its bucket has left: tickets issued after that call are counted against our
 * tokens but not yet against its count, so the bucket stands at `remaining` less those, if no
 * later ticket overtook the call and no earlier one is still on its way. A spaced call vouches for
 * the first (a burst's calls overtake each other: an overtaker would be counted twice), and so
 * does the last ticket issued; nothing vouches for the second (on a busy host a call issued 10 s
 * earlier was still on its way), so a count only ever brings the tokens down (a fraction above is
 * enough for a 429; a twentieth is let be): lifting them to a spaced call's count sent the next
 * call into the earlier calls arriving late, a 429 each. Any other count says nothing about
 * tokens. Every count shows the service's burst (the
 * count plus one): the capacity grows to it, and a fresh bucket (no 429 since its seed, which
 * assumed the service's bucket full) gains the difference as tokens (safe, since its refill waited
 * for an answer). Undefined: nothing to change (or an answer from before the bucket's last reset,
 * or while a 429's block says more). */
export function learnAnswer(
  stored: PaceState | undefined,
  seed: PaceSeed,
  now: number,
  answer: Answer,
  options: PaceOptions = DEFAULT_PACE_OPTIONS,
): PaceState | undefined {
  const { remaining, ticket } = answer;
  if (stored === undefined || stored.rate === 0 || ticket > stored.issued) return undefined;
  const state = current(stored, seed, now, options);
  if (state.blockedUntil > now) return undefined; // a 429's block says more than an earlier answer
  const refillFrom = Math.min(state.refillFrom, now);
  if (remaining === undefined) return refillFrom === state.refillFrom ? undefined : { ...state, refillFrom };
  const capacity = Math.max(state.capacity, remaining + 1);
  const gain = state.sampleSince === 0 ? capacity - state.capacity : 0;
  const grown = gain > 0 ? state.tokens + gain : state.tokens;
  const later = state.issued - ticket;
  const bound = remaining - later;
  // A twentieth of a token over is left alone: calls reach the service that much later anyway.
  const down = (answer.spaced || later === 0) && grown - bound > 0.05;
  const tokens = down ? bound : grown;
  if (tokens === state.tokens && capacity === state.capacity && refillFrom === state.refillFrom)
    return undefined;
  return { ...state, capacity, tokens, refillFrom };
}
