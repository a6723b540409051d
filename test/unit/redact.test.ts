import { mulberry32 } from '../../dev/emulator/data/prng';
import { REDACTED, redactError, redactMessage, redactSecrets } from '../../src/domain/redact';

const SIG = 'Xy7+ab/Cd9eFgH1iJkLmN0pQrStUvWxYz23456789AB=';
const SIG_URL = encodeURIComponent(SIG); // Xy7%2Bab%2FCd9...%3D
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const QUERY = `sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2026-01-01T00:00:00Z&spr=https&sig=${SIG_URL}`;
const URL_ = `https://stexports.blob.core.windows.net/msexports?${QUERY}`;
const JWT =
  'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIn0.c2lnbmF0dXJlLXBhcnQ';
const QUERY_R = `sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2026-01-01T00:00:00Z&spr=https&sig=${REDACTED}`;

describe('redactSecrets', () => {
  it.each<[string, string, string]>([
    ['SAS URL', URL_, `https://stexports.blob.core.windows.net/msexports?${QUERY_R}`],
    ['token with leading ?', `?${QUERY}`, `?${QUERY_R}`],
    ['sig first', `?sig=${SIG_URL}&sv=2022-11-02`, `?sig=${REDACTED}&sv=2022-11-02`],
    ['unencoded signature', `sv=x&sig=${SIG}&se=y`, `sv=x&sig=${REDACTED}&se=y`],
    ['upper-case SIG', `?SIG=${SIG_URL}`, `?SIG=${REDACTED}`],
    [
      'URL-encoded URL',
      `next=${encodeURIComponent(URL_)}`,
      `next=${encodeURIComponent(`https://stexports.blob.core.windows.net/msexports?${QUERY}`).replace(encodeURIComponent(SIG_URL), REDACTED)}`,
    ],
    [
      'double-encoded sig',
      `a=sig%253D${encodeURIComponent(SIG_URL)}%2526se%253D1`,
      `a=sig%253D${REDACTED}%2526se%253D1`,
    ],
    [
      'JSON string',
      JSON.stringify({ url: URL_ }),
      JSON.stringify({ url: `https://stexports.blob.core.windows.net/msexports?${QUERY_R}` }),
    ],
    [
      '.NET-escaped JSON (\\u0026, \\u002B)',
      `{"url":"https://a.blob.core.windows.net/c?sv=1\\u0026sig=Xy7\\u002Bab\\/Cd9\\u0026se=2"}`,
      `{"url":"https://a.blob.core.windows.net/c?sv=1\\u0026sig=${REDACTED}\\u0026se=2"}`,
    ],
    [
      'XML with &amp;',
      `<Url>https://a/c?sv=1&amp;sig=${SIG_URL}&amp;se=2</Url>`,
      `<Url>https://a/c?sv=1&amp;sig=${REDACTED}&amp;se=2</Url>`,
    ],
    ['in parentheses', `(see ${URL_})`, `(see https://stexports.blob.core.windows.net/msexports?${QUERY_R})`],
    [
      'storage connection string with SAS',
      `BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=${QUERY}`,
      `BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=${REDACTED}`,
    ],
    [
      'storage connection string with key',
      `DefaultEndpointsProtocol=https;AccountName=st;AccountKey=${KEY};EndpointSuffix=core.windows.net`,
      `DefaultEndpointsProtocol=https;AccountName=st;AccountKey=${REDACTED};EndpointSuffix=core.windows.net`,
    ],
    [
      'key at end of connection string',
      `AccountName=st;accountkey=${KEY}`,
      `AccountName=st;accountkey=${REDACTED}`,
    ],
    [
      'ACS connection string',
      `endpoint=https://acs.communication.azure.com/;accesskey=${KEY}`,
      `endpoint=https://acs.communication.azure.com/;accesskey=${REDACTED}`,
    ],
    [
      'Service Bus connection string',
      `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${KEY}`,
      `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${REDACTED}`,
    ],
    [
      'Service Bus SAS header',
      `Authorization: SharedAccessSignature sr=ns&sig=${SIG_URL}&se=1700000000&skn=Root`,
      `Authorization: SharedAccessSignature ${REDACTED}`,
    ],
    ['bearer header', `Authorization: Bearer ${JWT}`, `Authorization: Bearer ${REDACTED}`],
    ['bearer in JSON', `{"Authorization":"Bearer ${JWT}"}`, `{"Authorization":"Bearer ${REDACTED}"}`],
    ['bare JWT', `token was ${JWT} ok`, `token was ${REDACTED} ok`],
    ['basic auth header', 'authorization: Basic dXNlcjpwYXNz', `authorization: Basic ${REDACTED}`],
    ['SharedKey header', `Authorization: SharedKey st:${SIG}`, `Authorization: SharedKey st:${REDACTED}`],
    [
      'sasToken JSON field',
      `{"sasToken":"${QUERY}","container":"c"}`,
      `{"sasToken":"${REDACTED}","container":"c"}`,
    ],
    [
      'sasToken with spaces around the colon',
      `{ "sasToken" : "?${QUERY}" }`,
      `{ "sasToken" : "${REDACTED}" }`,
    ],
    ['util.inspect output', `{ sasToken: '?${QUERY}', name: 'x' }`, `{ sasToken: '${REDACTED}', name: 'x' }`],
    [
      'password JSON field',
      `{"password":"p@ss w;rd\\"x","user":"u"}`,
      `{"password":"${REDACTED}","user":"u"}`,
    ],
    ['smtpPassword field', `{"smtpPassword":"hunter2"}`, `{"smtpPassword":"${REDACTED}"}`],
    [
      'env dump',
      'SMTP_PASSWORD=hunter2\nAZURE_CLIENT_SECRET=abc~def\nOTHER=1',
      `SMTP_PASSWORD=${REDACTED}\nAZURE_CLIENT_SECRET=${REDACTED}\nOTHER=1`,
    ],
    ['pwd in ODBC string', 'Server=s;Uid=u;Pwd=hunter2;', `Server=s;Uid=u;Pwd=${REDACTED};`],
    ['access_token in a query', 'x?access_token=abc.def&y=1', `x?access_token=${REDACTED}&y=1`],
    [
      'escaped JSON inside JSON',
      JSON.stringify(JSON.stringify({ password: 'hunter 2' })),
      `"{\\"password\\":\\"${REDACTED}\\"}"`,
    ],
    ['unterminated JSON string', '{"clientSecret":"abc def', `{"clientSecret":"${REDACTED}"`],
  ])('%s', (_label, input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
    expect(redactSecrets(expected)).toBe(expected);
  });

  it.each([
    ['plain prose', 'Export daily-focus landed 3 files (1.2 MB) for 2024-05.'],
    ['scope path', '/providers/Microsoft.Billing/billingAccounts/123:456_2019-05-31/billingProfiles/AB12'],
    ['token metadata', '{"tokenId":"tok-1","secretName":"sas-stexports","expiresOn":"2026-01-01T00:00:00Z"}'],
    ['Service Bus key name', 'SharedAccessKeyName=RootManageSharedAccessKey'],
    ['words containing sig', 'signed=1&design=2&assignment=3'],
    ['Basic as an ordinary word', 'the Basic tier'],
    ['a SAS without a signature', '?sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2026-01-01'],
    ['empty', ''],
  ])('leaves %s alone', (_label, input) => {
    expect(redactSecrets(input)).toBe(input);
  });

  it('never throws, whatever it is given', () => {
    const weird: unknown[] = [undefined, null, 42, {}, Symbol('s'), { toString: () => `sig=${SIG}` }];
    for (const value of weird) expect(typeof redactSecrets(value as string)).toBe('string');
    expect(redactSecrets({ toString: () => `sig=${SIG}` } as unknown as string)).toBe(`sig=${REDACTED}`);
    const hostile = {
      toString() {
        throw new Error('nope');
      },
    };
    expect(redactSecrets(hostile as unknown as string)).toBe('[unprintable value]');
  });

  it('stays linear on long inputs without separators', () => {
    const long = `${'a-'.repeat(50_000)}password=${SIG}`;
    const out = redactSecrets(long);
    expect(out.endsWith(`password=${REDACTED}`)).toBe(true);
  });
});

