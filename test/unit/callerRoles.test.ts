import { ConfigError, loadConfig } from '../../src/config';
import {
  decideAccess,
  defaultRequiredRole,
  holdsRole,
  MAX_PRINCIPAL_HEADER_CHARS,
  parseClientPrincipal,
} from '../../src/domain/callerRoles';
import { routeAuthLevel } from '../../src/functions/http';
import { clientPrincipal, ROLE_URI } from '../support/clientPrincipal';

const roles = (header: string | null | undefined) => [...parseClientPrincipal(header).roles].sort();

describe('parseClientPrincipal', () => {
  it('reads app roles from the role claim type the principal names', () => {
    expect(roles(clientPrincipal(['reader']))).toEqual(['reader']);
    expect(roles(clientPrincipal(['operator', 'reader', 'Other.Role']))).toEqual(['operator', 'reader']);
    expect(parseClientPrincipal(clientPrincipal([])).authenticated).toBe(true);
  });

  it('reads `roles` claims when role_typ is absent, and ignores roles under other claim types', () => {
    const header = Buffer.from(
      JSON.stringify({
        claims: [
          { typ: 'roles', val: 'operator' },
          { typ: 'groups', val: 'reader' },
        ],
      }),
    ).toString('base64');
    expect(roles(header)).toEqual(['operator']);
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['not base64', '%%%not base64%%%'],
    ['base64 of text that is not JSON', Buffer.from('hello {').toString('base64')],
    ['base64 of a JSON array', Buffer.from('[1,2]').toString('base64')],
    ['base64 of JSON null', Buffer.from('null').toString('base64')],
    ['a principal without claims', Buffer.from('{"auth_typ":"aad"}').toString('base64')],
    ['claims that are not an array', Buffer.from('{"claims":{"typ":"roles"}}').toString('base64')],
    ['a header over 16 KiB', clientPrincipal(['operator'], { pad: 'x'.repeat(MAX_PRINCIPAL_HEADER_CHARS) })],
  ])('reads %s as a caller with no roles', (_name, header) => {
    const caller = parseClientPrincipal(header);
    expect(caller.roles.size).toBe(0);
    expect(caller.authenticated).toBe(false);
  });

  it('skips malformed claims instead of failing', () => {
    const header = Buffer.from(
      JSON.stringify({
        role_typ: ROLE_URI,
        claims: [
          null,
          7,
          'operator',
          { typ: ROLE_URI, val: 42 },
          { typ: ROLE_URI, val: ['operator'] },
          { typ: ROLE_URI, val: 'reader' },
        ],
      }),
    ).toString('base64');
    expect(roles(header)).toEqual(['reader']);
  });

  it('does not let a role name differing in case or spacing pass', () => {
    expect(roles(clientPrincipal(['Operator', ' operator', 'operator '])).length).toBe(0);
  });
});

describe('role decisions', () => {
  it('needs reader for GET and operator for anything else', () => {
    expect(defaultRequiredRole('GET')).toBe('reader');
    expect(defaultRequiredRole('get')).toBe('reader');
    expect(['POST', 'PUT', 'DELETE', 'PATCH'].map(defaultRequiredRole)).toEqual(Array(4).fill('operator'));
  });

  it('lets operator imply reader, never the reverse', () => {
    const operator = parseClientPrincipal(clientPrincipal(['operator']));
    const reader = parseClientPrincipal(clientPrincipal(['reader']));
    expect(holdsRole(operator, 'reader')).toBe(true);
    expect(holdsRole(reader, 'operator')).toBe(false);
  });

  it('answers 401 without a caller and 403 naming the missing role', () => {
    expect(decideAccess(parseClientPrincipal(undefined), 'reader')).toMatchObject({
      allowed: false,
      status: 401,
    });
    const denied = decideAccess(parseClientPrincipal(clientPrincipal(['reader'])), 'operator');
    expect(denied).toMatchObject({ allowed: false, status: 403 });
    expect(denied.allowed || denied.message).toContain('"operator"');
    expect(decideAccess(parseClientPrincipal(clientPrincipal(['operator'])), 'operator')).toEqual({
      allowed: true,
    });
  });
});

describe('AUTH_MODE setting', () => {
  const base = {
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    ExportsStorage: 'UseDevelopmentStorage=true',
    SECRET_STORE: 'table',
  };
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return [];
    } catch (e) {
      if (e instanceof ConfigError) return e.problems;
      throw e;
    }
  };

  it('defaults to functionKey and accepts entra', () => {
    expect(loadConfig(base).auth.mode).toBe('functionKey');
    expect(loadConfig({ ...base, AUTH_MODE: 'entra' }).auth.mode).toBe('entra');
  });

  it('refuses an unknown mode, naming the field', () => {
    expect(problems({ ...base, AUTH_MODE: 'basic' })).toEqual([
      'AUTH_MODE: expected one of functionKey, entra, got "basic"',
    ]);
  });

  it('refuses entra in Azure when App Service Authentication is off', () => {
    const inAzure = {
      ...base,
      SECRET_STORE: 'keyvault',
      KEY_VAULT_URI: 'https://kv.vault.azure.net',
      WEBSITE_INSTANCE_ID: 'abc',
      AUTH_MODE: 'entra',
    };
    expect(problems(inAzure)).toEqual([
      expect.stringMatching(/^AUTH_MODE: entra needs App Service Authentication/),
    ]);
    expect(problems({ ...inAzure, WEBSITE_AUTH_ENABLED: 'True' })).toEqual([]);
  });
});

describe('routeAuthLevel', () => {
  it('registers the routes anonymous exactly when AUTH_MODE is entra (then the role check is the gate)', () => {
    expect(routeAuthLevel({ AUTH_MODE: 'entra' })).toBe('anonymous');
    expect(routeAuthLevel({ AUTH_MODE: ' Entra ' })).toBe('anonymous');
    for (const mode of [undefined, '', 'functionKey', 'basic', 'entra-ish']) {
      expect(routeAuthLevel(mode === undefined ? {} : { AUTH_MODE: mode })).toBe('function');
    }
  });
});
