// Whether Cost Management accepts the app's identity on each managed scope: one Exports `list` per
// scope, at most `concurrency` at a time, remembered for a few minutes so a dashboard refreshing
// every 30 s costs ARM nothing; and, for a refused scope, which role to grant.
import { AuthorizationError, isCostManagementError, ThrottledError } from '../azure/armErrors';
import { mapWithConcurrency } from '../azure/catalog';
import type { CostExportsApi } from '../azure/costExports';
import { positiveWhole as positive } from '../domain/fieldError';
import { redactError, redactSecrets } from '../domain/redact';
import { billingAgreement, parseScope, type Scope, scopeKey, type ScopeKind } from '../domain/scope';
import type { StatusProblem } from '../domain/statusProblems';

export type ScopeAccessState = 'ok' | 'forbidden' | 'throttled' | 'error';

export interface ScopeAccess {
  /** Canonical scope, or the configured text when it is not a scope. */
  scope: string;
  kind?: ScopeKind;
  access: ScopeAccessState;
  /** Exports Cost Management lists at the scope (when `ok`). */
  exportsInCostManagement?: number;
  /** What went wrong, redacted. */
  message?: string;
  /** For `forbidden`: which role to grant at this kind of scope. */
  roleHint?: string;
  /** For `throttled`: the wait Cost Management asked for. */
  retryAfterSeconds?: number;
  checkedAt: string;
  /** True when this answer came from the cache rather than a call made for this request. */
  cached: boolean;
}

const DEPLOYMENT_DOC = 'See docs/deployment.md, "Grant Cost Management access".';

/** The role the app identity needs to manage exports at a scope, per docs/deployment.md. */
export function roleHint(scope: Scope): string {
  const at = scope.canonical;
  const hint = ((): string => {
    switch (scope.kind) {
      case 'subscription':
      case 'resourceGroup':
      case 'managementGroup':
        return `Grant the app's identity Cost Management Contributor (Azure RBAC) at ${at}.`;
      case 'billingAccount':
        return billingAgreement(scope) === 'EA'
          ? `Grant the app's identity the EnrollmentReader billing role on enrollment ${scope.billingAccountId} (an Enterprise Administrator assigns it with the Billing REST API).`
          : `Grant the app's identity Billing account contributor on billing account ${scope.billingAccountId} (a billing account owner assigns it with the Billing REST API).`;
      case 'department':
        return `Grant the app's identity the DepartmentReader billing role on department ${scope.departmentId} (an Enterprise or Department Administrator assigns it); the "DA view charges" policy must be on.`;
      case 'enrollmentAccount':
        return `No service-principal role exists at enrollment account level: grant DepartmentReader on its department, or EnrollmentReader on enrollment ${scope.billingAccountId}; the "AO view charges" policy must be on.`;
      case 'billingProfile':
        return `Grant the app's identity Billing profile contributor on billing profile ${scope.billingProfileId} (a billing profile or billing account owner assigns it).`;
      case 'invoiceSection':
        return `Grant the app's identity Invoice section contributor on invoice section ${scope.invoiceSectionId} (an invoice section, billing profile or billing account owner assigns it).`;
      case 'customer':
        return `Grant the app's identity a customer-scope billing role (contributor) from GET ${at}/billingRoleDefinitions; the partner's billing admin assigns it.`;
    }
  })();
  return `${hint} ${DEPLOYMENT_DOC}`;
}

type AccessAnswer = Omit<ScopeAccess, 'cached'>;

interface CacheEntry {
  answer: Promise<AccessAnswer>;
  /** Infinity while the call is in flight: concurrent requests share it. */
  expiresAt: number;
}

export interface ScopeAccessCheckerOptions {
  /** How long an answer is reused. Default 5 minutes. */
  ttlMs?: number;
  /** `list` calls in flight at once. Default 4. */
  concurrency?: number;
  /** Deadline for one `list` call, transient retries included. Default 20 s. */
  callTimeoutMs?: number;
  /** Longest a throttled answer is kept when Cost Management asks for a longer wait. Default 1 hour. */
  maxThrottledTtlMs?: number;
  now?: () => number;
}

export type ExportLister = Pick<CostExportsApi, 'list'>;

/** One `list` per scope, remembered per process for `ttlMs` (longer for a throttled scope, up to the
 * wait it was told), so refreshing a dashboard does not spend the app's ARM quota. */
export class ScopeAccessChecker {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly ttlMs: number;
  private readonly concurrency: number;
  private readonly callTimeoutMs: number;
  private readonly maxThrottledTtlMs: number;
  private readonly now: () => number;

  constructor(options: ScopeAccessCheckerOptions = {}) {
    this.ttlMs = positive('ttlMs', options.ttlMs ?? 5 * 60_000);
    this.concurrency = positive('concurrency', options.concurrency ?? 4);
    this.callTimeoutMs = positive('callTimeoutMs', options.callTimeoutMs ?? 20_000);
    this.maxThrottledTtlMs = positive('maxThrottledTtlMs', options.maxThrottledTtlMs ?? 3_600_000);
    this.now = options.now ?? Date.now;
  }

