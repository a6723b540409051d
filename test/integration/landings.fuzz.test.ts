// 1,000+ randomly broken manifests through the landing service against the jest Azurite: never an
// unhandled exception, never a partial write. Each case ends as exactly one of: a rejected row with
// no file rows; an incomplete row recorded before LandingIncompleteError; or a complete landing with
// one file row per listed blob. Seeded, so a failure names a case that replays.
import { randomUUID } from 'node:crypto';

import { mulberry32 } from '../../dev/emulator/data/prng';
import { fromTableKey, type LandingRecord, mapWithConcurrency, type Stored } from '../../src/azure/catalog';
import { runFolderOf } from '../../src/domain/manifest';
import { LandingIncompleteError, type LandingOutcome } from '../../src/services/landings';
import { filesOf, fixture, type LandingWorld, landingWorld, rawRows } from '../support/landings';

const CASES = 1_200;
const SEED = 0x1a2b3c;

const BASES = [
  'actualcost-csv-gzip-multipart.json',
  'focuscost-parquet-2024-04-01.json.crlf',
  'minimal-hand-made.json',
  'legacy-2021-01-01.json',
  'no-counts-2023-07-01-preview.json',
  'zero-rows.json',
];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function strangeValue(random: () => number, tag: string): Json {
  const values: Json[] = [
    null,
    true,
    -1,
    1.5,
    Number.MAX_SAFE_INTEGER,
    0,
    '',
    ' ',
    `v-${tag}`,
    'x'.repeat(5000),
    '2025-13-45T99:99:99Z',
    '../../etc/passwd',
    `https://acct.blob.core.windows.net/c?sv=2024&sig=FUZZSECRET${tag}`,
    'AccountKey=FUZZKEYFUZZKEY==;',
    "\u0000\u0007/\\#?%'|",
    '\uD800',
    [],
    [1, 2],
    {},
    { nested: { deeper: [null] } },
    '__proto__',
  ];
  return values[Math.floor(random() * values.length)]!;
}

/** Every path (object keys and array indexes) in a document. */
function paths(doc: Json, prefix: (string | number)[] = []): (string | number)[][] {
  if (doc === null || typeof doc !== 'object') return [prefix];
  const out: (string | number)[][] = prefix.length > 0 ? [prefix] : [];
  const entries = Array.isArray(doc) ? doc.map((v, i) => [i, v] as const) : Object.entries(doc);
  for (const [k, v] of entries) out.push(...paths(v, [...prefix, k]));
  return out;
}

function setAt(doc: Json, path: (string | number)[], value: Json | undefined): void {
  let node = doc as Record<string | number, Json>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  if (value === undefined) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else node[last] = value;
}

/** One broken manifest: a fixture with a fresh run id, then 1-3 mutations of its JSON, or of its text. */
function mutate(
  random: () => number,
  index: number,
): { text: string | Buffer; name: string; folder: string } {
  const base = BASES[index % BASES.length]!;
  const { text } = fixture(base, randomUUID());
  const doc = JSON.parse(text) as Json;
  // Written where Azure writes it: the run folder its (unmutated) blobs are in.
  const first = (doc as { blobs?: { blobName?: string }[] }).blobs?.[0]?.blobName;
  const folder = first
    ? runFolderOf(first)
    : `fuzz/case-${index}/20250701-20250731/202508010943/${randomUUID()}`;
  const mutations = 1 + Math.floor(random() * 3);
  for (let m = 0; m < mutations; m++) {
    const all = paths(doc);
    const target = all[Math.floor(random() * all.length)];
    if (!target || target.length === 0) continue;
    const kind = random();
    if (kind < 0.35) setAt(doc, target, undefined);
    else if (kind < 0.8) setAt(doc, target, strangeValue(random, String(index)));
    else if (kind < 0.9) {
      const blobs = (doc as { blobs?: Json }).blobs;
      if (Array.isArray(blobs) && blobs.length > 0) blobs.push(blobs[0]!); // duplicate a blob
    } else (doc as Record<string, Json>).blobCount = Math.floor(random() * 5);
  }
  let out: string | Buffer = JSON.stringify(doc, null, index % 2 === 0 ? 2 : 0);
  const textual = random();
  if (textual < 0.08)
    out = out.slice(0, Math.floor(random() * out.length)); // truncated upload
  else if (textual < 0.12)
    out = Buffer.from([0xff, 0xfe, ...Buffer.from(out).subarray(0, 40)]); // not UTF-8
  else if (textual < 0.14) out = `\uFEFF${out.replace(/\n/g, '\r\n')}`; // BOM + CRLF: still valid
  return { text: out, name: base, folder };
}

