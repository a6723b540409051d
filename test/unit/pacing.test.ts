import {
  admit,
  DEFAULT_PACE_OPTIONS,
  learnRemaining,
  learnThrottle,
  type PaceSeed,
  type PaceState,
} from '../../src/domain/pacing';

const UNPACED: PaceSeed = { perMinute: 0, burst: 1 };
const TEN_A_MINUTE: PaceSeed = { perMinute: 10, burst: 10 };

/** A simulated service bucket (as the emulator's throttle) and callers that always want to call. */
function simulate(limitPerMinute: number, capacity: number, seed: PaceSeed, minutes: number) {
  const rate = limitPerMinute / 60_000;
  let serverTokens = capacity;
  let state: PaceState | undefined;
  let admitted = 0;
  let throttled = 0;
  let now = 0;
  let lastServerAt = 0;
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
    } else {
      throttled++;
      const retryAfterMs = Math.max(1, Math.ceil((1 - serverTokens) / rate / 1000)) * 1000;
      state = learnThrottle(state, seed, now, retryAfterMs);
    }
    now += 1; // the next caller is already waiting
  }
  return { admitted, throttled, allowed: capacity + limitPerMinute * minutes };
}

describe('pacing rules', () => {
  it('lets an unpaced bucket through without anything to store', () => {
    expect(admit(undefined, UNPACED, 1_000, 0)).toEqual({ kind: 'go', sleepMs: 0, state: undefined });
  });

  it('spends a seeded burst (less a fifth left to the service), then spaces calls at the seeded rate and defers beyond the sleep limit', () => {
    let state: PaceState | undefined;
    for (let i = 0; i < 8; i++) {
      const a = admit(state, TEN_A_MINUTE, 0, 0);
      expect(a).toMatchObject({ kind: 'go', sleepMs: 0 });
      state = (a as { state: PaceState }).state;
    }
    // No token left: the next call sleeps for the next token, 6 s (plus the 2% margin) away...
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
      if (a.kind === 'go' && a.state) state = a.state;
    }
    const measured = learnThrottle(state, UNPACED, 70_000, 1_000);
    expect(measured.measured).toBe(true);
    // 29 calls taken in 60 s (the 30th drew the 429), less the safety margin.
    expect(measured.rate * 60_000).toBeCloseTo(29 / (1 + DEFAULT_PACE_OPTIONS.margin), 5);
  });

  it.each([
    ['a seeded limit', 10, 10, TEN_A_MINUTE],
    ['a stricter limit than the seed', 6, 6, TEN_A_MINUTE],
    ['a limit learned from nothing', 600, 10, UNPACED],
  ])('keeps 429s rare and throughput high against %s', (_name, limit, capacity, seed) => {
    const r = simulate(limit, capacity, seed, 60);
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
      if (a.kind === 'go' && a.state) state = a.state;
      if (a.kind === 'go' && a.ticket !== undefined) tickets.push(a.ticket);
    }
    // The 30th call since the 429 is refused at 70 s; three more were issued after it.
    const measured = learnThrottle(state, UNPACED, 70_000, 1_000, DEFAULT_PACE_OPTIONS, tickets[29]);
    expect(measured.rate * 60_000).toBeCloseTo(29 / (1 + DEFAULT_PACE_OPTIONS.margin), 5);
  });

  it('sets its tokens to the remaining count the service reports, less the tickets issued after the answered call', () => {
    const { state } = take(undefined, TEN_A_MINUTE, 0, 5); // tickets 1-5, 3 of the usable 8 left
    // Ticket 2's answer: the service holds 9 (its bucket of 10, less ticket 1 and 2)... and 3 more
    // tickets (3-5) are on their way: 6 left, more than the 3 we kept back, up to what it holds.
    const up = learnRemaining(state, TEN_A_MINUTE, 100, 8, 2)!;
    expect(up.tokens).toBeCloseTo(5, 5);
    expect(up.capacity).toBe(9);
    // Another service user drained it: ticket 5's answer says 0 left, so the next call waits a slot.
    const down = learnRemaining(up, TEN_A_MINUTE, 200, 0, 5)!;
    expect(down.tokens).toBeCloseTo(0, 1);
    expect(admit(down, TEN_A_MINUTE, 200, 0)).toMatchObject({ kind: 'go' });
    expect((admit(down, TEN_A_MINUTE, 200, 0) as { sleepMs: number }).sleepMs).toBeGreaterThan(5_000);
    // Less than a token apart, an unknown ticket, or an unpaced bucket: nothing to write.
    expect(learnRemaining(down, TEN_A_MINUTE, 200, 0, 5)).toBeUndefined();
    expect(learnRemaining(down, TEN_A_MINUTE, 200, 3, 99)).toBeUndefined();
    expect(learnRemaining(undefined, UNPACED, 200, 3, 1)).toBeUndefined();
  });
});
