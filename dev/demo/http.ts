// Tiny JSON-over-HTTP client for the demo: every failure names the call and shows the (redacted) answer.
import { redactSecrets } from '../../src/domain/redact';

export interface JsonResponse {
  status: number;
  body: unknown;
  headers: Headers;
}

export class HttpCallError extends Error {
  constructor(
    readonly call: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`${call} answered HTTP ${status}: ${redactSecrets(truncate(JSON.stringify(body) ?? ''))}`);
    this.name = 'HttpCallError';
  }
}

function truncate(text: string, max = 1_000): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Sends `body` as JSON (when given) and parses the answer as JSON (text when it is not JSON). */
export async function callJson(
  method: string,
  url: string,
  body?: unknown,
  expect: (status: number) => boolean = (s) => s >= 200 && s < 300,
): Promise<JsonResponse> {
  const call = `${method} ${new URL(url).pathname}`;
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  if (!expect(response.status)) throw new HttpCallError(call, response.status, parsed);
  return { status: response.status, body: parsed, headers: response.headers };
}
