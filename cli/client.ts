// The app's HTTP API as the CLI uses it: base URL and function key from flags or environment, JSON
// in and out, and every failure mapped to an exit code a script can rely on.
import { redactSecrets } from '../src/domain/redact';

/** Exit codes (README, "Operators' CLI"). */
export const EXIT = {
  ok: 0,
  /** The command worked but what it reports is not good: a backfill that did not fully succeed,
   * a degraded status. */
  notOk: 1,
  usage: 2,
  /** The API refused the request (4xx): a bad field, a wrong key, an unknown id. */
  refused: 3,
  /** The API could not be reached or failed (5xx, network, timeout). */
  unavailable: 4,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface ApiTarget {
  /** `http://host/api`, no trailing slash. */
  api: string;
  key?: string;
}

export function apiTarget(flags: { api?: string; key?: string }, env: NodeJS.ProcessEnv): ApiTarget {
  const api = (flags.api ?? env.COST_AUTOPILOT_API ?? '').trim().replace(/\/+$/, '');
  if (!api) {
    throw new CliError(
      'no API: pass --api URL or set COST_AUTOPILOT_API (locally: the "api" field npm run dev prints)',
      EXIT.usage,
    );
  }
  let url: URL;
  try {
    url = new URL(api);
  } catch {
    throw new CliError(`--api: "${api}" is not a URL`, EXIT.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(`--api: expected an http(s) URL, got "${api}"`, EXIT.usage);
  const key = flags.key ?? env.COST_AUTOPILOT_KEY;
  return { api, ...(key ? { key } : {}) };
}

/** Calls `{api}{path}` (or `{origin}{path}` when `fromOrigin`); answers the parsed JSON body. */
export async function call<T = unknown>(
  target: ApiTarget,
  method: string,
  path: string,
  body?: unknown,
  options: { fromOrigin?: boolean } = {},
): Promise<T> {
  const base = options.fromOrigin ? new URL(target.api).origin : target.api;
  const what = `${method} ${path}`;
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, {
      method,
      headers: {
        Accept: 'application/json',
        ...(target.key ? { 'x-functions-key': target.key } : {}),
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(120_000),
    });
  } catch (error) {
    const cause =
      error instanceof Error
        ? error.cause instanceof Error
          ? error.cause.message
          : error.message
        : String(error);
    throw new CliError(`${what}: the API at ${base} could not be reached (${cause})`, EXIT.unavailable);
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  if (!response.ok) {
    const detail = redactSecrets(typeof parsed === 'string' ? parsed : JSON.stringify(parsed)).slice(
      0,
      2_000,
    );
    throw new CliError(
      `${what} answered HTTP ${response.status}: ${detail}`,
      response.status >= 500 ? EXIT.unavailable : EXIT.refused,
      parsed,
    );
  }
  return parsed as T;
}
