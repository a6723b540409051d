import {
  admit,
  type Answer,
  DEFAULT_PACE_OPTIONS,
  isUnpaced,
  learnAnswer,
  learnThrottle,
  type PaceSeed,
  type PaceState,
} from '../../src/domain/pacing';

const UNPACED: PaceSeed = { perMinute: 0, burst: 1 };
/** An answer's count; spaced unless said otherwise (the call waited for its slot). */
const counted = (remaining: number, ticket: number, spaced = true): Answer => ({
  remaining,
  ticket,
  spaced,
});
const TEN_A_MINUTE: PaceSeed = { perMinute: 10, burst: 10 };

/** A simulated service bucket (as the emulator's throttle) and callers that always want to call.
 * `counts`: the service reports its remaining calls on every answer, as Cost Management does.
 * Calls reach it the moment they go (the host's delays are bench/pacing.ts's). */
function simulate(limitPerMinute: number, capacity: number, seed: PaceSeed, minutes: number, counts = false) {
  const rate = limitPerMinute / 60_000;
  let serverTokens = capacity;
  let state: PaceState | undefined;
  let admitted = 0;
  let throttled = 0;
  // Clocks are epoch milliseconds: 0 is never a time anything happened.
  let now = 1_000;
  let lastServerAt = now;
  while (now < minutes * 60_000) {
    const a = admit(state, seed, now, 0.5);
    if (a.kind === 'defer') {
      now += a.retryAfterMs;
      continue;
    }
    if (a.state) state = a.state;
    now += a.sleepMs;
    serverTokens = Math.min(capacity, serverTokens + (now - lastServerAt) * rate);
    lastServerAt = now;
    if (serverTokens >= 1) {
      serverTokens -= 1;
      admitted++;
      // Every answer is reported (the adapter does), with the service's count when it gives one.
      if (state && a.ticket !== undefined) {
        const answer = { ticket: a.ticket, spaced: a.spaced === true };
        const remaining = counts ? Math.floor(serverTokens) : undefined;
        state = learnAnswer(state, seed, now, { ...answer, remaining }) ?? state;
      }
    } else {
      throttled++;
      const retryAfterMs = Math.max(1, Math.ceil((1 - serverTokens) / rate / 1000)) * 1000;
      state = learnThrottle(state, seed, now, retryAfterMs);
    }
    now += 1; // the next caller is already waiting
  }
  return { admitted, throttled, allowed: capacity + limitPerMinute * minutes };
}

/** The state after the answer (no count) to its last ticket at `now`, which starts a refill. */
const answered = (state: PaceState, now: number): PaceState =>
  learnAnswer(state, UNPACED, now, { ticket: state.issued, spaced: false }) ?? state;