  /** Answers for `scopes` in their order. Never throws: every failure becomes an answer. */
  async check(scopes: readonly string[], exports: ExportLister): Promise<ScopeAccess[]> {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);

    // Entries for new scopes are registered before the first await, so a concurrent request shares
    // the calls instead of making its own.
    const answers: Promise<ScopeAccess>[] = [];
    const calls: { scope: Scope; resolve: (answer: AccessAnswer) => void }[] = [];
    for (const text of scopes) {
      let scope: Scope;
      try {
        scope = parseScope(text);
      } catch (error) {
        answers.push(
          Promise.resolve({
            scope: redactSecrets(text),
            access: 'error',
            message: redactError(error).replace(/^ScopeError: /, ''),
            checkedAt: new Date(now).toISOString(),
            cached: false,
          }),
        );
        continue;
      }
      const key = scopeKey(scope);
      const known = this.entries.get(key);
      if (known) {
        answers.push(known.answer.then((answer) => ({ ...answer, cached: true })));
        continue;
      }
      let resolve!: (answer: AccessAnswer) => void;
      const answer = new Promise<AccessAnswer>((r) => (resolve = r));
      const entry: CacheEntry = { answer, expiresAt: Number.POSITIVE_INFINITY };
      this.entries.set(key, entry);
      calls.push({
        scope,
        resolve: (a) => {
          entry.expiresAt = this.expiry(a);
          resolve(a);
        },
      });
      answers.push(answer.then((a) => ({ ...a, cached: false })));
    }
    await mapWithConcurrency(calls, this.concurrency, async ({ scope, resolve }) => {
      // call() turns failures into answers; the guard keeps a bug from leaving waiters pending forever.
      const answer = await this.call(scope, exports).catch((error: unknown): AccessAnswer => ({
        scope: scope.canonical,
        kind: scope.kind,
        access: 'error',
        message: redactError(error),
        checkedAt: this.stamp(),
      }));
      resolve(answer);
    });
    return Promise.all(answers);
  }

  /** Forgets every answer (tests; a redeployment does this anyway). */
  clear(): void {
    this.entries.clear();
  }

  private expiry(answer: AccessAnswer): number {
    const checkedAt = Date.parse(answer.checkedAt);
    const wait = answer.retryAfterSeconds === undefined ? 0 : answer.retryAfterSeconds * 1000;
    return checkedAt + Math.max(this.ttlMs, Math.min(wait, this.maxThrottledTtlMs));
  }

  private async call(scope: Scope, exports: ExportLister): Promise<AccessAnswer> {
    const base = { scope: scope.canonical, kind: scope.kind };
    const deadline = AbortSignal.timeout(this.callTimeoutMs);
    try {
      const listed = await exports.list(scope, { abortSignal: deadline });
      return { ...base, access: 'ok', exportsInCostManagement: listed.length, checkedAt: this.stamp() };
    } catch (error) {
      const checkedAt = this.stamp();
      if (error instanceof AuthorizationError) {
        return { ...base, access: 'forbidden', message: error.message, roleHint: roleHint(scope), checkedAt };
      }
      if (error instanceof ThrottledError) {
        return {
          ...base,
          access: 'throttled',
          message: error.message,
          retryAfterSeconds: Math.ceil(error.retryAfterMs / 1000),
          checkedAt,
        };
      }
      if (deadline.aborted && !isCostManagementError(error)) {
        return { ...base, access: 'error', message: `no answer within ${this.callTimeoutMs} ms`, checkedAt };
      }
      return {
        ...base,
        access: 'error',
        message: isCostManagementError(error) ? error.message : redactError(error),
        checkedAt,
      };
    }
  }

  private stamp(): string {
    return new Date(this.now()).toISOString();
  }
}

/** A scope the app cannot use, as a problem with its fix. */
export function scopeProblem(s: ScopeAccess): StatusProblem {
  const base = { kind: 'scopeAccess' as const, subject: s.scope };
  switch (s.access) {
    case 'forbidden':
      return { ...base, message: `forbidden: ${s.message ?? ''}`, fix: s.roleHint ?? DEPLOYMENT_DOC };
    case 'throttled':
      return {
        ...base,
        message: `throttled: ${s.message ?? ''}`,
        fix: `Wait${s.retryAfterSeconds !== undefined ? ` ${s.retryAfterSeconds} s` : ''} for Cost Management's limit to reset; lower the app's concurrency settings if it persists.`,
      };
    default:
      return {
        ...base,
        message: `error: ${s.message ?? ''}`,
        fix: 'Check the scope in MANAGED_SCOPES (one of the nine scope kinds) and that Cost Management answers.',
      };
  }
}
