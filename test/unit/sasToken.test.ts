import { createHash } from 'node:crypto';

import type { SasProblemCode, SasToken } from '../../src/domain/sasToken';
import {
  daysUntilExpiry,
  describeSasToken,
  exportTokenProblems,
  normalizeSasToken,
  parseSasToken,
  SasTokenError,
  sasTokenFingerprint,
} from '../../src/domain/sasToken';

const SIG = 'Xy7+ab/Cd9eFgH1iJkLmN0pQrStUvWxYz23456789AB=';
const NOW = new Date('2025-06-15T12:00:00Z');

type Params = Record<string, string | undefined>;
/** The token the SAS doc asks for: account SAS, blob, sco, rwdlac, HTTPS only. */
const GOOD: Params = {
  sv: '2022-11-02',
  ss: 'b',
  srt: 'sco',
  sp: 'rwdlac',
  se: '2025-12-31T23:59:59Z',
  st: '2025-06-01T00:00:00Z',
  spr: 'https',
  sig: SIG,
};

/** Builds a query the way Azure does: every value URL-encoded. `undefined` drops a parameter. */
function sas(overrides: Params = {}, base: Params = GOOD): string {
  return Object.entries({ ...base, ...overrides })
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&');
}

function errorOf(text: string): SasTokenError {
  try {
    parseSasToken(text);
  } catch (e) {
    expect(e).toBeInstanceOf(SasTokenError);
    return e as SasTokenError;
  }
  throw new Error(`expected ${text} to be rejected`);
}

function codes(token: SasToken | string, now = NOW, minValidDays?: number): SasProblemCode[] {
  return exportTokenProblems(token, now, minValidDays === undefined ? {} : { minValidDays }).map(
    (p) => p.code,
  );
}