describe('redactError', () => {
  it('gives name and message, redacted', () => {
    const err = new TypeError(`PUT ${URL_} failed`);
    expect(redactError(err)).toBe(
      `TypeError: PUT https://stexports.blob.core.windows.net/msexports?${QUERY_R} failed`,
    );
  });

  it('follows causes, redacted', () => {
    const err = new Error('export update failed', { cause: new Error(`AccountKey=${KEY};`) });
    expect(redactError(err)).toBe(`Error: export update failed (cause: Error: AccountKey=${REDACTED};)`);
  });

  it('stops following a cause cycle', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    a.cause = a;
    expect(redactError(a)).toBe('Error: a (cause: Error: a (cause: Error: a (cause: Error: a)))');
  });

  it.each<[string, unknown, string]>([
    ['string', `sig=${SIG}`, `sig=${REDACTED}`],
    ['object', { sasToken: QUERY }, `{"sasToken":"${REDACTED}"}`],
    ['undefined', undefined, 'undefined'],
    ['number', 7, '7'],
    [
      'circular object',
      (() => {
        const o: Record<string, unknown> = {};
        o.self = o;
        return o;
      })(),
      '[object Object]',
    ],
    ['error without message', new RangeError(), 'RangeError'],
  ])('describes a thrown %s', (_label, value, expected) => {
    expect(redactError(value)).toBe(expected);
  });
});

