// Request validation for the token endpoints: every bad input is a 400 naming its field, and no
// error message ever carries the token's signature — checked on a table of cases and on a seeded
// fuzz loop of malformed tokens.
import type { Export } from '../../src/azure/exportModels';
import {
  parseRegisterRequest,
  parseRotateRequest,
  parseTokenField,
  rotationBody,
  TokenRequestError,
} from '../../src/services/tokens';

const SIG = 'c2lnbmF0dXJlT2ZUaGVUb2tlblVuZGVyVGVzdDEyMzQ1Njc4OTA+/=';
const GOOD = `sv=2024-11-04&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00:00:00Z&spr=https&sig=${encodeURIComponent(SIG)}`;

function refusal(fn: () => unknown): TokenRequestError {
  try {
    fn();
  } catch (error) {
    if (error instanceof TokenRequestError) return error;
    throw error;
  }
  throw new Error('expected a TokenRequestError');
}

describe('parseRegisterRequest', () => {
  it('accepts a complete request', () => {
    expect(
      parseRegisterRequest({ storageAccount: 'partner01', container: 'exports', sasToken: ` ?${GOOD} ` }),
    ).toEqual({
      storageAccount: 'partner01',
      container: 'exports',
      sasToken: `?${GOOD}`,
    });
  });

  it.each([
    ['body', undefined],
    ['body', []],
    ['body', 'text'],
    ['storageAccount', { container: 'exports', sasToken: GOOD }],
    ['storageAccount', { storageAccount: '', container: 'exports', sasToken: GOOD }],
    ['storageAccount', { storageAccount: 'Partner01', container: 'exports', sasToken: GOOD }],
    ['storageAccount', { storageAccount: 'ab', container: 'exports', sasToken: GOOD }],
    ['storageAccount', { storageAccount: 'a'.repeat(25), container: 'exports', sasToken: GOOD }],
    ['storageAccount', { storageAccount: 'x.blob.core', container: 'exports', sasToken: GOOD }],
    ['storageAccount', { storageAccount: 42, container: 'exports', sasToken: GOOD }],
    ['container', { storageAccount: 'partner01', sasToken: GOOD }],
    ['container', { storageAccount: 'partner01', container: 'Exports', sasToken: GOOD }],
    ['container', { storageAccount: 'partner01', container: 'ex--ports', sasToken: GOOD }],
    ['sasToken', { storageAccount: 'partner01', container: 'exports' }],
    ['sasToken', { storageAccount: 'partner01', container: 'exports', sasToken: 7 }],
    ['sasToken', { storageAccount: 'partner01', container: 'exports', sasToken: 'x'.repeat(5000) }],
  ])('refuses case %# of a bad body, naming %s', (field, body) => {
    const error = refusal(() => parseRegisterRequest(body));
    expect(error.status).toBe(400);
    expect(error.field).toBe(field);
    expect(error.code).toBe('InvalidRequest');
    expect(error.fields).toEqual([{ field, message: error.message }]);
  });
});

describe('parseRotateRequest', () => {
  it('takes the account from the route and an optional container', () => {
    expect(parseRotateRequest('partner01', { sasToken: GOOD })).toEqual({
      storageAccount: 'partner01',
      sasToken: GOOD,
    });
    expect(parseRotateRequest('partner01', { sasToken: GOOD, container: 'exports' }).container).toBe(
      'exports',
    );
  });

  it.each([
    ['storageAccount', 'UPPER', { sasToken: GOOD }],
    ['storageAccount', undefined, { sasToken: GOOD }],
    ['sasToken', 'partner01', {}],
    ['container', 'partner01', { sasToken: GOOD, container: 'A' }],
    ['body', 'partner01', null],
  ])('refuses case %# of a bad rotation, naming %s', (field, account, body) => {
    expect(refusal(() => parseRotateRequest(account, body)).field).toBe(field);
  });
});

