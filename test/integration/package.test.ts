// The deployment package, built as azd builds it (npm run package), holds a working app: unpacked
// into an empty folder, its entry point loads with nothing but the packaged files and registers
// every function src/index.ts registers. A bare `src` in .funcignore (gitignore rules: any depth)
// once dropped dist/src and node_modules/**/src, and nothing else noticed.
import '../../src/index';

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { unzipSync } from 'fflate';
import ignore from 'ignore';

import { registrations } from '../../dev/host/functionsCoreStub';
import { azdExcludes, packageApp, type PackageResult } from '../../dev/package/packageApp';

jest.setTimeout(240_000);

const root = path.resolve(__dirname, '../..');
// Production dependencies unpack to ~52 MB today; the dev tree is ~8x that. The bound catches dev
// dependencies, tests or tools creeping in long before Flex's package limits matter.
const MAX_UNPACKED_MB = 90;

let work: string;
let result: PackageResult;
let unpacked: string;

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'package-test-'));
  // The staging copy is a plain copy of the same file list; the zip is what azd would make of it.
  result = packageApp(root, { outDir: path.join(work, 'out'), stage: false });
  unpacked = path.join(work, 'unpacked');
  mkdirSync(unpacked);
  for (const [name, data] of Object.entries(unzipSync(readFileSync(result.zip!.path)))) {
    if (name.endsWith('/')) continue;
    mkdirSync(path.dirname(path.join(unpacked, name)), { recursive: true });
    writeFileSync(path.join(unpacked, name), data);
  }
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the deployment package', () => {
  it('loads from an empty folder and registers every function the source registers', () => {
    const stdout = execFileSync(
      process.execPath,
      ['--import', 'tsx', 'dev/package/loadPackaged.ts', unpacked],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    const packaged = JSON.parse(stdout.trim().split('\n').pop()!) as { name: string; trigger: string }[];
    const expected = registrations.map((r) => ({ name: r.name, trigger: r.trigger.type }));
    expect(expected.length).toBeGreaterThan(10);
    expect(packaged.sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      expected.sort((a, b) => a.name.localeCompare(b.name)),
    );
  });

  it('holds the built app, host.json and production dependencies, and nothing for development', () => {
    for (const kept of [
      'host.json',
      'package.json',
      'dist/src/index.js',
      'node_modules/durable-functions/lib/src/index.js',
    ])
      expect(existsSync(path.join(unpacked, kept))).toBe(true);
    for (const dropped of [
      'src',
      'test',
      'dev',
      'infra',
      'docs',
      'bench',
      'local.settings.sample.json',
      '.funcignore',
    ])
      expect(existsSync(path.join(unpacked, dropped))).toBe(false);
    for (const devDependency of ['typescript', 'jest', 'azurite', 'eslint', 'tsx', '@types/node'])
      expect(existsSync(path.join(unpacked, 'node_modules', devDependency))).toBe(false);
    expect(result.zip!.unpackedBytes / 1024 / 1024).toBeLessThan(MAX_UNPACKED_MB);
  });

  it('applies .funcignore with gitignore rules, where an unanchored name matches at any depth', () => {
    // Why every folder in .funcignore starts with "/": this is how azd reads a bare name.
    const bare = ignore().add('src\n');
    expect(azdExcludes(bare, 'dist/src', true)).toBe(true);
    expect(azdExcludes(bare, 'node_modules/durable-functions/lib/src', true)).toBe(true);
    const anchored = ignore().add('/src\n');
    expect(azdExcludes(anchored, 'src', true)).toBe(true);
    expect(azdExcludes(anchored, 'dist/src', true)).toBe(false);
    // azd's own exclusions, whatever the file says.
    expect(azdExcludes(ignore(), 'local.settings.json', false)).toBe(true);
    expect(azdExcludes(ignore(), '.azure', true)).toBe(true);
  });
});
