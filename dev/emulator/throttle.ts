// Token buckets for the emulator's throttling: per principal and per scope, separately for runs
// (POST .../run) and for every other call. Pure: time comes from an injected monotonic clock (ms).

/** `limit` calls per `windowSeconds`, refilled continuously; the bucket holds at most `limit`
 * tokens, so a quiet client may burst `limit` calls and then settles at limit/window. */
export interface BucketLimit {
  limit: number;
  windowSeconds: number;
}

export interface ThrottleLimits {
  runPerPrincipal?: BucketLimit | null;
  runPerScope?: BucketLimit | null;
  otherPerPrincipal?: BucketLimit | null;
  otherPerScope?: BucketLimit | null;
}

export type ThrottleRule = keyof ThrottleLimits;

/** What Cost Management is reported to allow: about 10 run POSTs a minute per scope and ClientType
 * before 429 + Retry-After ("throttling happens consistently every 11 months" of a backfill that
 * posts one run per month, microsoft/finops-toolkit#1611). `npm run dev`, the demo, the emulator
 * CLI and the end-to-end tests start with it; the scope bucket is keyed by scope and ClientType. */
export const REALISTIC_THROTTLE: Readonly<ThrottleLimits> = Object.freeze({
  runPerScope: { limit: 10, windowSeconds: 60 },
});

export interface ThrottleDecision {
  allowed: boolean;
  /** Seconds to wait (whole seconds, rounded up, at least 1) when refused. */
  retryAfterSeconds?: number;
  /** Which bucket refused: principal buckets are reported as "client", scope ones as "entity"
   * (the names Cost Management uses in its x-ms-ratelimit-microsoft.costmanagement-*-retry-after headers). */
  rule?: ThrottleRule;
  /** For an admitted call: whole tokens each applicable bucket holds after it (what Cost Management
   * reports in x-ms-ratelimit-remaining-microsoft.costmanagement-*-requests). */
  remaining?: { rule: ThrottleRule; remaining: number }[];
}

export function validateBucketLimit(name: string, value: unknown): BucketLimit | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value !== 'object')
    throw new Error(`${name} must be an object { limit, windowSeconds } or null`);
  const { limit, windowSeconds } = value as Record<string, unknown>;
  if (typeof limit !== 'number' || !Number.isFinite(limit) || limit <= 0)
    throw new Error(`${name}.limit must be a positive number`);
  if (typeof windowSeconds !== 'number' || !Number.isFinite(windowSeconds) || windowSeconds <= 0)
    throw new Error(`${name}.windowSeconds must be a positive number`);
  return { limit, windowSeconds };
}

export function validateThrottleLimits(value: unknown): ThrottleLimits {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object') throw new Error('throttle must be an object');
  const input = value as Record<string, unknown>;
  const out: ThrottleLimits = {};
  for (const rule of RULES) {
    if (rule in input) out[rule] = validateBucketLimit(`throttle.${rule}`, input[rule]);
  }
  const unknown = Object.keys(input).filter((k) => !RULES.includes(k as ThrottleRule));
  if (unknown.length) throw new Error(`throttle has unknown field(s): ${unknown.join(', ')}`);
  return out;
}

const RULES: ThrottleRule[] = ['runPerPrincipal', 'runPerScope', 'otherPerPrincipal', 'otherPerScope'];

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly limit: BucketLimit,
    now: number,
  ) {
    this.tokens = limit.limit;
    this.updatedAt = now;
  }

  private refill(now: number): void {
    const rate = this.limit.limit / (this.limit.windowSeconds * 1000);
    this.tokens = Math.min(this.limit.limit, this.tokens + Math.max(0, now - this.updatedAt) * rate);
    this.updatedAt = now;
  }

  /** Milliseconds until one token is available (0 when one is there now). */
  waitMs(now: number): number {
    this.refill(now);
    if (this.tokens >= 1) return 0;
    const rate = this.limit.limit / (this.limit.windowSeconds * 1000);
    return (1 - this.tokens) / rate;
  }

  take(now: number): void {
    this.refill(now);
    this.tokens -= 1;
  }

  /** Whole tokens left (after refilling to `now`). */
  remaining(now: number): number {
    this.refill(now);
    return Math.max(0, Math.floor(this.tokens));
  }
}

/** All buckets of one emulator. A call consumes a token from each bucket that applies only when
 * every one of them has a token, so a refused call costs nothing. */
export class Throttle {
  private buckets = new Map<string, TokenBucket>();
  private limits: ThrottleLimits;

  constructor(
    limits: ThrottleLimits = {},
    private readonly now: () => number = () => performance.now(),
  ) {
    this.limits = { ...limits };
  }

  getLimits(): ThrottleLimits {
    return { ...this.limits };
  }

  /** Replaces the given rules (null removes one) and forgets their buckets, so new limits start full. */
  setLimits(update: ThrottleLimits): void {
    for (const rule of RULES) {
      if (!(rule in update)) continue;
      const limit = update[rule];
      if (limit === undefined || limit === null) delete this.limits[rule];
      else this.limits[rule] = limit;
      for (const key of [...this.buckets.keys()]) if (key.startsWith(`${rule}|`)) this.buckets.delete(key);
    }
  }

  reset(): void {
    this.buckets.clear();
  }

  check(kind: 'run' | 'other', principal: string, scope: string): ThrottleDecision {
    const now = this.now();
    const rules: [ThrottleRule, string][] =
      kind === 'run'
        ? [
            ['runPerPrincipal', principal],
            ['runPerScope', scope],
          ]
        : [
            ['otherPerPrincipal', principal],
            ['otherPerScope', scope],
          ];
    const applicable: [ThrottleRule, TokenBucket][] = [];
    for (const [rule, key] of rules) {
      const limit = this.limits[rule];
      if (!limit) continue;
      const bucketKey = `${rule}|${key}`;
      let bucket = this.buckets.get(bucketKey);
      if (!bucket) {
        bucket = new TokenBucket(limit, now);
        this.buckets.set(bucketKey, bucket);
      }
      applicable.push([rule, bucket]);
    }
    let worst: { rule: ThrottleRule; waitMs: number } | undefined;
    for (const [rule, bucket] of applicable) {
      const waitMs = bucket.waitMs(now);
      if (waitMs > 0 && (!worst || waitMs > worst.waitMs)) worst = { rule, waitMs };
    }
    if (worst) {
      return {
        allowed: false,
        rule: worst.rule,
        retryAfterSeconds: Math.max(1, Math.ceil(worst.waitMs / 1000)),
      };
    }
    for (const [, bucket] of applicable) bucket.take(now);
    return {
      allowed: true,
      remaining: applicable.map(([rule, bucket]) => ({ rule, remaining: bucket.remaining(now) })),
    };
  }
}

/** The header Cost Management names for the bucket that refused. */
export function rateLimitHeaderName(rule: ThrottleRule): string {
  const entity = rule.endsWith('PerScope') ? 'entity' : 'client';
  return `x-ms-ratelimit-microsoft.costmanagement-${entity}-retry-after`;
}

/** The header Cost Management reports a bucket's remaining calls in, and its value's form
 * ("DefaultQuota:7", microsoft/AzureTRE#2835; the ClientType bucket's name from
 * electrolux-oss/azure-cost-exporter#8). Scope buckets are "entity", principal ones "clienttype". */
export function remainingHeader(rule: ThrottleRule, remaining: number): [string, string] {
  const bucket = rule.endsWith('PerScope') ? 'entity' : 'clienttype';
  return [
    `x-ms-ratelimit-remaining-microsoft.costmanagement-${bucket}-requests`,
    `DefaultQuota:${remaining}`,
  ];
}
