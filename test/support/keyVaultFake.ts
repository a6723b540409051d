// A local HTTPS fake of the Key Vault secrets REST endpoints the SDK (@azure/keyvault-secrets) calls:
// PUT /secrets/{name} (set) and GET /secrets/{name}[/{version}] (get), behind the challenge-based auth
// flow: a request without a bearer token gets `401` with `WWW-Authenticate: Bearer
// authorization="https://login.microsoftonline.com/{tenant}", resource="https://vault.azure.net"`, and
// the SDK then retries with a token for that resource. Faults: `down` answers every request 503;
// `failNext` scripts one-off statuses or dropped connections.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';

import { createLoopbackCertificate } from '../../dev/tls';

export interface FakeSecretVersion {
  version: string;
  value: string;
  contentType?: string;
  /** `attributes.exp` as a Date (Key Vault sends Unix seconds). */
  expiresOn?: Date;
  enabled: boolean;
  tags: Record<string, string>;
  created: Date;
}

export interface KeyVaultRequestRecord {
  method: string;
  path: string;
  apiVersion: string | null;
  authorized: boolean;
  status: number;
}

export type KeyVaultFault = number | 'reset';

export interface KeyVaultFake {
  /** `https://127.0.0.1:{port}` — the vault URL. */
  url: string;
  caPem: string;
  tenantId: string;
  /** Every request, oldest first (no bodies: they hold secret values). */
  requests: KeyVaultRequestRecord[];
  /** Versions of a secret, oldest first. */
  versions(name: string): FakeSecretVersion[];
  secretNames(): string[];
  /** While true, every request is answered 503 (the vault is down). */
  down: boolean;
  /** The next requests (after the auth challenge) fail this way, in order. */
  failNext(...faults: KeyVaultFault[]): void;
  close(): Promise<void>;
}

const SECRET_PATH = /^\/secrets\/([0-9a-zA-Z-]{1,127})(?:\/([0-9a-zA-Z]*))?\/?$/;

export async function startKeyVaultFake(
  options: { acceptToken?: (token: string) => boolean } = {},
): Promise<KeyVaultFake> {
  const { cert, key } = await createLoopbackCertificate();
  const tenantId = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const store = new Map<string, FakeSecretVersion[]>();
  const requests: KeyVaultRequestRecord[] = [];
  const faults: KeyVaultFault[] = [];
  const acceptToken = options.acceptToken ?? ((token: string) => token.length > 0);
  let url = '';

  const bundle = (name: string, v: FakeSecretVersion) => ({
    value: v.value,
    id: `${url}/secrets/${name}/${v.version}`,
    ...(v.contentType ? { contentType: v.contentType } : {}),
    tags: v.tags,
    attributes: {
      enabled: v.enabled,
      ...(v.expiresOn ? { exp: Math.floor(v.expiresOn.getTime() / 1000) } : {}),
      created: Math.floor(v.created.getTime() / 1000),
      updated: Math.floor(v.created.getTime() / 1000),
      recoveryLevel: 'Recoverable+Purgeable',
      recoverableDays: 90,
    },
  });

  const server: Server = createServer({ cert, key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const parsed = new URL(req.url ?? '/', 'https://127.0.0.1');
      const auth = req.headers.authorization ?? '';
      const bearer = /^Bearer (.+)$/i.exec(auth)?.[1];
      const record: KeyVaultRequestRecord = {
        method: req.method ?? 'GET',
        path: parsed.pathname,
        apiVersion: parsed.searchParams.get('api-version'),
        authorized: bearer !== undefined && acceptToken(bearer),
        status: 0,
      };
      requests.push(record);
      const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
        record.status = status;
        const text = body === undefined ? '' : JSON.stringify(body);
        res.writeHead(status, {
          ...(text ? { 'Content-Type': 'application/json; charset=utf-8' } : {}),
          'Content-Length': String(Buffer.byteLength(text)),
          'x-ms-request-id': randomBytes(8).toString('hex'),
          ...headers,
        });
        res.end(text);
      };
      const error = (status: number, code: string, message: string) =>
        send(status, { error: { code, message } });

      if (fake.down) return error(503, 'ServiceUnavailable', 'The vault is unavailable');
      if (!record.authorized) {
        return send(
          401,
          { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } },
          {
            'WWW-Authenticate': `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="https://vault.azure.net"`,
          },
        );
      }
      const fault = faults.shift();
      if (fault === 'reset') {
        record.status = -1;
        req.socket.destroy();
        return;
      }
      if (typeof fault === 'number') return error(fault, `Fault${fault}`, 'scripted fault');

      const match = SECRET_PATH.exec(parsed.pathname);
      if (!match) return error(404, 'NotFound', 'no such endpoint in the fake');
      const name = match[1]!;
      const version = match[2] ?? '';
      if (req.method === 'PUT' && !version) {
        let body: {
          value?: unknown;
          contentType?: unknown;
          tags?: unknown;
          attributes?: { enabled?: unknown; exp?: unknown };
        };
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
        } catch {
          return error(400, 'BadParameter', 'body is not JSON');
        }
        if (typeof body.value !== 'string') return error(400, 'BadParameter', 'value is required');
        const entry: FakeSecretVersion = {
          version: randomBytes(16).toString('hex'),
          value: body.value,
          enabled: body.attributes?.enabled !== false,
          tags: (body.tags as Record<string, string> | undefined) ?? {},
          created: new Date(),
          ...(typeof body.contentType === 'string' ? { contentType: body.contentType } : {}),
          ...(typeof body.attributes?.exp === 'number'
            ? { expiresOn: new Date(body.attributes.exp * 1000) }
            : {}),
        };
        store.set(name, [...(store.get(name) ?? []), entry]);
        return send(200, bundle(name, entry));
      }
      if (req.method === 'GET') {
        const versions = store.get(name) ?? [];
        const found = version ? versions.find((v) => v.version === version) : versions.at(-1);
        if (!found)
          return error(
            404,
            'SecretNotFound',
            `A secret with (name/id) ${name} was not found in this key vault.`,
          );
        return send(200, bundle(name, found));
      }
      return error(405, 'MethodNotAllowed', `${req.method ?? '?'} is not supported by the fake`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const fake: KeyVaultFake = {
    url,
    caPem: cert,
    tenantId,
    requests,
    versions: (name) => [...(store.get(name) ?? [])],
    secretNames: () => [...store.keys()],
    down: false,
    failNext: (...f) => void faults.push(...f),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
  return fake;
}
