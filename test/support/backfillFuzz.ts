import { mulberry32 } from '../../dev/emulator/data/prng';
// Invalid POST /api/backfills bodies for fuzz tests: a valid body with one or more mutations, each of
// which alone makes the request invalid and names the field it breaks. Seeded, so failures replay.

export type Body = Record<string, unknown>;

export function validBody(overrides: Body = {}): Body {
  return {
    scope: '/subscriptions/00000000-0000-0000-0000-000000000001',
    datasets: ['ActualCost', 'AmortizedCost'],
    months: 12,
    destination: { storageAccount: 'acct1', tokenId: 'tok1', container: 'exports' },
    ...overrides,
  };
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

function junk(random: Random): string {
  const alphabet = 'abcXYZ019/-_.:?#%~ é😀\u0000';
  const length = 1 + Math.floor(random() * 12);
  return Array.from({ length }, () => pick(random, [...alphabet])).join('');
}

/** The body's destination object (a fresh valid one if an earlier mutation removed it). */
function dest(body: Body): Body {
  const d = body.destination;
  if (typeof d === 'object' && d !== null && !Array.isArray(d)) return d as Body;
  body.destination = { ...(validBody().destination as Body) };
  return body.destination as Body;
}

/** Each mutation changes the body and returns the field the error must name. */
export const MUTATIONS: readonly ((body: Body, random: Random) => string)[] = [
  (b) => (delete b.scope, 'scope'),
  (b, r) => ((b.scope = `/nope/${junk(r)}`), 'scope'),
  (b, r) => ((b.scope = pick(r, [42, true, null, {}, [], ''])), 'scope'),
  (b) => ((b.datasets = []), 'datasets'),
  (b, r) => ((b.datasets = pick(r, ['ActualCost', 7, null, {}])), 'datasets'),
  (b) => (delete b.datasets, 'datasets'),
  (b, r) => ((b.datasets = ['ActualCost', `X${junk(r)}`]), 'datasets[1]'),
  (b) => ((b.datasets = ['ActualCost', 'actualcost']), 'datasets[1]'),
  (b, r) => (
    (b.datasets = [pick(r, ['PriceSheet', 'ReservationDetails', 'ReservationTransactions'])]),
    'datasets[0]'
  ),
  (b, r) => ((b.months = pick(r, [0, -1, 85, 1.5, 1000, Number.MAX_SAFE_INTEGER])), 'months'),
  (b, r) => ((b.months = pick(r, ['12', null, true, {}])), 'months'),
  (b) => ((b.from = '2025-01'), 'months'),
  (b, r) => {
    delete b.months;
    b.from = pick(r, ['2025-13', '2025-1', '25-01', 'January', '2025-00', '1969-12']);
    return 'from';
  },
  (b, r) => {
    delete b.months;
    b.from = '2025-01';
    b.to = pick(r, ['2099-01', 'xx', '2025-13']);
    return 'to';
  },
  (b) => {
    delete b.months;
    b.from = '2025-05';
    b.to = '2025-02';
    return 'from';
  },
  (b, r) => {
    delete b.months;
    b.to = pick(r, [202501, true]);
    return 'to';
  },
  (b) => (delete b.destination, 'destination'),
  (b, r) => ((b.destination = pick(r, [[], 'acct1', 3, null])), 'destination'),
  (b) => ((dest(b).sasToken = 'sv=2022-11-02&sig=c2VjcmV0'), 'destination.sasToken'),
  (b, r) => {
    const key = `x${junk(r).replace(/[^a-z]/gi, '')}q`;
    dest(b)[key] = 1;
    return `destination.${key}`;
  },
  (b) => (
    (dest(b).resourceId =
      '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct1'),
    'destination'
  ),
  (b, r) => (
    (dest(b).container = pick(r, ['A', 'ab', 'a--b', 'UPPER', 'x'.repeat(64), 5, null])),
    'destination.container'
  ),
  (b) => (delete dest(b).container, 'destination.container'),
  (b, r) => (
    (dest(b).storageAccount = pick(r, ['Acct', 'a', 'acct-1', 'x'.repeat(25), 9])),
    'destination.storageAccount'
  ),
  (b, r) => {
    b.destination = { resourceId: pick(r, ['/subscriptions/x', 'acct1', 12]), container: 'exports' };
    return 'destination.resourceId';
  },
  (b, r) => ((dest(b).tokenId = pick(r, ['', ' ', 'a/b', 7, '-x', 'x'.repeat(200)])), 'destination.tokenId'),
  (b, r) => (
    (dest(b).rootFolderPath = pick(r, [
      'a/../b',
      'a//b',
      'a?b',
      'a#b',
      5,
      './x',
      'billing/aaaa:bbbb_2019-05-31',
      'a b',
      'x@y',
    ])),
    'destination.rootFolderPath'
  ),
  (b) => {
    b.destination = { container: 'exports' };
    return 'destination';
  },
  (b, r) => ((b.format = pick(r, ['Xml', 'csv', 1, null])), 'format'),
  (b, r) => ((b.compression = pick(r, ['zip', 'GZIP', 0, null])), 'compression'),
  (b) => ((b.format = 'Parquet'), (b.compression = 'gzip'), 'compression'),
  (b) => ((b.format = 'Csv'), (b.compression = 'snappy'), 'compression'),
  (b, r) => ((b.dataVersion = pick(r, ['', '!!', 'x'.repeat(40), 5, null])), 'dataVersion'),
  (b, r) => ((b.concurrency = pick(r, [0, -1, 99, 2.5, '2', null, true])), 'concurrency'),
  (b, r) => ((b.keepExports = pick(r, ['yes', 1, null, 'true'])), 'keepExports'),
  (b, r) => ((b.force = pick(r, ['yes', 0, null, {}])), 'force'),
  (b, r) => {
    const key = pick(r, [
      'Scope',
      'month',
      'sasToken',
      'dataset',
      'concurency',
      `z${junk(r).replace(/[^a-z]/gi, '')}`,
    ]);
    b[key] = 'x';
    return key;
  },
];

export interface FuzzCase {
  body: unknown;
  /** Fields an error must name (every mutation's, when they do not overlap). */
  fields: string[];
  description: string;
}

/** `count` invalid bodies: mostly one mutation, some with two or three, a few that are not objects. */
export function invalidBodies(count: number, seed = 1): FuzzCase[] {
  const random = mulberry32(seed);
  const cases: FuzzCase[] = [];
  for (let i = 0; i < count; i++) {
    if (random() < 0.03) {
      const body = pick(random, [null, [], 'text', 42, true, [validBody()]]);
      cases.push({ body, fields: ['body'], description: `non-object ${JSON.stringify(body)}` });
      continue;
    }
    const body = structuredClone(validBody());
    const n = random() < 0.75 ? 1 : 2 + Math.floor(random() * 2);
    const fields: string[] = [];
    const used = new Set<number>();
    for (let k = 0; k < n; k++) {
      const index = Math.floor(random() * MUTATIONS.length);
      if (used.has(index)) continue;
      used.add(index);
      fields.push(MUTATIONS[index]!(body, random));
    }
    // With several mutations one may hide another (a removed destination hides its container), so
    // only single mutations pin the field; the others must still be refused.
    cases.push({
      body,
      fields: used.size === 1 ? fields : [],
      description: `mutations ${[...used].join('+')}: ${JSON.stringify(body).slice(0, 200)}`,
    });
  }
  return cases;
}
