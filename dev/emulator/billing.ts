// The part of the Billing API the fleet needs: Customers_ListByBillingAccount
// (`GET /providers/Microsoft.Billing/billingAccounts/{id}/customers?api-version=2024-04-01`), paged
// like ARM with an absolute `nextLink`, in the shape of the spec's example
// (azure-rest-api-specs, billing/stable/2024-04-01/examples/customersListByBillingAccount.json).
// Only Microsoft Partner Agreement accounts (`{guid}:{guid}_{yyyy-mm-dd}`) have customers; an EA
// account answers 400 like the service ("supported only for ... Microsoft Partner Agreement").
// Also here: scopes the caller has no rights at, so a round meets a 403 AuthorizationFailed.
import type { IncomingMessage, ServerResponse } from 'node:http';

import { billingAgreement, parseScope, ScopeError, scopeKey } from '../../src/domain/scope';

export const BILLING_API_VERSION = '2024-04-01';
const CUSTOMERS_ROUTE = /^\/*providers\/microsoft\.billing\/billingaccounts\/([^/]+)\/customers\/*$/i;

export interface EmulatedCustomer {
  /** GUID, the customer's name in its resource id. */
  id: string;
  displayName: string;
  billingProfileId: string;
}

export interface BillingView {
  accounts: Record<string, number>;
  pageSize: number;
  /** Pages still to fail (503) before the list answers again; the first page never fails. */
  failPages: number;
  forbiddenScopes: string[];
  listCalls: number;
}

/** A GUID made from two numbers, so a fleet of 2,000 customers is reproducible. */
export function customerGuid(account: number, index: number): string {
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0').slice(-width);
  return `${hex(account, 8)}-0000-4000-8000-${hex(index, 12)}`;
}

export interface BillingSnapshot {
  accounts: Record<string, EmulatedCustomer[]>;
  ordinals: Record<string, number>;
  forbiddenScopes: string[];
  pageSize: number;
}

export class BillingState {
  private readonly accounts = new Map<string, EmulatedCustomer[]>();
  private readonly forbidden = new Set<string>();
  private readonly ordinals = new Map<string, number>();
  pageSize = 50;
  failPages = 0;
  listCalls = 0;

  /** Replaces the customers of an MPA billing account with `count` generated ones. */
  setCustomers(billingAccountId: string, count: number): void {
    const scope = parseScope(`/providers/Microsoft.Billing/billingAccounts/${billingAccountId}`);
    const id = scope.billingAccountId!;
    // The same account keeps its GUIDs when its customer count changes (customers join and leave).
    const ordinal = this.ordinals.get(id.toLowerCase()) ?? this.ordinals.size + 1;
    this.ordinals.set(id.toLowerCase(), ordinal);
    const profile = `${scope.canonical}/billingProfiles/PR01-FLT1-BG7-TGB`;
    this.accounts.set(
      id.toLowerCase(),
      Array.from({ length: count }, (_, i) => ({
        id: customerGuid(ordinal, i + 1),
        displayName: `Customer ${i + 1}`,
        billingProfileId: profile,
      })),
    );
  }

  setForbidden(scopes: string[]): void {
    this.forbidden.clear();
    for (const s of scopes) this.forbidden.add(scopeKey(s));
  }

  isForbidden(scopeKeyText: string): boolean {
    return this.forbidden.has(scopeKeyText);
  }

  view(): BillingView {
    return {
      accounts: Object.fromEntries([...this.accounts].map(([k, v]) => [k, v.length])),
      pageSize: this.pageSize,
      failPages: this.failPages,
      forbiddenScopes: [...this.forbidden],
      listCalls: this.listCalls,
    };
  }

  /** What a restart must keep (--data-dir): customers, their GUID ordinals, refusals, page size. */
  snapshot(): BillingSnapshot {
    return {
      accounts: Object.fromEntries(this.accounts),
      ordinals: Object.fromEntries(this.ordinals),
      forbiddenScopes: [...this.forbidden],
      pageSize: this.pageSize,
    };
  }