describe('pacing rules', () => {
  it('lets an unpaced bucket through without anything to store', () => {
    expect(admit(undefined, UNPACED, 1_000, 0)).toEqual({ kind: 'go', sleepMs: 0, state: undefined });
  });

  it('calls a bucket unpaced only while admit would take nothing from it: no rate, no block in force', () => {
    expect(isUnpaced(undefined, UNPACED, 1_000)).toBe(true);
    // No row yet, but a seed paces it (runs per scope).
    expect(isUnpaced(undefined, TEN_A_MINUTE, 1_000)).toBe(false);
    // A 429 leaves a rate and a block.
    const throttled = learnThrottle(undefined, UNPACED, 1_000, 30_000);
    expect(isUnpaced(throttled, UNPACED, 1_000)).toBe(false);
    expect(isUnpaced({ ...throttled, rate: 0 }, UNPACED, 30_999)).toBe(false);
    expect(isUnpaced({ ...throttled, rate: 0 }, UNPACED, 31_000)).toBe(true);
    // Quiet for long enough, a throttled bucket is back at its unpaced seed (as admit sees it).
    expect(isUnpaced(throttled, UNPACED, 1_000 + DEFAULT_PACE_OPTIONS.quietMs + 30_000)).toBe(true);
    for (const [state, now] of [
      [undefined, 1_000],
      [throttled, 1_000 + DEFAULT_PACE_OPTIONS.quietMs + 30_000],
    ] as const)
      expect(admit(state, UNPACED, now, 0)).toEqual({ kind: 'go', sleepMs: 0, state: undefined });
  });

  it('spends a seeded burst (less a fifth left to the service), then spaces calls at the seeded rate and defers beyond the sleep limit', () => {
    let state: PaceState | undefined;
    for (let i = 0; i < 8; i++) {
      const a = admit(state, TEN_A_MINUTE, 0, 0);
      expect(a).toMatchObject({ kind: 'go', sleepMs: 0 });
      state = (a as { state: PaceState }).state;
    }
    // The first answer (at once here) starts the refill. No token left: the next call sleeps for
    // the next token, 6 s (plus the 2% margin) away...
    state = learnAnswer(state, TEN_A_MINUTE, 0, { ticket: 1, spaced: false })!;
    const next = admit(state, TEN_A_MINUTE, 0, 0);
    expect(next).toMatchObject({ kind: 'go', sleepMs: 6_120 });
    state = (next as { state: PaceState }).state;
    // ...and the one after it, 12 s away, is further than a caller may sleep: deferred.
    const after = admit(state, TEN_A_MINUTE, 0, 0);
    expect(after.kind).toBe('defer');
    expect((after as { retryAfterMs: number }).retryAfterMs).toBeGreaterThanOrEqual(
      12_000 - DEFAULT_PACE_OPTIONS.maxSleepMs,
    );
  });

  it('honours a 429: nothing goes before its Retry-After, and a quiet bucket goes back to its seed', () => {
    const state = learnThrottle(undefined, UNPACED, 10_000, 30_000);
    expect(state.blockedUntil).toBe(40_000);
    expect(admit(state, UNPACED, 11_000, 0)).toMatchObject({ kind: 'defer' });
    expect(admit(state, UNPACED, 40_000, 0)).toMatchObject({ kind: 'go', sleepMs: 0 });
    const quiet = admit(state, UNPACED, 40_000 + DEFAULT_PACE_OPTIONS.quietMs, 0);
    expect(quiet).toEqual({ kind: 'go', sleepMs: 0, state: undefined });
  });

  it('measures the rate the service admitted between two 429s', () => {
    let state = learnThrottle(undefined, UNPACED, 10_000, 1_000);
    for (let i = 0; i < 30; i++) {
      const a = admit(state, UNPACED, 11_000 + i * 1_900, 0);
      expect(a.kind).toBe('go');
      if (a.kind === 'go' && a.state) state = answered(a.state, 11_000 + i * 1_900);
    }
    const measured = learnThrottle(state, UNPACED, 70_000, 1_000);
    expect(measured.measured).toBe(true);
    // 29 calls taken in 60 s (the 30th drew the 429), less the safety margin.
    expect(measured.rate * 60_000).toBeCloseTo(29 / (1 + DEFAULT_PACE_OPTIONS.margin), 5);
  });

  it.each([
    ['a seeded limit', 10, 10, TEN_A_MINUTE, false],
    ['a stricter limit than the seed', 6, 6, TEN_A_MINUTE, false],
    ['a limit learned from nothing', 600, 10, UNPACED, false],
    ['a seeded limit, with the counts the service reports', 10, 10, TEN_A_MINUTE, true],
    ['a raised limit, with the counts the service reports', 13, 10, TEN_A_MINUTE, true],
    ['a stricter limit, with the counts the service reports', 6, 6, TEN_A_MINUTE, true],
  ])('keeps 429s rare and throughput high against %s', (_name, limit, capacity, seed, counts) => {
    const r = simulate(limit, capacity, seed, 60, counts);
    expect(r.admitted / r.allowed).toBeGreaterThanOrEqual(0.9);
    expect(r.throttled / r.admitted).toBeLessThanOrEqual(0.05);
  });

  /** Takes `n` tokens at `now`, returning the state and the tickets handed out. */
  function take(state: PaceState | undefined, seed: PaceSeed, now: number, n: number) {
    const tickets: number[] = [];
    for (let i = 0; i < n; i++) {
      const a = admit(state, seed, now, 0);
      if (a.kind !== 'go' || !a.state || a.ticket === undefined) throw new Error('expected a token');
      state = a.state;
      tickets.push(a.ticket);
    }
    return { state: state!, tickets };
  }

  it('numbers the tokens it hands out, and keeps counting across a quiet reset', () => {
    const { state, tickets } = take(undefined, TEN_A_MINUTE, 0, 3);
    expect(tickets).toEqual([1, 2, 3]);
    const later = admit(state, TEN_A_MINUTE, DEFAULT_PACE_OPTIONS.quietMs, 0);
    expect(later).toMatchObject({ kind: 'go', ticket: 4 });
  });

  it('refills a bucket that handed out tokens while full only from the first answer: the service’s refills from the first arrival', () => {
    const { state } = take(undefined, TEN_A_MINUTE, 1_000, 8); // the usable burst, spent at once
    const slot = (s: PaceState, now: number) => admit(s, TEN_A_MINUTE, now, 0);
    // 12 s later (two tokens' worth on the clock) but no answer yet: the calls may still be on their
    // way, the service's bucket full. The next slot is a refill after the longest wait for an answer.
    expect(slot(state, 13_000)).toMatchObject({ kind: 'defer' });
    const refillAt = 1_000 + DEFAULT_PACE_OPTIONS.answerWaitMs;
    expect(slot(state, refillAt + 6_200)).toMatchObject({ kind: 'go', sleepMs: 0 });
    // Ticket 1 answered at 7 s (no count on the answer): the refill runs from then.
    const answered = learnAnswer(state, TEN_A_MINUTE, 7_000, { ticket: 1, spaced: false })!;
    expect(answered.refillFrom).toBe(7_000);
    expect((slot(answered, 13_000) as { sleepMs: number }).sleepMs).toBeLessThan(200);
    // Later answers change nothing more (nothing to write).
    expect(learnAnswer(answered, TEN_A_MINUTE, 8_000, { ticket: 2, spaced: false })).toBeUndefined();
  });

  it('takes a 429 for a call issued before the last 429 as an echo: the block holds, the rate stays', () => {
    const first = take(undefined, TEN_A_MINUTE, 0, 8);
    const blocked = learnThrottle(first.state, TEN_A_MINUTE, 1_000, 6_000, DEFAULT_PACE_OPTIONS, 5);
    // Ticket 6 was already on its way when ticket 5's 429 was learnt.
    const echo = learnThrottle(blocked, TEN_A_MINUTE, 1_200, 7_000, DEFAULT_PACE_OPTIONS, 6);
    expect(echo.rate).toBe(blocked.rate);
    expect(echo.blockedUntil).toBe(8_200);
    // Without its ticket the same 429 cuts the rate again.
    expect(learnThrottle(blocked, TEN_A_MINUTE, 1_200, 7_000).rate).toBeLessThan(blocked.rate);
  });

  it('measures only the calls issued before the refused one: later ones were still on their way', () => {
    let state = learnThrottle(undefined, UNPACED, 10_000, 1_000);
    const tickets: number[] = [];
    for (let i = 0; i < 33; i++) {
      const a = admit(state, UNPACED, 11_000 + i * 1_800, 0);
      if (a.kind === 'go' && a.state) state = answered(a.state, 11_000 + i * 1_800);
      if (a.kind === 'go' && a.ticket !== undefined) tickets.push(a.ticket);
    }
    // The 30th call since the 429 is refused at 70 s; three more were issued after it.
    const measured = learnThrottle(state, UNPACED, 70_000, 1_000, DEFAULT_PACE_OPTIONS, tickets[29]);
    expect(measured.rate * 60_000).toBeCloseTo(29 / (1 + DEFAULT_PACE_OPTIONS.margin), 5);
  });

  it('brings its tokens down to the count the last ticket’s answer reports, less nothing: no call came after it', () => {
    const { state } = take(undefined, TEN_A_MINUTE, 1_000, 5); // tickets 1-5 at once, 3 of the usable 8 left
    // Another service user drained the bucket: ticket 5's answer says 0 left. Nothing was issued
    // after it, so nothing overtook it: the next call waits a slot.
    const down = learnAnswer(state, TEN_A_MINUTE, 1_100, counted(0, 5, false))!;
    expect(down.tokens).toBe(0);
    expect((admit(down, TEN_A_MINUTE, 1_100, 0) as { sleepMs: number }).sleepMs).toBeGreaterThan(5_000);
    // Nothing to bring down, an unknown ticket, or an unpaced bucket: nothing to write.
    expect(learnAnswer(down, TEN_A_MINUTE, 1_100, counted(0, 5, false))).toBeUndefined();
    expect(learnAnswer(down, TEN_A_MINUTE, 1_100, counted(3, 99))).toBeUndefined();
    expect(learnAnswer(undefined, UNPACED, 1_100, counted(3, 1))).toBeUndefined();
  });

  it('takes no tokens from a burst call’s count (calls overtake each other), only the service’s burst', () => {
    const { state } = take(undefined, TEN_A_MINUTE, 1_000, 8);
    // Ticket 8 overtook 4-7 and is answered first: the service took 1, 2, 3 and 8 of its 10 and says
    // 6 left, though 4 of those are already spoken for. Lifting to 6 would overspend: the tokens
    // stay (only the refill starts, a call having arrived).
    const eight = learnAnswer(state, TEN_A_MINUTE, 1_000, counted(6, 8, false))!;
    expect(eight).toEqual({ ...state, refillFrom: 1_000 });
    // 4-8 overtook 3: ticket 3's answer says 2 left with 5 issued after it. Bringing the tokens
    // down to -3 would stall the bucket for half a minute while the service holds 2.
    expect(learnAnswer(eight, TEN_A_MINUTE, 1_000, counted(2, 3, false))).toBeUndefined();
    // Ticket 1's answer (9 left) shows the service's burst of 10, not the seed's usable 8: a fresh
    // bucket gains the difference (its refill waited for this answer, so none of it is spent twice).
    const grown = learnAnswer(state, TEN_A_MINUTE, 1_000, counted(9, 1, false))!;
    expect(grown.capacity).toBe(10);
    expect(grown.tokens).toBeCloseTo(2, 5);
    // A bucket that drew a 429 is not fresh: its capacity grows, its tokens do not.
    const throttled = learnThrottle(state, TEN_A_MINUTE, 1_000, 6_000);
    const later = learnAnswer(throttled, TEN_A_MINUTE, 7_000, counted(9, 8, false))!;
    expect(later.capacity).toBe(10);
    expect(later.tokens).toBeCloseTo(6_000 * throttled.rate, 5);
  });

  it('brings its tokens down to a spaced call’s count, never up: an earlier call may still be on its way', () => {
    const { state } = take(undefined, TEN_A_MINUTE, 1_000, 8);
    const slot = admit(answered(state, 1_000), TEN_A_MINUTE, 1_000, 0) as {
      state: PaceState;
      ticket: number;
      sleepMs: number;
    };
    expect(slot).toMatchObject({ kind: 'go', ticket: 9, spaced: true });
    // Answered after its slot, the service says 2 left where we count none. Tickets 7 and 8 may
    // still be on their way (on a busy host they arrived 7 s after ticket 9, and lifting the tokens
    // to its count sent the next call in just after them: a 429). The tokens stay.
    const at = 1_000 + slot.sleepMs + 100;
    expect(learnAnswer(slot.state, TEN_A_MINUTE, at, counted(2, 9))).toBeUndefined();
    // Where we count 2 and it says 0 (another user took them), they come down to 0.
    expect(learnAnswer({ ...slot.state, tokens: 2 }, TEN_A_MINUTE, at, counted(0, 9))!.tokens).toBe(0);
  });

  it('takes back a fraction of a token it counts over the service: enough for a 429 on the next call', () => {
    const { state } = take(undefined, TEN_A_MINUTE, 1_000, 8);
    const full = { ...state, capacity: 10, tokens: 0, issued: 10 }; // the service's burst of 10, spent
    // 3 s on our clock: half a token refilled. The service answers ticket 10 with 0 left (its
    // refill is at or under ours), so the half token we count is not there to spend.
    const held = learnAnswer(full, TEN_A_MINUTE, 4_000, counted(0, 10))!;
    expect(held.tokens).toBe(0);
    // A twentieth of a token or less over is let be (nothing to write).
    expect(learnAnswer(held, TEN_A_MINUTE, 4_200, counted(0, 10))).toBeUndefined();
  });
});