describe('parseSasToken', () => {
  it('decodes an account SAS into typed fields', () => {
    expect(parseSasToken(sas())).toEqual({
      kind: 'account',
      version: '2022-11-02',
      services: ['blob'],
      resourceTypes: ['service', 'container', 'object'],
      permissions: ['read', 'write', 'delete', 'list', 'add', 'create'],
      permissionLetters: 'rwdlac',
      startsOn: new Date('2025-06-01T00:00:00Z'),
      expiresOn: new Date('2025-12-31T23:59:59Z'),
      protocol: 'https',
      userDelegation: false,
    });
  });

  it('never keeps the signature in the parsed token', () => {
    const token = parseSasToken(sas());
    expect(JSON.stringify(token)).not.toContain(SIG);
    expect(JSON.stringify(token)).not.toContain(encodeURIComponent(SIG));
  });

  it.each([
    ['plain query', sas()],
    ['leading ?', `?${sas()}`],
    ['surrounding whitespace', `  ?${sas()}\n`],
    ['full blob URL', `https://stexports.blob.core.windows.net/?${sas()}`],
    ['container URL with fragment', `https://stexports.blob.core.windows.net/msexports?${sas()}#x`],
    [
      'unencoded values (raw + / : in sig and dates)',
      Object.entries(GOOD)
        .map(([k, v]) => `${k}=${v}`)
        .join('&'),
    ],
    [
      'reordered parameters and unknown extras',
      `sig=${encodeURIComponent(SIG)}&sdd=1&spr=https&se=2025-12-31T23%3A59%3A59Z&st=2025-06-01T00%3A00%3A00Z&sp=rwdlac&srt=sco&ss=b&sv=2022-11-02&rscc=no-cache`,
    ],
    ['empty pieces', `&&${sas()}&`],
    [
      'upper-case parameter names',
      sas().replace(/(^|&)([a-z]+)=/g, (_m, amp: string, k: string) => `${amp}${k.toUpperCase()}=`),
    ],
  ])('accepts %s', (_label, text) => {
    const token = parseSasToken(text);
    expect(token.kind).toBe('account');
    expect(token.expiresOn.toISOString()).toBe('2025-12-31T23:59:59.000Z');
    expect(sasTokenFingerprint(text)).toBe(sasTokenFingerprint(sas()));
  });

  it.each<[string, Params, Partial<SasToken>]>([
    ['all services', { ss: 'bfqt' }, { services: ['blob', 'file', 'queue', 'table'] }],
    [
      'letters in any order, duplicates ignored',
      { sp: 'cawlrdd' },
      { permissions: ['read', 'write', 'delete', 'list', 'add', 'create'] },
    ],
    [
      'every account permission',
      { sp: 'rwdxylacuptfi' },
      {
        permissions: [
          'read',
          'write',
          'delete',
          'deleteVersion',
          'permanentDelete',
          'list',
          'add',
          'create',
          'update',
          'process',
          'tag',
          'filter',
          'setImmutabilityPolicy',
        ],
      },
    ],
    ['no spr: HTTP allowed', { spr: undefined }, { protocol: 'https,http' }],
    ['spr https,http', { spr: 'https,http' }, { protocol: 'https,http' }],
    ['no st', { st: undefined }, { kind: 'account' }],
    ['date-only expiry', { se: '2025-12-31' }, { expiresOn: new Date('2025-12-31T00:00:00Z') }],
    ['minutes only', { se: '2025-12-31T08:30Z' }, { expiresOn: new Date('2025-12-31T08:30:00Z') }],
    [
      'seven fractional digits',
      { se: '2025-12-31T08:30:00.1234567Z' },
      { expiresOn: new Date('2025-12-31T08:30:00.123Z') },
    ],
    ['an offset', { se: '2025-12-31T08:30:00+02:00' }, { expiresOn: new Date('2025-12-31T06:30:00Z') }],
    ['leap day', { se: '2028-02-29T00:00:00Z' }, { expiresOn: new Date('2028-02-29T00:00:00Z') }],
    ['single IP', { sip: '203.0.113.7' }, { ip: { start: '203.0.113.7', end: '203.0.113.7' } }],
    [
      'IP range',
      { sip: '203.0.113.0-203.0.113.255' },
      { ip: { start: '203.0.113.0', end: '203.0.113.255' } },
    ],
    ['stored access policy', { si: 'exports-policy' }, { identifier: 'exports-policy' }],
  ])('reads %s', (_label, overrides, expected) => {
    expect(parseSasToken(sas(overrides))).toMatchObject(expected);
  });

  it.each<[string, Partial<SasToken>]>([
    ['c', { signedResource: 'container', services: ['blob'] }],
    ['b', { signedResource: 'blob', services: ['blob'] }],
    ['bs', { signedResource: 'blobSnapshot', services: ['blob'] }],
    ['bv', { signedResource: 'blobVersion', services: ['blob'] }],
    ['d', { signedResource: 'directory', services: ['blob'] }],
    ['s', { signedResource: 'share', services: ['file'] }],
    ['f', { signedResource: 'file', services: ['file'] }],
  ])('reads a service SAS with sr=%s', (sr, expected) => {
    const token = parseSasToken(sas({ ss: undefined, srt: undefined, sr, sp: 'racwdlmeop' }));
    expect(token).toMatchObject({ kind: 'service', resourceTypes: [], ...expected });
    // `p` means "permissions" in a service SAS, "process" in an account SAS.
    expect(token.permissions).toEqual([
      'read',
      'add',
      'create',
      'write',
      'delete',
      'list',
      'move',
      'execute',
      'ownership',
      'permissions',
    ]);
  });

  it('leaves out optional fields the token does not have', () => {
    const token = parseSasToken(sas({ st: undefined }));
    for (const field of ['startsOn', 'ip', 'identifier', 'signedResource'])
      expect(token).not.toHaveProperty(field);
  });

  it('recognises a user-delegation SAS', () => {
    const token = parseSasToken(
      sas({
        ss: undefined,
        srt: undefined,
        sr: 'c',
        skoid: '5d4c3b2a-0000-4000-8000-000000000001',
        sktid: 't',
        ske: '2025-06-16T00:00:00Z',
      }),
    );
    expect(token).toMatchObject({ kind: 'service', userDelegation: true });
  });

  it.each<[string, string, string]>([
    ['empty', '', 'token'],
    ['whitespace', '  \n', 'token'],
    ['only ?', '?', 'token'],
    ['URL without a query', 'https://stexports.blob.core.windows.net/msexports', 'token'],
    ['missing sig', sas({ sig: undefined }), 'sig'],
    ['empty sig', sas({ sig: '' }), 'sig'],
    ['sig not base64', sas({ sig: 'not a signature!' }), 'sig'],
    ['missing se', sas({ se: undefined }), 'se'],
    ['missing sp', sas({ sp: undefined }), 'sp'],
    ['missing sv', sas({ sv: undefined }), 'sv'],
    ['bad sv', sas({ sv: 'latest' }), 'sv'],
    ['neither account nor service', sas({ ss: undefined, srt: undefined }), 'ss'],
    ['ss without srt', sas({ srt: undefined }), 'srt'],
    ['srt without ss', sas({ ss: undefined }), 'ss'],
    ['both account and service fields', sas({ sr: 'c' }), 'sr'],
    ['unknown service letter', sas({ ss: 'bx' }), 'ss'],
    ['unknown resource type', sas({ srt: 'scob' }), 'srt'],
    ['unknown account permission', sas({ sp: 'rwdlacm' }), 'sp'],
    [
      'account-only permission in a service SAS',
      sas({ ss: undefined, srt: undefined, sr: 'c', sp: 'rwu' }),
      'sp',
    ],
    ['unknown sr', sas({ ss: undefined, srt: undefined, sr: 'q' }), 'sr'],
    ['se not a date', sas({ se: 'tomorrow' }), 'se'],
    ['se without a zone', sas({ se: '2025-12-31T23:59:59' }), 'se'],
    ['se on 30 February', sas({ se: '2025-02-30T00:00:00Z' }), 'se'],
    ['se at hour 24', sas({ se: '2025-12-31T24:00:00Z' }), 'se'],
    ['st malformed', sas({ st: '01/06/2025' }), 'st'],
    ['st after se', sas({ st: '2026-01-01T00:00:00Z' }), 'st'],
    ['spr http only', sas({ spr: 'http' }), 'spr'],
    ['sip malformed', sas({ sip: '300.1.1.1' }), 'sip'],
    ['sip range backwards', sas({ sip: '10.0.0.9-10.0.0.1' }), 'sip'],
    ['duplicate se', `${sas()}&se=2030-01-01`, 'se'],
    ['broken URL encoding', sas().replace('sp=rwdlac', 'sp=%E0%A4%A'), 'sp'],
  ])('rejects %s, naming %s', (_label, text, field) => {
    const error = errorOf(text);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(new RegExp(`\\b${field}\\b`));
    expect(error.message).not.toContain(SIG);
    expect(error.message).not.toContain(encodeURIComponent(SIG));
  });

  it('does not echo the signature even when it sits inside another field', () => {
    const text = `${sas({ se: `x${SIG}` })}`;
    const error = errorOf(text);
    expect(error.field).toBe('se');
    expect(error.message).not.toContain(SIG);
    expect(error.message).toContain('REDACTED');
  });

  it('explains a missing se when the token relies on a stored access policy', () => {
    expect(errorOf(sas({ se: undefined, si: 'pol' })).message).toContain('stored access policy "pol"');
  });
});

