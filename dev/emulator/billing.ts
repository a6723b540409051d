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
    try {
      answer(200, this.customersPage(req, url, match[1]!, baseUrl));
    } catch (err) {
      if (!(err instanceof BillingRefusal)) throw err;
      answer(err.status, { error: { code: err.code, message: err.message } });
    }
    return true;
  }

  /** One page of an MPA account's customers, or a BillingRefusal as the service answers. */
  private customersPage(req: IncomingMessage, url: URL, accountSegment: string, baseUrl: string): unknown {
    if ((req.method ?? 'GET').toUpperCase() !== 'GET') {
      throw new BillingRefusal(
        405,
        'MethodNotAllowed',
        `The requested resource does not support http method '${req.method}'.`,
      );
    }
    this.listCalls += 1;
    if (!/^Bearer\s+\S+/i.test(req.headers.authorization ?? '')) {
      throw new BillingRefusal(
        401,
        'AuthenticationFailed',
        "Authentication failed. The 'Authorization' header is missing.",
      );
    }
    if (url.searchParams.get('api-version') !== BILLING_API_VERSION) {
      throw new BillingRefusal(
        400,
        'InvalidApiVersionParameter',
        `The api-version '${url.searchParams.get('api-version')}' is invalid. The supported versions are '${BILLING_API_VERSION}'.`,
      );
    }
    const accountId = mpaAccountId(accountSegment);
    const customers = this.accounts.get(accountId.toLowerCase());
    if (!customers)
      throw new BillingRefusal(404, 'BillingAccountNotFound', `Billing account ${accountId} was not found.`);
    const skip = Number(url.searchParams.get('$skipToken') ?? '0');
    if (!Number.isInteger(skip) || skip < 0)
      throw new BillingRefusal(400, 'InvalidSkipToken', 'The $skipToken is not valid.');
    if (skip > 0 && this.failPages > 0) {
      this.failPages -= 1;
      throw new BillingRefusal(
        503,
        'ServiceUnavailable',
        'The service is temporarily unavailable. Please retry.',
      );
    }
    const page = customers.slice(skip, skip + this.pageSize);
    const account = `/providers/Microsoft.Billing/billingAccounts/${accountId}`;
    const next = skip + this.pageSize;
    return {
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
    };
  }
}

/** An error answer of the Billing API: status, code and message. */
class BillingRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The billing account id from the path, if it is a Microsoft Partner Agreement account. */
function mpaAccountId(segment: string): string {
  let scope;
  try {
    scope = parseScope(`/providers/Microsoft.Billing/billingAccounts/${segment}`);
  } catch (err) {
    throw new BillingRefusal(
      400,
      'InvalidBillingAccount',
      err instanceof ScopeError ? err.message : 'invalid billing account',
    );
  }
  if (billingAgreement(scope) !== 'MCA') {
    throw new BillingRefusal(
      400,
      'InvalidBillingAccountType',
      'The operation is supported only for billing accounts with agreement type Microsoft Partner Agreement.',
    );
  }
  return scope.billingAccountId!;
}
