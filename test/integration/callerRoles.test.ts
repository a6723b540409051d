// AUTH_MODE=entra through the real registrations over real HTTP, on a host that demands function
// keys as Azure does: no key is needed (the routes are anonymous), the edge answers 401 without a
// caller, 403 naming the missing app role, and lets a caller with the role through; in Azure without
// App Service Authentication on, it trusts no principal at all. The header is built as App Service
// Authentication builds it in front of the app in Azure.
import { registrations } from '../../dev/host/functionsCoreStub';
import { resetConfigCache } from '../../src/config';
import { useAppServices } from '../../src/services/appServices';
import { type AppHost, startAppHost } from '../support/appHost';
import { clientPrincipal } from '../support/clientPrincipal';

jest.setTimeout(180_000);

let stack: AppHost;
const logs: string[] = [];

beforeAll(async () => {
  stack = await startAppHost({
    settings: { AUTH_MODE: 'entra' },
    requireKeys: true,
    logger: (level, message) => logs.push(`${level} ${message}`),
  });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

async function call(
  method: string,
  path: string,
  header?: string,
  body?: unknown,
): Promise<{
  status: number;
  body: { error?: { code: string; message: string; fields: { field: string }[] } };
}> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (header !== undefined) headers['x-ms-client-principal'] = header;
  const res = await fetch(`${stack.api}/${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as never };
}

describe('AUTH_MODE=entra', () => {
  it('registers every HTTP route anonymous, so the role check is the one gate and no key is needed', () => {
    const http = registrations.filter((r) => r.trigger.type === 'httpTrigger');
    expect(http.length).toBeGreaterThan(10);
    expect(http.filter((r) => r.trigger.authLevel !== 'anonymous').map((r) => r.name)).toEqual([]);
  });

  it('answers 401 in the one error shape without a caller, or with an unreadable one', async () => {
    // (A header past 16 KiB never reaches the app: Node's HTTP server refuses it; see the unit tests.)
    for (const header of [undefined, 'not base64!', Buffer.from('{').toString('base64')]) {
      const answer = await call('GET', 'status', header);
      expect(answer.status).toBe(401);
      expect(answer.body.error).toMatchObject({
        code: 'Unauthenticated',
        fields: [{ field: 'x-ms-client-principal' }],
      });
    }
  });

  it('lets a reader read status, ledger and the token list', async () => {
    for (const path of ['status', 'ledger', 'tokens', 'fleet/profiles']) {
      const answer = await call('GET', path, clientPrincipal(['reader']));
      expect({ path, status: answer.status }).toEqual({ path, status: 200 });
    }
  });

  it('refuses a reader (or a caller with no app role) a change, naming the missing role', async () => {
    for (const roles of [['reader'], [], ['Operator']]) {
      const answer = await call('POST', 'tokens', clientPrincipal(roles), {});
      expect(answer.status).toBe(403);
      expect(answer.body.error?.code).toBe('Forbidden');
      expect(answer.body.error?.message).toContain('"operator"');
    }
    const status = await call('GET', 'status', clientPrincipal([]));
    expect(status.status).toBe(403);
    expect(status.body.error?.message).toContain('"reader"');
  });

  it('lets an operator through to the route itself (here its own validation), and read', async () => {
    const change = await call('POST', 'tokens', clientPrincipal(['operator']), {});
    expect(change.status).toBe(400);
    expect(change.body.error?.code).not.toBe('Forbidden');
    expect((await call('GET', 'status', clientPrincipal(['operator']))).status).toBe(200);
  });
});

describe('AUTH_MODE=entra in Azure while App Service Authentication is off', () => {
  // Nothing then strips a forged x-ms-client-principal, so the settings are refused and every route
  // fails closed, whatever principal the request carries.
  const inAzure: Record<string, string> = {
    WEBSITE_INSTANCE_ID: 'instance-1',
    SECRET_STORE: 'keyvault',
    KEY_VAULT_URI: 'https://kv.vault.azure.net',
  };
  const saved = new Map<string, string | undefined>();
  beforeAll(() => {
    for (const [name, value] of Object.entries(inAzure)) {
      saved.set(name, process.env[name]);
      process.env[name] = value;
    }
    delete process.env.WEBSITE_AUTH_ENABLED;
    resetConfigCache();
    useAppServices(undefined);
  });
  afterAll(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    resetConfigCache();
    useAppServices(undefined);
  });

  it('refuses an operator principal (500 Misconfigured); health and the log name the settings', async () => {
    logs.length = 0;
    for (const [method, path] of [
      ['GET', 'status'],
      ['GET', 'fleet/profiles'],
      ['POST', 'tokens'],
    ] as const) {
      const answer = await call(
        method,
        path,
        clientPrincipal(['operator']),
        method === 'POST' ? {} : undefined,
      );
      expect({ path, status: answer.status, code: answer.body.error?.code }).toEqual({
        path,
        status: 500,
        code: 'Misconfigured',
      });
      expect(JSON.stringify(answer.body)).not.toContain('WEBSITE_AUTH_ENABLED');
    }
    const health = await fetch(`${stack.api}/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { problems: string[] }).problems).toEqual([
      expect.stringMatching(/^AUTH_MODE: entra needs App Service Authentication .*WEBSITE_AUTH_ENABLED/),
    ]);
    expect(logs.join('\n')).toContain(
      'AUTH_MODE: entra needs App Service Authentication turned on for the app (WEBSITE_AUTH_ENABLED is not True)',
    );
  });
});