describe('exportTokenProblems', () => {
  it('finds nothing wrong with the documented token', () => {
    expect(exportTokenProblems(sas(), NOW)).toEqual([]);
  });

  it.each<[string, Params, SasProblemCode[]]>([
    ['service SAS', { ss: undefined, srt: undefined, sr: 'c', sp: 'racwdl' }, ['notAccountSas']],
    ['not blob', { ss: 'f' }, ['blobServiceMissing']],
    ['blob among others is fine', { ss: 'bfqt' }, []],
    ['missing service resource type', { srt: 'co' }, ['resourceTypesMissing']],
    ['missing object resource type', { srt: 'sc' }, ['resourceTypesMissing']],
    ['read-only', { sp: 'rl' }, ['permissionsMissing']],
    ['no list (the error text omits it, the spec requires it)', { sp: 'rwdac' }, ['permissionsMissing']],
    ['extra permissions are fine', { sp: 'rwdxylacuptfi' }, []],
    ['HTTP allowed', { spr: 'https,http' }, ['httpAllowed']],
    ['no spr means HTTP allowed', { spr: undefined }, ['httpAllowed']],
    ['IP restricted', { sip: '203.0.113.7' }, ['ipRestricted']],
    ['expired', { se: '2025-06-15T11:59:59Z', st: undefined }, ['expired']],
    ['expires exactly now', { se: '2025-06-15T12:00:00Z', st: undefined }, ['expired']],
    ['expires within a day', { se: '2025-06-16T11:59:59Z' }, ['expiresSoon']],
    ['expires in exactly a day', { se: '2025-06-16T12:00:00Z' }, []],
    ['not yet valid', { st: '2025-06-15T12:00:01Z' }, ['notYetValid']],
    ['starts exactly now', { st: '2025-06-15T12:00:00Z' }, []],
    [
      'everything wrong at once',
      {
        ss: 'q',
        srt: 'o',
        sp: 'r',
        spr: undefined,
        sip: '10.0.0.1',
        st: '2025-06-10T00:00:00Z',
        se: '2025-06-11T00:00:00Z',
      },
      [
        'blobServiceMissing',
        'resourceTypesMissing',
        'permissionsMissing',
        'httpAllowed',
        'ipRestricted',
        'expired',
      ],
    ],
  ])('%s', (_label, overrides, expected) => {
    expect(codes(sas(overrides))).toEqual(expected);
  });

  it('names what is missing', () => {
    const problems = exportTokenProblems(sas({ srt: 'o', sp: 'rl' }), NOW);
    expect(problems.find((p) => p.code === 'resourceTypesMissing')?.message).toContain('service, container');
    expect(problems.find((p) => p.code === 'permissionsMissing')?.message).toContain(
      'write, delete, add, create',
    );
  });

  it('honours minValidDays', () => {
    const token = parseSasToken(sas({ se: '2025-06-22T12:00:00Z' })); // 7 days ahead
    expect(codes(token, NOW, 7)).toEqual([]);
    expect(codes(token, NOW, 8)).toEqual(['expiresSoon']);
    expect(codes(token, NOW, 0)).toEqual([]);
    expect(() => exportTokenProblems(token, NOW, { minValidDays: -1 })).toThrow(RangeError);
    expect(() => exportTokenProblems(token, NOW, { minValidDays: Number.NaN })).toThrow('minValidDays');
  });

  it('rejects an invalid clock', () => {
    expect(() => exportTokenProblems(sas(), new Date('nope'))).toThrow(RangeError);
  });

  it('accepts text and throws SasTokenError for a malformed token', () => {
    expect(() => exportTokenProblems('sv=2022-11-02', NOW)).toThrow(SasTokenError);
  });

  it('never mentions the signature', () => {
    const all = exportTokenProblems(
      sas({
        ss: 'q',
        srt: 'o',
        sp: 'r',
        spr: undefined,
        sip: '10.0.0.1',
        se: '2025-06-01T00:00:00Z',
        st: undefined,
      }),
      NOW,
    );
    for (const p of all) expect(p.message).not.toContain(SIG.slice(0, 10));
  });
});

