// Date and number text in the styles real exports use. All dates are UTC.

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

export const DAY_MS = 86_400_000;

/** Midnight UTC of the day `date` falls on. */
export function utcDay(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}

export function addDays(date: Date, days: number): Date {
  return new Date(date.getTime() + days * DAY_MS);
}

export function daysInMonth(year: number, monthIndex: number): number {
  return new Date(Date.UTC(year, monthIndex + 1, 0)).getUTCDate();
}

export function firstOfMonth(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1));
}

export function firstOfNextMonth(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1));
}

export function lastOfMonth(date: Date): Date {
  return addDays(firstOfNextMonth(date), -1);
}

/** Every UTC day from `from` to `to`, both inclusive. */
export function eachDay(from: Date, to: Date): Date[] {
  const days: Date[] = [];
  for (let d = utcDay(from); d.getTime() <= utcDay(to).getTime(); d = addDays(d, 1)) days.push(d);
  return days;
}

/** `20240131`: the date-range folder style. */
export function yyyyMMdd(date: Date): string {
  return `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}`;
}

/** `202402031833`: the run-time folder style. */
export function yyyyMMddHHmm(date: Date): string {
  return `${yyyyMMdd(date)}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}`;
}

/** `2024-01-01T00:00:00` (no zone). */
export function isoNoZone(date: Date): string {
  return date.toISOString().slice(0, 19);
}

/** `2024-01-01T00:00:00Z`: FOCUS 1.0r2 and later. */
export function isoSeconds(date: Date): string {
  return `${isoNoZone(date)}Z`;
}

/** `2024-01-01T00:00Z`: FOCUS 1.0 wrote dates without seconds (fixed in 1.0r2). */
export function isoMinutes(date: Date): string {
  return `${date.toISOString().slice(0, 16)}Z`;
}

/** `01/31/2024`: the Date / BillingPeriod*Date style of actual and amortized cost files. */
export function usDate(date: Date): string {
  return `${pad(date.getUTCMonth() + 1)}/${pad(date.getUTCDate())}/${date.getUTCFullYear()}`;
}

/** `2024-02-03T18:33:03.1032074Z`: .NET's 7 fractional digits; the 4 digits below the millisecond
 * come from `subMillisecond` (0-9999) so they look real yet stay deterministic. */
export function dotnetTimestamp(date: Date, subMillisecond: number): string {
  return `${date.toISOString().slice(0, 23)}${pad(Math.abs(Math.trunc(subMillisecond)) % 10_000, 4)}Z`;
}

/** Decimal text without exponent or float noise: at most 10 fractional digits, trailing zeros dropped. */
export function formatDecimal(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`formatDecimal: ${value} is not a finite number`);
  const shortest = String(value);
  // Fast path: JavaScript's shortest round-trip text is already plain when it has no exponent.
  if (!shortest.includes('e')) {
    const dot = shortest.indexOf('.');
    if (dot < 0 || shortest.length - dot - 1 <= 10) return shortest === '-0' ? '0' : shortest;
  }
  const fixed = value.toFixed(10).replace(/0+$/, '').replace(/\.$/, '');
  return fixed === '-0' ? '0' : fixed;
}

/** Rounds half away from zero to `digits` decimals. */
export function roundTo(value: number, digits: number): number {
  const f = 10 ** digits;
  return (Math.sign(value) * Math.round(Math.abs(value) * f + Number.EPSILON)) / f;
}
