// Keeps the README true as the code moves: every setting of local.settings.sample.json is in its
// configuration table, every command it shows exists, and every file it links or names is there.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const scripts = (
  JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts;
const sample = (
  JSON.parse(readFileSync(path.join(ROOT, 'local.settings.sample.json'), 'utf8')) as {
    Values: Record<string, string>;
  }
).Values;
// Host plumbing, not settings of the app: described in docs/configuration.md.
const HOST_ONLY = new Set(['FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsFeatureFlags']);

function section(title: string): string {
  const start = readme.indexOf(`## ${title}\n`);
  if (start < 0) throw new Error(`README has no "## ${title}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

test('the first screen shows the two commands: the local demo and the tests', () => {
  const firstScreen = readme.split('\n').slice(0, 25).join('\n');
  expect(firstScreen).toMatch(/^npm ci && npm run demo\b/m);
  expect(firstScreen).toMatch(/^npm ci && npm test\b/m);
});

test.each(Object.keys(sample).filter((name) => !HOST_ONLY.has(name)))(
  'setting %s is described in the configuration table',
  (name) => {
    const rows = section('Configuration')
      .split('\n')
      .filter((line) => line.startsWith('| `'));
    const row = rows.find((line) => line.split('|')[1]!.includes(`\`${name}\``));
    expect(row).toBeDefined();
    const [, , meaning, defaultValue] = row!.split('|').map((cell) => cell.trim());
    expect(meaning!.length).toBeGreaterThan(10);
    expect(defaultValue).not.toBe('');
  },
);

test('every `npm run X` / `npm X` the README shows is a script of package.json', () => {
  // A command starts a line or a code span (`npm X`), or says `npm run`; flags may precede the name.
  // Prose such as "npm prints its banner" is not a command.
  const named = [
    ...readme.matchAll(/(?:^[ \t]*|`)npm (?:run )?(?:--[a-z]+ )*([a-z:]+)|npm run (?:--[a-z]+ )*([a-z:]+)/gm),
  ]
    .map((m) => (m[1] ?? m[2])!)
    .filter((name) => !['ci', 'install'].includes(name));
  expect(named.length).toBeGreaterThan(3);
  for (const name of new Set(named)) expect(Object.keys(scripts)).toContain(name);
});

test('every file the README links or runs exists', () => {
  const linked = [...readme.matchAll(/\]\(([^)#]+)(?:#[^)]*)?\)/g)].map((m) => m[1]!);
  const run = [...readme.matchAll(/npx tsx (\S+\.ts)/g)].map((m) => m[1]!);
  expect(linked.length).toBeGreaterThan(3);
  expect([...linked, ...run].filter((file) => !existsSync(path.join(ROOT, file)))).toEqual([]);
});
