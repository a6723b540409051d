// AUTH_MODE=entra through the real registrations over real HTTP: the edge answers 401 without a
// caller, 403 naming the missing app role, and lets a caller with the role through. The header is
// built as App Service Authentication builds it in front of the app in Azure.
import { type AppHost, startAppHost } from '../support/appHost';
import { clientPrincipal } from '../support/clientPrincipal';

jest.setTimeout(180_000);

let stack: AppHost;

beforeAll(async () => {
  stack = await startAppHost({ settings: { AUTH_MODE: 'entra' } });
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
