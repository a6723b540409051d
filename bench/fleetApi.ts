// The fleet HTTP API of a running dev stack as the benchmarks drive it: start a round
// (POST /api/fleet/{onboard|reconcile}) and poll its status URL until it completes.
import type { RunningStack } from '../dev/stack';
import type { FleetRoundTotals } from '../src/workflows/fleetRound';

export interface FleetApi {
  /** Starts a round; resolves with its status URL. */
  start(path: 'onboard' | 'reconcile', body: unknown): Promise<string>;
  /** Polls a status URL every 500 ms until the round completes; throws when it failed. */
  wait(statusUrl: string): Promise<FleetRoundTotals>;
}

export function fleetApi(stack: Pick<RunningStack, 'api' | 'functionKey'>): FleetApi {
  const headers = { 'content-type': 'application/json', 'x-functions-key': stack.functionKey };
  return {
    async start(path, body) {
      const response = await fetch(`${stack.api}/fleet/${path}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
      });
      const json = (await response.json()) as { statusUrl?: string };
      if (!json.statusUrl) throw new Error(`POST ${path}: ${response.status} ${JSON.stringify(json)}`);
      return json.statusUrl;
    },
    async wait(statusUrl) {
      for (;;) {
        const response = await fetch(statusUrl, { headers });
        const json = (await response.json()) as { runtimeStatus: string; result: FleetRoundTotals | null };
        if (json.runtimeStatus === 'Completed' && json.result) return json.result;
        if (['Failed', 'Terminated'].includes(json.runtimeStatus))
          throw new Error(`round ${json.runtimeStatus}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    },
  };
}
