// The Billing API's customer list (Customers_ListByBillingAccount, api-version 2024-04-01): the
// customers of a Microsoft Partner Agreement billing account, one page per call so a durable round
// can keep `nextLink` in its input and resume a list that failed mid-way.
//
// @azure/arm-billing exists, but its pager hides nextLink behind an iterator and its default retry
// policy sleeps on 429; like the Exports client we keep the ARM pipeline of @azure/arm-costmanagement
// (bearer token, user agent, TLS) with the same transient-only retry and send the GET ourselves, so a
// 429 comes back at once as ThrottledError for the round's durable timer.
import { rootCertificates } from 'node:tls';

import type * as ArmCostManagement from '@azure/arm-costmanagement';
import type { CostManagementClient } from '@azure/arm-costmanagement';
import { createHttpHeaders, createPipelineRequest, retryPolicy } from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';

import type { AppConfig } from '../config';
import { isRecord } from '../domain/json';
import { parseScope, type Scope } from '../domain/scope';
import { ArmResponseError, ArmServiceError, DEFAULT_THROTTLE_WAIT_MS, errorFromResponse } from './armErrors';
import {
  DEFAULT_ENDPOINT,
  DEFAULT_TRANSIENT_RETRY,
  SDK_DEFAULT_RETRY_POLICY,
  SDK_DESERIALIZATION_POLICY,
  type TransientRetryOptions,
  transientRetryStrategy,
  validateEndpoint,
} from './costExports';
import { ARM_TOKEN_SCOPE, costManagementAccess } from './credentials';
import { lazyModule } from './lazyModule';

// Loaded when the first client is built, not when the host imports the app (see lazyModule.ts).
const costManagementSdk = lazyModule<typeof ArmCostManagement>('@azure/arm-costmanagement');

export const BILLING_API_VERSION = '2024-04-01';

export interface BillingCustomer {
  /** The export scope: `/providers/Microsoft.Billing/billingAccounts/{account}/customers/{id}`. */
  scope: string;
  customerId: string;
  displayName?: string;
}

export interface CustomerPage {
  customers: BillingCustomer[];
  /** The next page's URL as the service gave it; absent on the last page. */
  nextLink?: string;
}

export interface BillingCustomersApi {
  /** One page of the account's customers: the first without `nextLink`, then the one it names.
   * Throws CostManagementError subclasses (ThrottledError on 429, AuthorizationError on 401/403). */
  listPage(billingAccountId: string, nextLink?: string): Promise<CustomerPage>;
}

export interface BillingCustomersClientOptions {
  credential: TokenCredential;
  clientType: string;
  endpoint?: string;
  caPem?: string;
  requestTimeoutMs?: number;
  retry?: TransientRetryOptions;
}

export class BillingCustomersClient implements BillingCustomersApi {
  private readonly client: CostManagementClient;
  private readonly endpoint: string;

  constructor(private readonly options: BillingCustomersClientOptions) {
    this.endpoint = validateEndpoint(options.endpoint ?? DEFAULT_ENDPOINT);
    this.client = new (costManagementSdk().CostManagementClient)(options.credential, {
      endpoint: this.endpoint,
      credentialScopes: [ARM_TOKEN_SCOPE],
      userAgentOptions: { userAgentPrefix: 'cost-export-autopilot' },
      ...(options.caPem ? { tlsOptions: { ca: [...rootCertificates, options.caPem] } } : {}),
    });
    const pipeline = this.client.pipeline;
    pipeline.removePolicy({ name: SDK_DESERIALIZATION_POLICY });
    pipeline.removePolicy({ name: SDK_DEFAULT_RETRY_POLICY });
    const retry = { ...DEFAULT_TRANSIENT_RETRY, ...options.retry };
    pipeline.addPolicy(retryPolicy([transientRetryStrategy(retry)], { maxRetries: retry.maxRetries }), {
      phase: 'Retry',
    });
  }

  async listPage(billingAccountId: string, nextLink?: string): Promise<CustomerPage> {
    const account = parseScope(`/providers/Microsoft.Billing/billingAccounts/${billingAccountId}`);
    const first = `${this.endpoint}${account.canonical}/customers?api-version=${BILLING_API_VERSION}`;
    const url = nextLink === undefined ? first : this.checkNextLink(account, nextLink);
    const context = { operation: 'listCustomers' as const, scope: account.canonical };
    let response;
    try {
      response = await this.client.sendRequest(
        createPipelineRequest({
          url,
          method: 'GET',
          headers: createHttpHeaders({ Accept: 'application/json', ClientType: this.options.clientType }),
          abortSignal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 120_000),
        }),
      );
    } catch (error) {
      throw new ArmServiceError(
        { ...context, code: (error as { code?: string }).code ?? 'RequestSendError' },
        'no usable response',
      );
    }
    if (response.status !== 200) {
      throw errorFromResponse(
        context,
        { status: response.status, headers: response.headers, bodyText: response.bodyAsText ?? '' },
        { nowMs: Date.now(), defaultThrottleWaitMs: DEFAULT_THROTTLE_WAIT_MS },
      );
    }
    return parseCustomerPage(account, response.bodyAsText ?? '', (detail) => {
      throw new ArmResponseError({ ...context, status: 200, code: 'UnexpectedResponseShape' }, detail);
    });
  }

  /** The bearer token goes only to our endpoint, and only for this account's customer list. */
  private checkNextLink(account: Scope, nextLink: string): string {
    let url: URL;
    try {
      url = new URL(nextLink);
    } catch {
      throw new Error('nextLink: not an absolute URL');
    }
    const expected = new URL(`${this.endpoint}${account.canonical}/customers`);
    const samePath =
      decodeURIComponent(url.pathname).toLowerCase() === decodeURIComponent(expected.pathname).toLowerCase();
    if (url.origin !== expected.origin || !samePath) {
      throw new Error(`nextLink: expected a page of ${expected.origin}${account.canonical}/customers`);
    }
    return url.toString();
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `{ value: Customer[], nextLink? }` → customer scopes. A customer whose name is not a GUID is
 * skipped (no export scope can be made from it) rather than failing the page. */
export function parseCustomerPage(
  account: Scope,
  text: string,
  fail: (detail: string) => never,
): CustomerPage {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fail(`response body is not JSON (${text.length} characters)`);
  }
  if (!isRecord(json) || !Array.isArray(json.value)) return fail('expected { value: [...] }');
  const customers: BillingCustomer[] = [];
  for (const item of json.value) {
    if (!isRecord(item)) continue;
    const name = typeof item.name === 'string' ? item.name : '';
    if (!GUID.test(name)) continue;
    const customerId = name.toLowerCase();
    const props = isRecord(item.properties) ? item.properties : {};
    customers.push({
      scope: `${account.canonical}/customers/${customerId}`,
      customerId,
      ...(typeof props.displayName === 'string' ? { displayName: props.displayName.slice(0, 200) } : {}),
    });
  }
  const nextLink = typeof json.nextLink === 'string' && json.nextLink !== '' ? json.nextLink : undefined;
  return { customers, ...(nextLink ? { nextLink } : {}) };
}

export function createBillingCustomersClient(settings: AppConfig['costManagement']): BillingCustomersClient {
  const access = costManagementAccess(settings);
  return new BillingCustomersClient({
    endpoint: access.endpoint,
    credential: access.credential,
    clientType: access.clientType,
    ...(access.caPem ? { caPem: access.caPem } : {}),
  });
}
