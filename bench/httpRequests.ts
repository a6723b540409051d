// Counts the process's outgoing plain-HTTP requests at `http.request` (the storage SDKs' Node
// transport calls it for every request to Azurite, which speaks plain http; HTTPS calls such as
// the Cost Management emulator's are not counted). Patched once per process, on first use.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

/** Where a request goes: the port of its URL or options (80 when none is given). */
export type RequestFilter = (target: { host: string; port: number }) => boolean;

export interface RequestCounter {
  reset(): void;
  total(): number;
  /** Requests by method and first path segment after the account (table or container), e.g.
   * `GET exports()`, `POST $batch`, `PUT msexports`. */
  byTarget(): Record<string, number>;
  /** Mean time from sending to the answer's headers, ms, by the same keys (Azurite's cost per
   * request: a table it scans in full answers slower as it grows). */
  meanMsByTarget(): Record<string, number>;
}

interface Counter {
  filter: RequestFilter;
  n: number;
  by: Map<string, number>;
  ms: Map<string, number>;
}

const counters: Counter[] = [];
let patched = false;

interface Target {
  host: string;
  port: number;
  method: string;
  path: string;
}

function targetOf(args: unknown[]): Target {
  let method = 'GET';
  for (const arg of args) {
    if (typeof arg === 'object' && arg !== null && !(arg instanceof URL)) {
      method = (arg as { method?: string }).method ?? method;
    }
  }
  for (const arg of args) {
    if (typeof arg === 'string' || arg instanceof URL) {
      const url = new URL(arg);
      return { host: url.hostname, port: Number(url.port || 80), method, path: url.pathname };
    }
    if (typeof arg === 'object' && arg !== null) {
      const o = arg as { hostname?: string; host?: string; port?: number | string; path?: string };
      const host = o.hostname ?? o.host ?? 'localhost';
      const [name, port] = host.split(':');
      return { host: name ?? host, port: Number(o.port ?? port ?? 80), method, path: o.path ?? '/' };
    }
  }
  return { host: 'localhost', port: 80, method, path: '/' };
}

/** `METHOD segment`: the table or container after Azurite's account segment (keys left out). */
function keyOf(t: Target): string {
  const segment = (t.path.split('?')[0] ?? '').split('/').filter(Boolean)[1] ?? '';
  // Table: `t(PartitionKey='…',RowKey='…')` is one entity, `t()` (with $filter) a query.
  return `${t.method} ${segment.replace(/\(.+\)$/, '(pk,rk)')}`;
}

/** A counter of the requests `filter` accepts (every request without one). */
export function countHttpRequests(filter: RequestFilter = () => true): RequestCounter {
  if (!patched) {
    patched = true;
    const original = http.request.bind(http) as (...args: unknown[]) => http.ClientRequest;
    (http as { request: unknown }).request = (...args: unknown[]) => {
      const target = targetOf(args);
      const counting = counters.filter((c) => c.filter(target));
      const key = keyOf(target);
      for (const c of counting) {
        c.n++;
        c.by.set(key, (c.by.get(key) ?? 0) + 1);
      }
      const req = original(...args);
      if (counting.length > 0) {
        const sent = performance.now();
        req.once('response', () => {
          const ms = performance.now() - sent;
          for (const c of counting) c.ms.set(key, (c.ms.get(key) ?? 0) + ms);
        });
      }
      return req;
    };
  }
  const counter: Counter = { filter, n: 0, by: new Map(), ms: new Map() };
  counters.push(counter);
  return {
    reset: () => {
      counter.n = 0;
      counter.by.clear();
      counter.ms.clear();
    },
    total: () => counter.n,
    byTarget: () => Object.fromEntries([...counter.by].sort((a, b) => b[1] - a[1])),
    meanMsByTarget: () =>
      Object.fromEntries([...counter.by].map(([key, n]) => [key, (counter.ms.get(key) ?? 0) / n])),
  };
}

/** Requests to any of these endpoints' ports (e.g. Azurite's blob, queue and table endpoints). */
export function toPortsOf(...endpoints: string[]): RequestFilter {
  const ports = new Set(endpoints.map((e) => Number(new URL(e).port || 80)));
  return (target) => ports.has(target.port);
}
