import {
  DEFAULT_PACE_OPTIONS,
  admit,
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
});
