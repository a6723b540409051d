// The Billing API customer list against the emulator over HTTPS: pages like Azure (absolute
// nextLink), MPA-style account ids, a page failing mid-list, EA accounts refused, 403 scopes.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { type RunningEmulator, startEmulator } from '../../dev/emulator/server';
import { ArmRequestError, ArmServiceError, AuthorizationError } from '../../src/azure/armErrors';
import { type BillingCustomer, BillingCustomersClient } from '../../src/azure/billingCustomers';
import { CostExportsClient } from '../../src/azure/costExports';
import { LoopbackTokenCredential } from '../../src/azure/credentials';

const MPA = '6e0c4c1a-7b2d-4f4e-9a52-3c1d2e3f4a5b:0b9c8d7e-6f5a-4b3c-8d2e-1f0a9b8c7d6e_2019-05-31';

/** Client options for the emulator: its CA, a loopback token, no retries (every failure shows). */
function clientOptions(emulator: RunningEmulator) {
  return {
    endpoint: emulator.url,
    credential: new LoopbackTokenCredential(emulator.url),
    clientType: 'billingTest',
    caPem: emulator.caPem,
    retry: { maxRetries: 0 },
  };
}

describe('billing customers (emulator)', () => {
  let emulator: RunningEmulator;
  let client: BillingCustomersClient;

  beforeAll(async () => {
    emulator = await startEmulator({ speedFactor: Infinity });
    client = new BillingCustomersClient(clientOptions(emulator));
  });
  afterAll(() => emulator.stop());
  beforeEach(() => emulator.admin.reset());

  it('lists every customer of an MPA account page by page, as export scopes', async () => {
    await emulator.admin.setBilling({ customers: { billingAccountId: MPA, count: 7 }, pageSize: 3 });
    const all: BillingCustomer[] = [];
    let next: string | undefined;
    let pages = 0;
    do {
      const page = await client.listPage(MPA, next);
      all.push(...page.customers);
      next = page.nextLink;
      pages++;
    } while (next);
    expect(pages).toBe(3);
    expect(all).toHaveLength(7);
    expect(new Set(all.map((c) => c.customerId)).size).toBe(7);
    expect(all[0]!.scope).toBe(
      `/providers/Microsoft.Billing/billingAccounts/${MPA}/customers/${all[0]!.customerId}`,
    );
  });

  it('a page that fails mid-list is read again from the same nextLink', async () => {
    await emulator.admin.setBilling({
      customers: { billingAccountId: MPA, count: 5 },
      pageSize: 2,
      failPages: 1,
    });
    const first = await client.listPage(MPA);
    await expect(client.listPage(MPA, first.nextLink)).rejects.toBeInstanceOf(ArmServiceError);
    const again = await client.listPage(MPA, first.nextLink);
    expect(again.customers).toHaveLength(2);
  });

  it('refuses an EA account like the service, and a nextLink to another host', async () => {
    await expect(client.listPage('8611537')).rejects.toBeInstanceOf(ArmRequestError);
    await expect(
      client.listPage(
        MPA,
        `https://evil.example/providers/Microsoft.Billing/billingAccounts/${MPA}/customers`,
      ),
    ).rejects.toThrow(/nextLink/);
  });

  it('answers 403 AuthorizationFailed at a forbidden scope', async () => {
    const scope = `/providers/Microsoft.Billing/billingAccounts/${MPA}/customers/00000001-0000-4000-8000-000000000001`;
    await emulator.admin.setBilling({ forbiddenScopes: [scope] });
    const exportsClient = new CostExportsClient(clientOptions(emulator));
    await expect(exportsClient.list(scope)).rejects.toBeInstanceOf(AuthorizationError);
  });
});

describe('billing customers across an emulator restart (--data-dir)', () => {
  it('the same customers, with the same GUIDs, after a restart on the same state file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'emu-billing-'));
    const stateFile = path.join(dir, 'emulator.json');
    const list = async (emulator: RunningEmulator): Promise<BillingCustomer[]> => {
      const client = new BillingCustomersClient(clientOptions(emulator));
      const all: BillingCustomer[] = [];
      let next: string | undefined;
      do {
        const page = await client.listPage(MPA, next);
        all.push(...page.customers);
        next = page.nextLink;
      } while (next);
      return all;
    };
    try {
      const first = await startEmulator({ speedFactor: Infinity, stateFile });
      let before: BillingCustomer[];
      try {
        await first.admin.setBilling({
          customers: { billingAccountId: MPA, count: 5 },
          pageSize: 2,
          forbiddenScopes: ['/subscriptions/00000000-0000-0000-0000-0000000000ff'],
        });
        before = await list(first);
      } finally {
        await first.stop();
      }
      const second = await startEmulator({ speedFactor: Infinity, stateFile });
      try {
        expect(await list(second)).toEqual(before);
        expect(await second.admin.billing()).toMatchObject({
          pageSize: 2,
          forbiddenScopes: [expect.stringContaining('0000000000ff')],
        });
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
