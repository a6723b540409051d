// Field problems of an export body or run request: the error that lists them, and the sink the
// section validators record them in (all of them, rather than stopping at the first).
import type { FieldError } from '../../domain/fieldError';

/** An export field the builder refuses, in the app's one field-error shape. */
export type FieldProblem = FieldError;

/** An input the builder (or a run request) refuses; `problems` name every offending field. */
export class ExportBodyError extends Error {
  constructor(readonly problems: FieldProblem[]) {
    super(`Invalid export request:\n- ${problems.map((p) => `${p.field}: ${p.message}`).join('\n- ')}`);
    this.name = 'ExportBodyError';
  }
  get fields(): string[] {
    return this.problems.map((p) => p.field);
  }
}

/** Where validators record problems (collects all of them rather than stopping at the first). */
export interface ProblemSink {
  add(field: string, message: string): void;
}

/** The problems of one body or request, in the order they were found. */
export class Problems implements ProblemSink {
  readonly list: FieldProblem[] = [];
  add(field: string, message: string): void {
    this.list.push({ field, message });
  }
}

/** The value when it is one of `allowed`; otherwise records a problem naming them. */
export function oneOf<T extends string>(
  problems: Problems,
  field: string,
  value: unknown,
  allowed: readonly T[],
): T | undefined {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  problems.add(field, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return undefined;
}
