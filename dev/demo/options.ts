// Environment options of `npm run dev` and `npm run demo`, validated with messages naming the variable.

/** A speed factor from `name`: a positive number, or "max" for as fast as possible. */
export function speedFromEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (raw.toLowerCase() === 'max') return Infinity;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`${name}: expected a positive number or "max", got "${raw}"`);
  }
  return value;
}

/** Whole seconds from `name`, within [min, max]. */
export function secondsFromEnv(
  name: string,
  fallback: number,
  min: number,
  max: number,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name}: expected a whole number of seconds from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** True when `name` is set to 1/true/yes (case-insensitive). */
export function flagFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes)$/i.test(env[name]?.trim() ?? '');
}