describe('daysUntilExpiry', () => {
  it.each([
    ['2025-07-15T12:00:00Z', 30],
    ['2025-07-15T11:59:59Z', 29],
    ['2025-06-16T12:00:00Z', 1],
    ['2025-06-16T11:59:59Z', 0],
    ['2025-06-15T12:00:01Z', 0],
    ['2025-06-15T12:00:00Z', 0],
    ['2025-06-15T11:59:59Z', -1],
    ['2025-06-01T12:00:00Z', -14],
  ])('se=%s → %i', (se, days) => {
    expect(daysUntilExpiry(parseSasToken(sas({ se, st: undefined })), NOW)).toBe(days);
  });
});

describe('sasTokenFingerprint', () => {
  it('is 12 hex digits of the SHA-256 of the decoded signature', () => {
    // sha256("Xy7+ab/Cd9eFgH1iJkLmN0pQrStUvWxYz23456789AB=")
    const expected = createHash('sha256').update(SIG).digest('hex').slice(0, 12);
    expect(sasTokenFingerprint(sas())).toBe(expected);
    expect(sasTokenFingerprint(sas())).toMatch(/^[0-9a-f]{12}$/);
  });

  it('is the same however the token is written, and differs for another signature', () => {
    const a = sasTokenFingerprint(`https://x.blob.core.windows.net/?${sas()}`);
    expect(sasTokenFingerprint(`sig=${SIG}`)).toBe(a);
    expect(sasTokenFingerprint(sas({ sig: SIG.replace('X', 'Y') }))).not.toBe(a);
  });

  it('does not reveal the signature', () => {
    expect(SIG).not.toContain(sasTokenFingerprint(sas()));
  });

  it('needs a signature', () => {
    expect(() => sasTokenFingerprint(sas({ sig: undefined }))).toThrow(SasTokenError);
  });
});

describe('helpers', () => {
  it('normalizeSasToken strips ?, URL and fragment, keeps the query as written', () => {
    expect(normalizeSasToken(` https://a.blob.core.windows.net/c?${sas()}#frag `)).toBe(sas());
    expect(normalizeSasToken(`?${sas()}`)).toBe(sas());
  });

  it('describeSasToken summarises without the signature', () => {
    const line = describeSasToken(parseSasToken(sas()));
    expect(line).toBe(
      'account SAS for blob (service, container, object), permissions rwdlac, HTTPS only, expires 2025-12-31T23:59:59.000Z',
    );
    expect(
      describeSasToken(parseSasToken(sas({ ss: undefined, srt: undefined, sr: 'c', spr: undefined }))),
    ).toBe(
      'service SAS for a container, permissions rwdlac, HTTPS or HTTP, expires 2025-12-31T23:59:59.000Z',
    );
  });
});
