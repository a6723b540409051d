// Benchmark: a day of a large partner on the dev stack. N customer scopes of one MPA billing
// account × 2 exports (flexera-csp), the Exports emulator with its realistic throttle (10 runs a
// minute per scope and ClientType), Azurite, and the local host serving the app's real
// registrations. After the onboarding that creates every export (reported apart), the day:
//   1. a no-change reconcile (POST /api/fleet/reconcile),
//   2. an out-of-band round (the outOfBandRuns timer; every export has a 6-hourly policy and is due),
//   3. the SAS watch (the sasWatch timer),
//   4. the landings: one month-to-date run of every export (2×N manifests, written as Cost
//      Management writes them), each manifest's blob event delivered to exportLanded,
//   5. the ledger refresh (the ledgerSweep timer).
// Per phase: wall time, ARM calls by operation, 429s per admitted call, storage requests to
// Azurite and its mean answer time, memory (this process's peak RSS and heap, the heap it keeps after
// a full GC at the phase's end, and apart from it the peak RSS of the emulator's and Azurite's own
// processes), CPU time per process, and the longest single function invocation (goal: none over
// 2 minutes; a round that is one invocation must page before it reaches that). The emulator runs in
// a process of its own, so this process holds the host, the app and the bench's driver only. Each
// size runs in a process of its own; the sizes are compared phase by phase (time ratio ≤ 10× for
// 10× the scopes; memory kept ~×1; CPU per scope ~×1 where the work per scope is the same: a
// process whose CPU per scope grows is doing more than linear work). Ends with one result line.
// Run: `npx tsx bench/fleetDay.ts [--scopes 500,5000] [--speed 20]`; `--scopes 500` runs one size
// (about 2.5 min on a 2-core machine under load; 5,000 about ten times that). Each phase's time goes
// to stderr as it ends; the figures and the result line come at the end.
import { spawn } from 'node:child_process';

import { type PhaseFigures } from './fleetDayMeter';
import { runSize, type SizeFigures } from './fleetDayRun';

const RESULT = 'FLEETDAY_RESULT ';
const TWO_MINUTES = 120_000;

interface Args {
  scopes: number[];
  speed: number;
  child: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const scopes = (value('--scopes') ?? '500,5000').split(',').map(Number);
  if (scopes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--scopes: expected e.g. 500,5000');
  const speed = Number(value('--speed') ?? 20);
  if (!(speed > 0)) throw new Error('--speed: expected a positive number');
  return { scopes, speed, child: argv.includes('--child') };
}

/** Runs one size in a fresh process (same tsx loader) and returns its figures. */
function runChild(scopes: number, speed: number): Promise<SizeFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      // --expose-gc: each phase ends with a full collection to measure the heap the app keeps.
      [
        ...process.execArgv,
        '--expose-gc',
        __filename,
        '--child',
        '--scopes',
        String(scopes),
        '--speed',
        String(speed),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT));
      if (code !== 0 || !line) reject(new Error(`size ${scopes}: exit ${code}\n${out}`));
      else resolve(JSON.parse(line.slice(RESULT.length)) as SizeFigures);
    });
  });
}

/** CPU time a process spent over the measured phases, per scope, ms. */
const cpuPerScope = (f: SizeFigures, who: keyof PhaseFigures['cpuMs']) =>
  f.phases.reduce((ms, p) => ms + p.cpuMs[who], 0) / f.scopes;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const perAdmitted = (p: PhaseFigures) => p.throttled / Math.max(1, p.armCalls - p.throttled);
const armText = (p: PhaseFigures) =>
  Object.entries(p.arm)
    .map(([op, n]) => `${op.replace('Exports_', '')} ${n}`)
    .join(', ') || 'none';

function phaseLine(p: PhaseFigures): string {
  return (
    `  ${p.phase.padEnd(20)} ${s(p.ms).padStart(8)} | ARM ${armText(p)} | 429/admitted ${perAdmitted(p).toFixed(3)} | ` +
    `storage ${p.storageRequests} req, ${p.storageMeanMs.toFixed(1)} ms each | host RSS peak ` +
    `${p.rssPeakMiB.toFixed(0)} MiB, heap peak ${p.heapPeakMiB.toFixed(0)} MiB (+${p.heapGrowthMiB.toFixed(0)}), ` +
    `kept ${p.heapRetainedMiB.toFixed(0)} MiB; ` +
    `emulator ${p.emulatorRssPeakMiB.toFixed(0)} MiB, Azurite ${p.azuriteRssPeakMiB.toFixed(0)} MiB | ` +
    `CPU host ${s(p.cpuMs.host)}, emulator ${s(p.cpuMs.emulator)}, Azurite ${s(p.cpuMs.azurite)} | ` +
    `${p.invocations} invocations, longest ${p.maxInvocation.functionName} ` +
    `${s(p.maxInvocation.ms)}${p.failedInvocations ? `, ${p.failedInvocations} failed` : ''} | ${p.detail}`
  );
}

function storageLine(p: PhaseFigures, scopes: number): string {
  const parts = Object.entries(p.storageByTarget ?? {})
    .slice(0, 8)
    .map(([k, n]) => `${k} ${(n / scopes).toFixed(2)} (${(p.storageMeanMsByTarget[k] ?? 0).toFixed(1)} ms)`);
  return `    ${p.phase.padEnd(20)} ${(p.storageRequests / scopes).toFixed(2)}: ${parts.join(', ')}`;
}

