// Counts the process's outgoing plain-HTTP requests at `http.request` (the storage SDKs' Node
// transport calls it for every request to Azurite, which speaks plain http; HTTPS calls such as
// the Cost Management emulator's are not counted). Patched once per process, on first use.
import http from 'node:http';

/** Where a request goes: the port of its URL or options (80 when none is given). */
export type RequestFilter = (target: { host: string; port: number }) => boolean;

export interface RequestCounter {
  reset(): void;
  total(): number;
}

const counters: { filter: RequestFilter; n: number }[] = [];
let patched = false;

function targetOf(args: unknown[]): { host: string; port: number } {
  for (const arg of args) {
    if (typeof arg === 'string' || arg instanceof URL) {
      const url = new URL(arg);
      return { host: url.hostname, port: Number(url.port || 80) };
    }
    if (typeof arg === 'object' && arg !== null) {
      const o = arg as { hostname?: string; host?: string; port?: number | string };
      const host = o.hostname ?? o.host ?? 'localhost';
      const [name, port] = host.split(':');
      return { host: name ?? host, port: Number(o.port ?? port ?? 80) };
    }
  }
  return { host: 'localhost', port: 80 };
}

/** A counter of the requests `filter` accepts (every request without one). */
export function countHttpRequests(filter: RequestFilter = () => true): RequestCounter {
  if (!patched) {
    patched = true;
    const original = http.request.bind(http) as (...args: unknown[]) => http.ClientRequest;
    (http as { request: unknown }).request = (...args: unknown[]) => {
      const target = targetOf(args);
      for (const c of counters) if (c.filter(target)) c.n++;
      return original(...args);
    };
  }
  const counter = { filter, n: 0 };
  counters.push(counter);
  return { reset: () => void (counter.n = 0), total: () => counter.n };
}

/** Requests to any of these endpoints' ports (e.g. Azurite's blob, queue and table endpoints). */
export function toPortsOf(...endpoints: string[]): RequestFilter {
  const ports = new Set(endpoints.map((e) => Number(new URL(e).port || 80)));
  return (target) => ports.has(target.port);
}