describe('parseTokenField', () => {
  it.each([
    ['', 'sasToken'],
    [GOOD.replace(/&sig=[^&]+/, ''), 'sasToken.sig'],
    [GOOD.replace('se=2030-01-01T00:00:00Z', 'se=tomorrow'), 'sasToken.se'],
    [GOOD.replace('sp=rwdlac', 'sp=rwdlacQ'), 'sasToken.sp'],
    [GOOD.replace('sv=2024-11-04', 'sv=latest'), 'sasToken.sv'],
    [GOOD.replace('spr=https', 'spr=ftp'), 'sasToken.spr'],
    [`${GOOD}&sr=c`, 'sasToken.sr'],
    [`${GOOD}&se=2031-01-01`, 'sasToken.se'],
    ['https://acct.blob.core.windows.net/c', 'sasToken'],
  ])('refuses a malformed token with the parameter named (%#)', (token, field) => {
    const error = refusal(() => parseTokenField(token));
    expect(error.status).toBe(400);
    expect(error.field).toBe(field);
    expect(error.message).not.toContain(SIG.slice(0, 20));
  });

  it('parses a good token, with or without ? or a URL around it', () => {
    for (const text of [GOOD, `?${GOOD}`, `https://acct.blob.core.windows.net/?${GOOD}`]) {
      expect(parseTokenField(text)).toMatchObject({
        kind: 'account',
        permissionLetters: 'rwdlac',
        protocol: 'https',
      });
    }
  });

  it('fuzz: 1,500 malformed tokens are refused as 400s naming a sasToken field, never echoing the signature', () => {
    // Seeded xorshift so a failure is reproducible.
    let seed = 0x9e3779b9;
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const alphabet =
      'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789&=?%+/:-_.~ \t#\u00e9\u{1F600}\u0000';
    const params = GOOD.split('&');
    const mutate = (): string => {
      const kind = rand(8);
      const parts = [...params];
      switch (kind) {
        case 0: // drop one or more required params
          for (let i = 0, n = 1 + rand(3); i < n; i++) parts.splice(rand(parts.length), 1);
          return parts.join('&');
        case 1: {
          // corrupt one value with random characters
          const i = rand(parts.length - 1); // keep sig intact so its absence in messages matters
          const [name] = parts[i]!.split('=');
          let junk = '';
          for (let k = 0, n = rand(12); k < n; k++) junk += alphabet[rand(alphabet.length)];
          parts[i] = `${name}=${junk}`;
          return parts.join('&');
        }
        case 2: // duplicate a param
          return [...parts, parts[rand(parts.length - 1)]!].join('&');
        case 3: // broken percent-encoding
          return `${parts.join('&')}&se=%E0%A4%A`;
        case 4: {
          // random garbage
          let s = '';
          for (let k = 0, n = 1 + rand(80); k < n; k++) s += alphabet[rand(alphabet.length)];
          return s;
        }
        case 5: // account + service SAS mixed
          return `${parts.join('&')}&sr=${['b', 'c', 'x', ''][rand(4)]}`;
        case 6: // impossible dates
          return parts
            .map((p) =>
              p.startsWith('se=') ? `se=20${rand(99)}-${rand(15)}-${rand(40)}T${rand(30)}:00Z` : p,
            )
            .join('&');
        default: // a signature that is not base64
          return parts
            .map((p) => (p.startsWith('sig=') ? `sig=${'!'.repeat(1 + rand(30))}${SIG}` : p))
            .join('&');
      }
    };
    let refused = 0;
    let accepted = 0;
    for (let i = 0; i < 1500; i++) {
      const token = mutate();
      try {
        parseTokenField(token);
        accepted++; // a mutation can still be a valid token (e.g. a date that exists)
      } catch (error) {
        if (!(error instanceof TokenRequestError)) throw new Error(`case ${i}: unexpected ${String(error)}`);
        expect(error.status).toBe(400);
        expect(error.field).toMatch(/^sasToken(\.(sv|ss|srt|sr|sp|st|se|spr|sip|si|sig))?$/);
        expect(JSON.stringify([error.message, error.fields, error.details])).not.toContain(SIG.slice(0, 20));
        refused++;
      }
    }
    expect(refused + accepted).toBe(1500);
    expect(refused).toBeGreaterThan(1000);
  });
});

describe('rotationBody', () => {
  const current: Export = {
    name: 'daily',
    eTag: '"etag-1"',
    properties: {
      format: 'Parquet',
      partitionData: true,
      compressionMode: 'snappy',
      dataOverwriteBehavior: 'CreateNewReport',
      exportDescription: 'partner export',
      deliveryInfo: {
        destination: {
          type: 'AzureBlob',
          storageAccount: 'partner01',
          container: 'exports',
          rootFolderPath: 'cost',
          sasToken: '********',
        },
      },
      definition: { type: 'FocusCost', timeframe: 'MonthToDate', dataSet: { granularity: 'Daily' } },
      schedule: { status: 'Active', recurrence: 'Daily', recurrencePeriod: { from: '2025-07-01T00:00:00Z' } },
      runHistory: [{ status: 'Completed' }],
    },
  };

  it('carries every writable field over, with the fresh eTag and the new token', () => {
    const body = rotationBody(current, GOOD);
    expect(body).toEqual({
      eTag: '"etag-1"',
      properties: {
        format: 'Parquet',
        partitionData: true,
        compressionMode: 'snappy',
        dataOverwriteBehavior: 'CreateNewReport',
        exportDescription: 'partner export',
        deliveryInfo: {
          destination: {
            type: 'AzureBlob',
            storageAccount: 'partner01',
            container: 'exports',
            rootFolderPath: 'cost',
            sasToken: GOOD,
          },
        },
        definition: { type: 'FocusCost', timeframe: 'MonthToDate', dataSet: { granularity: 'Daily' } },
        schedule: {
          status: 'Active',
          recurrence: 'Daily',
          recurrencePeriod: { from: '2025-07-01T00:00:00Z' },
        },
      },
    });
  });

  it('drops a leading "/" an older export may carry, which the service now refuses on PUT', () => {
    const legacy: Export = {
      ...current,
      properties: {
        ...current.properties,
        deliveryInfo: {
          destination: { ...current.properties.deliveryInfo.destination, rootFolderPath: '/cost/acme' },
        },
      },
    };
    expect(rotationBody(legacy, GOOD).properties.deliveryInfo.destination.rootFolderPath).toBe('cost/acme');
  });
});
