// Benchmark: cold start. The time Node takes to import the built app (dist/src/index.js: every
// trigger registered, as the Functions host does on a cold start) against a bare import of
// @azure/functions measured in the same run, each in a fresh process, alternating, median of 7.
// Also counts the modules the app loads and lists the SDKs it no longer loads at start-up (they
// load on first use: src/azure/lazyModule.ts). Builds first. Prints one line.
// Run: `npx tsx bench/coldStart.ts`.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
const ROUNDS = 7;
const LAZY = [
  '@azure/arm-costmanagement',
  '@azure/communication-email',
  '@azure/keyvault-secrets',
  'nodemailer',
];

// Runs in the child: time the require, then report the packages it loaded.
const PROBE = `
const t0 = performance.now();
require(process.argv[1]);
const ms = performance.now() - t0;
const packages = new Set();
for (const f of Object.keys(require.cache)) {
  const m = f.match(/node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/);
  if (m) packages.add(m[1].replace(/\\\\/g, '/'));
}
process.stdout.write(JSON.stringify({ ms, modules: Object.keys(require.cache).length, packages: [...packages] }));
`;

interface Probe {
  ms: number;
  modules: number;
  packages: string[];
}

function probe(target: string): Probe {
  const out = execFileSync(process.execPath, ['-e', PROBE, target], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'], // the package's "test mode" warnings go to stderr
  });
  return JSON.parse(out) as Probe;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function main(): void {
  execFileSync(
    process.execPath,
    [resolve(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
  const base: number[] = [];
  const app: Probe[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    base.push(probe('@azure/functions').ms);
    app.push(probe(resolve(ROOT, 'dist/src/index.js')));
  }
  const appMs = median(app.map((p) => p.ms));
  const baseMs = median(base);
  const loaded = new Set(app[0]!.packages);
  const stillLoaded = LAZY.filter((p) => loaded.has(p));
  console.log(
    `coldStart: importing the app takes ${appMs.toFixed(0)} ms vs ${baseMs.toFixed(0)} ms for a bare ` +
      `@azure/functions = ${(appMs / baseMs).toFixed(1)}× (median of ${ROUNDS}, fresh processes); ` +
      `${app[0]!.modules} modules from ${loaded.size} packages; loaded on first use instead: ` +
      `${LAZY.filter((p) => !loaded.has(p)).join(', ') || 'none'}` +
      (stillLoaded.length ? `; still loaded at start-up: ${stillLoaded.join(', ')}` : ''),
  );
}

main();
