// What the admin API reports about API traffic: counters per operation, scope, export and status,
// and the last N requests.
import type { Scope } from '../../src/domain/scope';
import type { Counters, RequestLogEntry } from './admin';

export type Operation =
  | 'Exports_List'
  | 'Exports_Get'
  | 'Exports_CreateOrUpdate'
  | 'Exports_Delete'
  | 'Exports_Execute'
  | 'Exports_GetExecutionHistory';

export interface Route {
  operation: Operation;
  scopeText: string;
  exportName?: string;
}

function emptyCounters(): Counters {
  return { total: 0, byOperation: {}, byScope: {}, byExport: {}, byStatus: {} };
}

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

export class RequestRecorder {
  private counters = emptyCounters();
  private readonly log: RequestLogEntry[] = [];

  /** @param limit requests kept in the log (oldest dropped) */
  constructor(private readonly limit: number) {}

  /** Counts a request that matched an operation (before it is admitted: throttled ones count too). */
  count(route: Route, scope: Scope | undefined): void {
    const counters = this.counters;
    counters.total += 1;
    bump(counters.byOperation, route.operation);
    const scopeKey = scope?.canonical ?? route.scopeText;
    bump((counters.byScope[scopeKey] ??= {}), route.operation);
    if (route.exportName) {
      const key = `${scopeKey}/providers/Microsoft.CostManagement/exports/${route.exportName.toLowerCase()}`;
      bump((counters.byExport[key] ??= {}), route.operation);
    }
  }

  /** Logs an answered request; its status is counted if it matched an operation. */
  answered(entry: RequestLogEntry): void {
    if (entry.operation !== 'Unknown') bump(this.counters.byStatus, String(entry.status));
    this.log.push(entry);
    if (this.log.length > this.limit) this.log.splice(0, this.log.length - this.limit);
  }

  snapshot(): Counters {
    return structuredClone(this.counters);
  }

  requests(): RequestLogEntry[] {
    return [...this.log];
  }

  reset(): void {
    this.counters = emptyCounters();
    this.log.length = 0;
  }
}