  restore(snapshot: BillingSnapshot): void {
    this.reset();
    for (const [id, customers] of Object.entries(snapshot.accounts)) this.accounts.set(id, customers);
    for (const [id, ordinal] of Object.entries(snapshot.ordinals)) this.ordinals.set(id, ordinal);
    for (const s of snapshot.forbiddenScopes) this.forbidden.add(s);
    this.pageSize = snapshot.pageSize;
  }

  reset(): void {
    this.accounts.clear();
    this.ordinals.clear();
    this.forbidden.clear();
    this.failPages = 0;
    this.listCalls = 0;
    this.pageSize = 50;
  }

  /** Serves the customer list; false when the path is not a customers path. */
  handle(req: IncomingMessage, res: ServerResponse, baseUrl: string): boolean {
    const url = new URL(`https://emulator${req.url ?? '/'}`);
    const match = CUSTOMERS_ROUTE.exec(url.pathname);
    if (!match) return false;
    const answer = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    const fail = (status: number, code: string, message: string) =>
      answer(status, { error: { code, message } });
    if ((req.method ?? 'GET').toUpperCase() !== 'GET') {
      fail(405, 'MethodNotAllowed', `The requested resource does not support http method '${req.method}'.`);
      return true;
    }
    this.listCalls += 1;
    if (!/^Bearer\s+\S+/i.test(req.headers.authorization ?? '')) {
      fail(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.");
      return true;
    }
    if (url.searchParams.get('api-version') !== BILLING_API_VERSION) {
      fail(
        400,
        'InvalidApiVersionParameter',
        `The api-version '${url.searchParams.get('api-version')}' is invalid. The supported versions are '${BILLING_API_VERSION}'.`,
      );
      return true;
    }
    let accountId: string;
    try {
      const scope = parseScope(`/providers/Microsoft.Billing/billingAccounts/${match[1]!}`);
      if (billingAgreement(scope) !== 'MCA') {
        fail(
          400,
          'InvalidBillingAccountType',
          'The operation is supported only for billing accounts with agreement type Microsoft Partner Agreement.',
        );
        return true;
      }
      accountId = scope.billingAccountId!;
    } catch (err) {
      fail(400, 'InvalidBillingAccount', err instanceof ScopeError ? err.message : 'invalid billing account');
      return true;
    }
    const customers = this.accounts.get(accountId.toLowerCase());
    if (!customers) {
      fail(404, 'BillingAccountNotFound', `Billing account ${accountId} was not found.`);
      return true;
    }
    const skip = Number(url.searchParams.get('$skipToken') ?? '0');
    if (!Number.isInteger(skip) || skip < 0) {
      fail(400, 'InvalidSkipToken', 'The $skipToken is not valid.');
      return true;
    }
    if (skip > 0 && this.failPages > 0) {
      this.failPages -= 1;
      fail(503, 'ServiceUnavailable', 'The service is temporarily unavailable. Please retry.');
      return true;
    }
    const page = customers.slice(skip, skip + this.pageSize);
    const account = `/providers/Microsoft.Billing/billingAccounts/${accountId}`;
    const next = skip + this.pageSize;
    answer(200, {
      value: page.map((c) => ({
        id: `${c.billingProfileId}/customers/${c.id}`,
        name: c.id,
        type: 'Microsoft.Billing/billingAccounts/billingProfiles/customers',
        properties: {
          billingProfileDisplayName: 'Partner billing',
          billingProfileId: c.billingProfileId,
          displayName: c.displayName,
          systemId: c.id.slice(0, 8),
          status: 'Active',
        },
      })),
      ...(next < customers.length
        ? { nextLink: `${baseUrl}${account}/customers?api-version=${BILLING_API_VERSION}&$skipToken=${next}` }
        : {}),
    });
    return true;
  }
}
