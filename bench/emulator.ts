// Benchmark: how many one-month runs per second the Exports emulator completes with Azurite
// (speedFactor max, small exports: 5 resources/day, one CSV file per run), and how close a client
// that honours Retry-After gets to a run limit of R runs/minute. Prints one line.
import https from 'node:https';

import { startAzurite } from '../dev/azurite';
import { type RunningEmulator, startEmulator } from '../dev/emulator/server';

const EXPORTS = 32; // runs of one export are processed one at a time, as in the service
const RUNS = 200;
const CLIENT_CONCURRENCY = 16;
const THROTTLE_RUNS_PER_MINUTE = 600;
const THROTTLE_MEASURE_MS = 10_000;

function post(emu: RunningEmulator, agent: https.Agent, method: string, path: string, body?: unknown) {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<{ status: number; retryAfter: number }>((resolve, reject) => {
    const req = https.request(
      new URL(`${path}?api-version=2025-03-01`, emu.url),
      {
        method,
        agent,
        headers: { authorization: 'Bearer bench', ...(text ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, retryAfter: Number(res.headers['retry-after'] ?? 0) }),
        );
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

const scopeOf = (i: number) => `/subscriptions/00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const exportPath = (i: number, suffix = '') =>
  `${scopeOf(i)}/providers/Microsoft.CostManagement/exports/bench${suffix}`;

function exportBody(container: string) {
  return {
    properties: {
      format: 'Csv',
      deliveryInfo: {
        destination: {
          resourceId: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/bench',
          container,
          rootFolderPath: 'bench',
        },
      },
      definition: {
        type: 'ActualCost',
        timeframe: 'Custom',
        timePeriod: { from: '2025-01-01T00:00:00Z', to: '2025-01-31T00:00:00Z' },
        dataSet: { granularity: 'Daily', configuration: { dataVersion: '2021-10-01' } },
      },
      partitionData: true,
      dataOverwriteBehavior: 'CreateNewReport',
    },
  };
}

async function runThroughput(
  emu: RunningEmulator,
  agent: https.Agent,
  expectFiles: boolean,
): Promise<number> {
  for (let i = 0; i < EXPORTS; i += 1) {
    const r = await post(emu, agent, 'PUT', exportPath(i), exportBody('bench'));
    if (r.status !== 201) throw new Error(`create export ${i}: ${r.status}`);
  }
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < RUNS) {
      const i = next++;
      const r = await post(emu, agent, 'POST', exportPath(i % EXPORTS, '/run'));
      if (r.status !== 200) throw new Error(`run ${i}: ${r.status}`);
    }
  };
  await Promise.all(Array.from({ length: CLIENT_CONCURRENCY }, worker));
  await emu.admin.waitForIdle(300_000);
  const seconds = (performance.now() - started) / 1000;
  const runs = await emu.admin.runs();
  const completed = runs.filter((r) => r.status === 'Completed').length;
  if (completed !== RUNS) throw new Error(`only ${completed}/${RUNS} runs completed`);
  if (expectFiles && runs.some((r) => !r.manifestFile)) throw new Error('a completed run has no manifest');
  return RUNS / seconds;
}

/** Sequential client on one scope that waits Retry-After on 429; rate measured after the burst. */
async function throttleAccuracy(emu: RunningEmulator, agent: https.Agent): Promise<number> {
  await emu.admin.setSpeedFactor('max');
  await post(emu, agent, 'PUT', exportPath(999), exportBody('throttle'));
  await emu.admin.setThrottle({ runPerScope: { limit: THROTTLE_RUNS_PER_MINUTE, windowSeconds: 60 } });
  let measuringSince: number | undefined;
  let accepted = 0;
  const deadline = () =>
    measuringSince !== undefined && performance.now() - measuringSince >= THROTTLE_MEASURE_MS;
  while (!deadline()) {
    const r = await post(emu, agent, 'POST', exportPath(999, '/run'));
    if (r.status === 429) {
      measuringSince ??= performance.now(); // the burst is spent: steady state from here
      await new Promise((resolve) => setTimeout(resolve, r.retryAfter * 1000));
    } else if (r.status === 200) {
      if (measuringSince !== undefined) accepted += 1;
    } else {
      throw new Error(`throttled run: ${r.status}`);
    }
  }
  const perMinute = (accepted / THROTTLE_MEASURE_MS) * 60_000;
  return perMinute / THROTTLE_RUNS_PER_MINUTE;
}

async function main(): Promise<void> {
  const azurite = await startAzurite();
  const common = {
    speedFactor: Infinity,
    clock: { now: '2025-03-15T12:00:00Z' },
    maxConcurrentDeliveries: 16,
  };
  const delivering = await startEmulator({
    ...common,
    storage: { blobEndpoint: azurite.blobEndpoint, connectionString: azurite.connectionString },
    data: { resourcesPerDay: 5 },
  });
  const apiOnly = await startEmulator(common); // no storage: runs complete without files
  const agentFor = (emu: RunningEmulator) =>
    new https.Agent({ keepAlive: true, maxSockets: CLIENT_CONCURRENCY, ca: emu.caPem });
  const agents = [agentFor(delivering), agentFor(apiOnly)] as const;
  try {
    const withAzurite = await runThroughput(delivering, agents[0], true);
    const withoutStorage = await runThroughput(apiOnly, agents[1], false);
    await apiOnly.admin.reset();
    const share = await throttleAccuracy(apiOnly, agents[1]);
    console.log(
      `emulator: ${withAzurite.toFixed(1)} one-month runs/s delivered into Azurite, ${withoutStorage.toFixed(0)} runs/s API+state machine alone ` +
        `(${RUNS} runs over ${EXPORTS} exports, ${CLIENT_CONCURRENCY} concurrent clients, speedFactor max); ` +
        `run limit ${THROTTLE_RUNS_PER_MINUTE}/min: a Retry-After-honouring client reached ${(share * 100).toFixed(0)}% of it`,
    );
  } finally {
    for (const agent of agents) agent.destroy();
    await delivering.stop();
    await apiOnly.stop();
    await azurite.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