function report(sizes: SizeFigures[]): void {
  for (const f of sizes) {
    console.log(`${f.scopes} scopes × 2 exports (${f.exports}), ${s(f.wallMs)} in all:`);
    console.log(phaseLine(f.setup));
    for (const p of f.phases) console.log(phaseLine(p));
    console.log(`  storage requests per scope, by method and table or container (mean ms per request):`);
    for (const p of [f.setup, ...f.phases]) console.log(storageLine(p, f.scopes));
    if (f.problems) console.log(`  ${f.problems} warn/error lines, e.g. ${f.problemSample.join(' | ')}`);
  }
  const all = sizes.flatMap((f) => f.phases);
  const longest = all.reduce((a, p) => (p.maxInvocation.ms > a.maxInvocation.ms ? p : a));
  const throttled = all.reduce((n, p) => n + p.throttled, 0);
  const admitted = all.reduce((n, p) => n + p.armCalls - p.throttled, 0);
  const parts = [`fleet day at ${sizes.map((f) => f.scopes).join(' and ')} scopes × 2 exports`];
  const [small, large] = [sizes[0]!, sizes.at(-1)!];
  const peakOf = (f: SizeFigures, of: (p: PhaseFigures) => number) => Math.max(...f.phases.map(of));
  const rssPeak = (f: SizeFigures) => peakOf(f, (p) => p.rssPeakMiB);
  const heapPeak = (f: SizeFigures) => peakOf(f, (p) => p.heapPeakMiB);
  const kept = (f: SizeFigures) => peakOf(f, (p) => p.heapRetainedMiB);
  const mib = (f: SizeFigures, of: (p: PhaseFigures) => number) => peakOf(f, of).toFixed(0);
  // Azurite's mean answer time over the day's storage requests: its own cost per request.
  const storageMs = (f: SizeFigures) =>
    f.phases.reduce((ms, p) => ms + p.storageMeanMs * p.storageRequests, 0) /
    Math.max(
      1,
      f.phases.reduce((n, p) => n + p.storageRequests, 0),
    );
  if (sizes.length > 1) {
    const scale = large.scopes / small.scopes;
    const ratios = [large.setup, ...large.phases].map((p, i) => {
      const q = [small.setup, ...small.phases][i]!;
      return `${p.phase} ${s(p.ms)} ×${(p.ms / q.ms).toFixed(1)}`;
    });
    parts.push(
      `${scale.toFixed(0)}× the scopes: time ${ratios.join(', ')} (linear: ≤ ×${scale.toFixed(0)})`,
      `host memory: peak RSS ${rssPeak(small).toFixed(0)} → ${rssPeak(large).toFixed(0)} MiB ` +
        `×${(rssPeak(large) / rssPeak(small)).toFixed(2)}, peak heap ${heapPeak(small).toFixed(0)} → ` +
        `${heapPeak(large).toFixed(0)} MiB ×${(heapPeak(large) / heapPeak(small)).toFixed(2)}, heap kept after GC ` +
        `${kept(small).toFixed(0)} → ${kept(large).toFixed(0)} MiB ×${(kept(large) / Math.max(1, kept(small))).toFixed(2)} (goal ~×1); ` +
        `emulator ${mib(small, (p) => p.emulatorRssPeakMiB)} → ${mib(large, (p) => p.emulatorRssPeakMiB)} MiB, ` +
        `Azurite ${mib(small, (p) => p.azuriteRssPeakMiB)} → ${mib(large, (p) => p.azuriteRssPeakMiB)} MiB`,
      `Azurite answers a storage request in ${storageMs(small).toFixed(1)} → ${storageMs(large).toFixed(1)} ms ` +
        `×${(storageMs(large) / Math.max(0.001, storageMs(small))).toFixed(1)}`,
      `CPU per scope over the day: ${(['host', 'azurite', 'emulator'] as const)
        .map((who) => {
          const [a, b] = [cpuPerScope(small, who), cpuPerScope(large, who)];
          return `${who} ${a.toFixed(0)} → ${b.toFixed(0)} ms ×${(b / Math.max(0.001, a)).toFixed(2)}`;
        })
        .join(', ')} (linear work: ~×1)`,
    );
  } else {
    parts.push(large.phases.map((p) => `${p.phase} ${s(p.ms)}`).join('; '));
  }
  parts.push(
    `${throttled} 429s per ${admitted} admitted ARM calls (${(throttled / Math.max(1, admitted)).toFixed(3)}, goal ≤ 0.05)`,
    `longest invocation ${longest.maxInvocation.functionName} ${s(longest.maxInvocation.ms)} in ${longest.phase} ` +
      `(goal < 2 min: ${longest.maxInvocation.ms < TWO_MINUTES ? 'met' : 'NOT met'})`,
    `peak RSS ${Math.max(...all.map((p) => p.rssPeakMiB)).toFixed(0)} MiB`,
    `wall ${sizes.map((f) => `${f.scopes}: ${s(f.wallMs)}`).join(', ')} (seeding included)`,
  );
  console.log(parts.join('; '));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) {
    const figures = await runSize(args.scopes[0]!, args.speed);
    process.stdout.write(`${RESULT}${JSON.stringify(figures)}\n`);
    return;
  }
  const sizes: SizeFigures[] = [];
  for (const n of args.scopes) {
    process.stderr.write(`[fleetDay] ${n} scopes × 2 exports…\n`);
    sizes.push(await runChild(n, args.speed));
  }
  report(sizes);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