describe('redactMessage', () => {
  it('gives the message alone, redacted, and a thrown non-error as text', () => {
    const err = new TypeError(`PUT ${URL_} failed`, { cause: new Error('not shown') });
    expect(redactMessage(err)).toBe(
      `PUT https://stexports.blob.core.windows.net/msexports?${QUERY_R} failed`,
    );
    expect(redactMessage(`sig=${SIG}`)).toBe(`sig=${REDACTED}`);
  });
});

describe('redactSecrets fuzz: a signature never survives', () => {
  const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const random = seeded(0x5a5);
  const pick = <T>(items: readonly T[]): T => items[random(items.length)]!;
  const signature = () => `${Array.from({ length: 43 }, () => BASE64[random(64)]).join('')}=`;
  /** .NET System.Text.Json style: + & ' < > escaped as \uXXXX, / sometimes as \/. */
  const netEscape = (s: string) => s.replace(/\+/g, '\\u002B').replace(/\//g, random(2) ? '\\/' : '/');

  const FILLERS = [
    'Export failed',
    'RestError:',
    '\n',
    '\t',
    ' ',
    '{"level":"error","msg":',
    '}',
    '[',
    ']',
    '"',
    "'",
    ',',
    ';',
    'x-ms-request-id: 0b1c',
    'résumé ✓',
    '(',
    ')',
    '<br/>',
    'status=403',
  ];
  const surroundings = () =>
    Array.from({ length: random(4) }, () => pick(FILLERS)).join(random(2) ? ' ' : '');

  type Embed = (raw: string) => { text: string; forms: string[] };
  const q = (sig: string) =>
    `sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2026-01-01T00%3A00%3A00Z&spr=https&sig=${sig}`;
  const EMBEDS: Embed[] = [
    (raw) => ({
      text: `https://st.blob.core.windows.net/c?${q(encodeURIComponent(raw))}`,
      forms: [encodeURIComponent(raw)],
    }),
    (raw) => ({ text: `?sig=${encodeURIComponent(raw)}&sv=2022-11-02`, forms: [encodeURIComponent(raw)] }),
    (raw) => ({ text: q(raw), forms: [raw] }),
    (raw) => ({ text: `${q(encodeURIComponent(raw))}&st=2025-01-01`, forms: [encodeURIComponent(raw)] }),
    (raw) => ({
      text: `BlobEndpoint=https://st.blob.core.windows.net/;SharedAccessSignature=${q(encodeURIComponent(raw))};QueueEndpoint=x`,
      forms: [encodeURIComponent(raw)],
    }),
    (raw) => ({ text: JSON.stringify({ destination: { sasToken: `?${q(raw)}` } }), forms: [raw] }),
    (raw) => ({
      text: JSON.stringify({ url: `https://a/c?${q(encodeURIComponent(raw))}` }),
      forms: [encodeURIComponent(raw)],
    }),
    (raw) => {
      const escaped = netEscape(raw);
      return { text: `{"url":"https://a/c?sv=1\\u0026sig=${escaped}\\u0026se=2"}`, forms: [escaped] };
    },
    (raw) => {
      const enc = encodeURIComponent(`https://a/c?${q(encodeURIComponent(raw))}`);
      return { text: `redirect=${enc}`, forms: [encodeURIComponent(encodeURIComponent(raw))] };
    },
    (raw) => {
      const enc = encodeURIComponent(encodeURIComponent(`?${q(encodeURIComponent(raw))}`));
      return { text: `u=${enc}`, forms: [encodeURIComponent(encodeURIComponent(encodeURIComponent(raw)))] };
    },
    (raw) => ({
      text: `<Url>https://a/c?sv=1&amp;sig=${encodeURIComponent(raw)}&amp;se=2</Url>`,
      forms: [encodeURIComponent(raw)],
    }),
    (raw) => ({
      text: `DefaultEndpointsProtocol=https;AccountName=st;AccountKey=${raw};EndpointSuffix=core.windows.net`,
      forms: [raw],
    }),
    (raw) => ({ text: `endpoint=https://acs.communication.azure.com/;accesskey=${raw}`, forms: [raw] }),
    (raw) => ({ text: `Authorization: SharedKey st:${raw}`, forms: [raw] }),
    (raw) => ({
      text: `Authorization: SharedAccessSignature sr=x&sig=${encodeURIComponent(raw)}&se=1&skn=k`,
      forms: [encodeURIComponent(raw)],
    }),
    (raw) => ({ text: `{ sasToken: '?${q(raw)}', container: 'c' }`, forms: [raw] }),
    (raw) => ({ text: `{"password":"${raw}"}`, forms: [raw] }),
    (raw) => ({ text: JSON.stringify(JSON.stringify({ sasToken: raw })), forms: [raw] }),
    (raw) => ({ text: `Authorization: Bearer ${raw.replace(/=+$/, '')}`, forms: [raw.replace(/=+$/, '')] }),
  ];

  it('over 2,000 generated strings', () => {
    let checked = 0;
    for (let i = 0; i < 2000; i++) {
      const raw = signature();
      const embed = EMBEDS[i % EMBEDS.length]!;
      const { text, forms } = embed(raw);
      const input = `${surroundings()}${text}${surroundings()}`;
      const wrapped = random(4) === 0 ? JSON.stringify({ message: input }) : input;
      const out = redactSecrets(wrapped);
      for (const form of [raw, ...forms]) {
        // No 12-character piece of the secret, in any spelling it was embedded in, survives.
        for (let at = 0; at + 12 <= form.length; at++) {
          if (out.includes(form.slice(at, at + 12))) {
            throw new Error(`leak of ${form.slice(at, at + 12)} (embed ${i % EMBEDS.length}) in: ${out}`);
          }
        }
      }
      expect(out).toContain(REDACTED);
      expect(redactSecrets(out)).toBe(out);
      checked++;
    }
    expect(checked).toBe(2000);
  });
});

/** Reproducible integers in [0, n): the shared mulberry32 stream, scaled. */
function seeded(seed: number): (n: number) => number {
  const next = mulberry32(seed);
  return (n: number) => Math.floor(next() * n);
}
