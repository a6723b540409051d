// Hostile bodies and parameters against every HTTP route of the app, over real HTTP through the
// local host (the real registrations): deep nesting, huge values, huge bodies, broken JSON and
// encodings. Every answer must be a 4xx in the one error shape, short, and free of secrets and
// internals; the totals are printed.
import { MAX_BODY_BYTES, MAX_BODY_DEPTH } from '../../src/functions/http';
import { type AppHost, startAppHost } from '../support/appHost';
import {
  inspect,
  MARKER,
  MAX_ECHO,
  newTally,
  printTally,
  prng,
  send,
  type Tally,
} from '../support/hostileAnswers';

jest.setTimeout(240_000);

let stack: AppHost;
const tally: Tally = newTally();

beforeAll(async () => {
  stack = await startAppHost();
}, 180_000);

afterAll(async () => {
  printTally('hostile HTTP bodies', tally);
  await stack?.stop();
});

const BODY_ROUTES: { method: string; path: string }[] = [
  { method: 'POST', path: 'backfills' },
  { method: 'POST', path: 'tokens' },
  { method: 'POST', path: 'tokens/devstoreaccount1/rotate' },
  {
    method: 'PUT',
    path: 'exports/providers%7Cmicrosoft.billing%7Cbillingaccounts%7C12345678/daily/outOfBand',
  },
];

const nestedArrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const nestedObjects = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
const big = (n: number) => MARKER.repeat(n);

/** The hostile bodies of the review, and their neighbours at the limits. */
const FIXED: { name: string; body: string; status: number[] }[] = [
  { name: '5000 nested arrays (10 KB)', body: nestedArrays(5000), status: [400] },
  { name: '5000 nested objects', body: nestedObjects(5000), status: [400] },
  { name: 'nesting one past the limit', body: nestedObjects(MAX_BODY_DEPTH + 1), status: [400] },
  { name: 'nesting inside a known field', body: `{"scope":${nestedArrays(3000)}}`, status: [400] },
  { name: 'a 1 MB value', body: JSON.stringify({ scope: big(1_000_000) }), status: [413] },
  { name: 'a 60 KB value', body: JSON.stringify({ scope: big(60_000), sasToken: big(60) }), status: [400] },
  { name: 'a 60 KB unknown field name', body: `{"${big(60_000)}":1}`, status: [400] },
  {
    name: '4000 unknown fields',
    body: JSON.stringify(Object.fromEntries([...Array(4000).keys()].map((i) => [`${big(8)}${i}`, i]))),
    status: [400],
  },
  { name: 'a body one byte too large', body: ' '.repeat(MAX_BODY_BYTES + 1), status: [413] },
  { name: 'not JSON', body: '{not json', status: [400] },
  { name: 'truncated', body: '{"scope":"/subscriptions/', status: [400] },
  { name: 'a JSON string', body: JSON.stringify(big(5000)), status: [400] },
  { name: 'null', body: 'null', status: [400] },
  { name: 'an array', body: '[1,2,3]', status: [400] },
  { name: 'a number', body: '1e999999', status: [400] },
  {
    name: 'brackets inside strings do not count as depth',
    body: JSON.stringify({ scope: '['.repeat(5000) }),
    status: [400],
  },
  { name: 'invalid UTF-8', body: '{"scope":"\udc00\ud800"}', status: [400] },
  {
    name: 'a SAS token in an unknown field',
    body: JSON.stringify({ extra: `sv=2024-11-04&sig=${'A'.repeat(43)}%3D` }),
    status: [400],
  },
];

