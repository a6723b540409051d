// The one shape every validator reports a problem in: which input (a dotted path such as
// `destination.container` or `datasets[0]`) and what is wrong with it, in words a caller can act on.

export interface FieldError {
  field: string;
  message: string;
}

/** A short, quoted prefix of a caller's value for a message: never echo a large input back whole. */
export function quoteInput(value: unknown, max = 40): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return typeof value === 'string' ? JSON.stringify(cut) : cut;
}

/** A setting that must be a whole number ≥ 1; the RangeError names it. */
export function positiveWhole(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name}: expected a whole number ≥ 1, got ${String(value)}`);
  }
  return value;
}
