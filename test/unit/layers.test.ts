// The folders of src/ depend one way (docs/architecture.md): functions → workflows | services →
// azure → domain, with config beside them. This reads every import in src/ and fails on an import
// against that direction, so no pair of folders can come to import each other.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const SRC = path.join(__dirname, '..', '..', 'src');

/** Which folders each folder may import (besides itself). `config` is src/config.ts. */
const ALLOWED: Record<string, readonly string[]> = {
  domain: [],
  config: ['domain'],
  azure: ['domain', 'config'],
  services: ['azure', 'domain', 'config'],
  workflows: ['domain'],
  functions: ['services', 'workflows', 'azure', 'domain', 'config'],
  index: ['functions'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return files(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

/** The top-level part of src/ a file belongs to: its folder, or its name for files at the root. */
function layerOf(file: string): string {
  const [first] = path.relative(SRC, file).split(path.sep);
  return first!.replace(/\.ts$/, '');
}

test('every import in src/ follows the layers, so no two folders import each other', () => {
  const wrong: string[] = [];
  const pairs = new Set<string>();
  for (const file of files(SRC)) {
    const from = layerOf(file);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/^(?:import|export)[^'";]*?from\s+'(\.[^']+)'/gm)) {
      const to = layerOf(path.resolve(path.dirname(file), match[1]!));
      if (to === from) continue;
      pairs.add(`${from}→${to}`);
      if (!(ALLOWED[from] ?? []).includes(to)) wrong.push(`${path.relative(SRC, file)} imports ${match[1]}`);
    }
  }
  expect(wrong).toEqual([]);
  const cycles = [...pairs].filter((p) => pairs.has(p.split('→').reverse().join('→')));
  expect(cycles).toEqual([]);
  // The scan sees the app's real dependencies (a broken pattern would pass vacuously).
  expect([...pairs]).toEqual(
    expect.arrayContaining(['functions→services', 'services→azure', 'azure→domain']),
  );
});

/** The SDKs that talk to storage, ARM, Key Vault, identity or mail: only src/azure may import them,
 * so services take adapters and never reach a table, a blob or ARM themselves. */
const IO_SDK =
  /^(?:@azure\/(?:data-tables|storage-[a-z-]+|arm-[a-z-]+|core-rest-pipeline|core-client|keyvault-[a-z-]+|identity|communication-[a-z-]+)|nodemailer)(?:\/|$)/;

test('only src/azure imports a storage, ARM or other I/O SDK', () => {
  const wrong: string[] = [];
  let seenInAzure = 0;
  for (const file of files(SRC)) {
    const text = readFileSync(file, 'utf8');
    const specifiers = [
      ...text.matchAll(/^(?:import|export)[^'";]*?from\s+'([^'.][^']*)'/gm),
      ...text.matchAll(/\b(?:import|require)\(\s*'([^'.][^']*)'\s*\)/g),
    ].map((m) => m[1]!);
    for (const specifier of specifiers.filter((s) => IO_SDK.test(s))) {
      if (layerOf(file) === 'azure') seenInAzure++;
      else wrong.push(`${path.relative(SRC, file)} imports ${specifier}`);
    }
  }
  expect(wrong).toEqual([]);
  // The pattern matches the SDKs the adapters really use (it would pass vacuously otherwise).
  expect(seenInAzure).toBeGreaterThan(5);
});