async function call(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  return send(`${stack.api}/${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body }),
  });
}

describe.each(BODY_ROUTES)('$method /api/$path', ({ method, path }) => {
  test.each(FIXED)('$name: a short 4xx in the one error shape', async ({ name, body, status }) => {
    const answer = await call(method, path, body);
    const found = inspect(tally, `${method} ${path} ${name}`, answer);
    expect(found).toEqual([]);
    // The token routes may refuse what backfills refuses with another 4xx (e.g. 404 when a field is
    // fine but nothing is registered); the limits must answer exactly.
    if (status[0] === 413 || /nest|large/.test(name)) expect(status).toContain(answer.status);
    else expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(answer.text.length).toBeLessThan(20_000);
  });
});

test('the limits are named in the answer', async () => {
  const deep = JSON.parse((await call('POST', 'backfills', nestedArrays(5000))).text);
  expect(deep.error).toMatchObject({ code: 'BodyTooDeep', fields: [{ field: 'body' }] });
  expect(deep.error.message).toContain(`${MAX_BODY_DEPTH} levels`);
  const large = JSON.parse((await call('POST', 'tokens', ' '.repeat(MAX_BODY_BYTES + 1))).text);
  expect(large.error).toMatchObject({ code: 'BodyTooLarge', fields: [{ field: 'body' }] });
  expect(large.error.message).toContain(`${MAX_BODY_BYTES} bytes`);
  const echo = JSON.parse((await call('POST', 'backfills', JSON.stringify({ scope: big(60_000) }))).text);
  expect(echo.error.fields).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'scope' })]));
  expect(JSON.stringify(echo).length).toBeLessThan(4_000);
});

test('fuzz: 600 random hostile bodies over every body route answer 4xx, short, with no leak', async () => {
  const random = prng(1313);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const leaf = (): unknown =>
    pick([
      () => big(Math.floor(random() * 3000)),
      () => Math.floor(random() * 1e9) - 5e8,
      () => null,
      () => pick(['ActualCost', 'FocusCost', '2025-01', '/subscriptions/x', '%2527', '\u0000', '../..']),
      () => `sv=2024-11-04&sp=racwl&se=2030-01-01&sig=${'B'.repeat(44)}`,
      () => true,
    ])();
  const value = (depth: number): unknown => {
    if (depth <= 0 || random() < 0.35) return leaf();
    if (random() < 0.5) return Array.from({ length: 1 + Math.floor(random() * 3) }, () => value(depth - 1));
    const keys = [
      'scope',
      'datasets',
      'months',
      'from',
      'to',
      'destination',
      'sasToken',
      'storageAccount',
      'container',
      'minIntervalMinutes',
      'hoursUtc',
      big(80),
    ];
    return Object.fromEntries(
      Array.from({ length: 1 + Math.floor(random() * 4) }, () => [pick(keys), value(depth - 1)]),
    );
  };
  const bodies: string[] = [];
  for (let i = 0; i < 150; i++) {
    const shape = random();
    if (shape < 0.5) bodies.push(JSON.stringify(value(4)));
    else if (shape < 0.7) bodies.push(nestedObjects(MAX_BODY_DEPTH + Math.floor(random() * 8000)));
    else if (shape < 0.85)
      bodies.push(JSON.stringify({ scope: big(Math.floor(random() * 2 * MAX_BODY_BYTES)) }));
    else bodies.push(JSON.stringify(value(3)).slice(0, Math.floor(random() * 200))); // truncated
  }
  let fives = 0;
  for (const route of BODY_ROUTES) {
    for (let i = 0; i < bodies.length; i += 10) {
      const answers = await Promise.all(
        bodies.slice(i, i + 10).map((b) => call(route.method, route.path, b)),
      );
      answers.forEach((answer, k) => {
        if (inspect(tally, `${route.method} ${route.path} fuzz ${i + k}`, answer).length > 0) fives++;
        expect(answer.status).not.toBe(202); // nothing hostile starts anything
      });
    }
  }
  expect(tally.problems).toEqual([]);
  expect(fives).toBe(0);
});

test('route parameters: odd ids and keys answer 4xx in the one shape', async () => {
  const cases: [string, string][] = [
    ['GET', 'backfills/%2527'],
    ['GET', `backfills/${big(MAX_ECHO * 10)}`],
    ['DELETE', 'backfills/bf-000000-000000-zz'],
    ['DELETE', 'exports/%2527/x/outOfBand'],
    ['DELETE', `exports/providers%7Cmicrosoft.billing%7Cbillingaccounts%7C12345678/${big(300)}/outOfBand`],
    ['DELETE', 'exports/%E0%A4%A/x/outOfBand'],
    ['POST', 'tokens/%2527/rotate'],
    ['POST', `tokens/${big(200)}/rotate`],
    ['GET', 'status?format=%3Cscript%3E'],
  ];
  for (const [method, path] of cases) {
    const answer = await call(method, path, method === 'POST' ? '{"sasToken":"x"}' : undefined);
    expect(inspect(tally, `${method} ${path}`, answer)).toEqual([]);
    expect(answer.status).toBeGreaterThanOrEqual(400);
  }
});