let world: LandingWorld;
beforeAll(async () => {
  world = await landingWorld();
});

test(`${CASES} fuzzed manifests: a rejected row, an incomplete row or a complete landing, never half of one`, async () => {
  const random = mulberry32(SEED);
  const cases = Array.from({ length: CASES }, (_, i) => ({ i, ...mutate(random, i) }));
  const tally = { rejected: 0, incomplete: 0, complete: 0 };
  const service = world.service();

  await mapWithConcurrency(cases, 8, async ({ i, text, name, folder }) => {
    const blobName = name.startsWith('legacy') ? `${folder}/_manifest.json` : `${folder}/manifest.json`;
    let outcome: LandingOutcome;
    try {
      outcome = await service.catalogue({ container: world.containerName, blobName, content: text });
    } catch (error) {
      if (!(error instanceof LandingIncompleteError)) {
        throw new Error(`case ${i} (${name}) threw ${String(error)}\n${String(text).slice(0, 400)}`);
      }
      const row = await landingAt(error.landingKey.partitionKey, error.landingKey.rowKey);
      expect(row).toMatchObject({ state: 'incomplete' });
      expect(row!.missingBlobCount).toBeGreaterThan(0);
      expect(await filesOf(world.catalog, row!.runId)).toHaveLength(row!.blobCount);
      tally.incomplete++;
      return;
    }
    if (outcome.kind === 'ignored') throw new Error(`case ${i}: a manifest name was ignored`);
    const row = await landingAt(outcome.landingKey.partitionKey, outcome.landingKey.rowKey);
    expect(row?.state).toBe(outcome.state);
    if (outcome.state === 'rejected') {
      expect(outcome.fileRows).toBe(0);
      expect(await filesOf(world.catalog, row!.runId)).toEqual([]);
      expect(row!.rejectionReason).toBeTruthy();
      expect(`${row!.rejectionReason ?? ''}`).not.toMatch(/FUZZSECRET|FUZZKEY/);
      tally.rejected++;
    } else {
      expect(outcome.state).toBe('complete'); // only zero-blob manifests complete here (no files uploaded)
      expect(await filesOf(world.catalog, row!.runId)).toHaveLength(row!.blobCount);
      tally.complete++;
    }
  });

  expect(tally.rejected + tally.incomplete + tally.complete).toBe(CASES);
  expect(tally.rejected).toBeGreaterThan(CASES / 3);
  expect(tally.incomplete).toBeGreaterThan(0);
  // Nothing in the tables looks like a secret, whatever the manifests carried.
  const everything = JSON.stringify(await collectAll(), (_k, v: unknown) =>
    typeof v === 'bigint' ? v.toString() : v,
  );
  expect(everything).not.toMatch(/FUZZSECRET|FUZZKEY/);
}, 300_000);

async function landingAt(partitionKey: string, rowKey: string): Promise<Stored<LandingRecord> | undefined> {
  const sep = rowKey.lastIndexOf('|');
  const row = await world.catalog.getLanding(
    partitionKey,
    fromTableKey(rowKey.slice(0, sep)),
    fromTableKey(rowKey.slice(sep + 1)),
  );
  return row;
}

/** Every row the catalogue wrote: landing, file and period rows of the landings table. */
async function collectAll(): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const row of rawRows(world.catalog)) out.push(row);
  return out;
}
