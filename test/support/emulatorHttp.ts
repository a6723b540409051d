// One HTTPS call to the Exports emulator as an ARM client makes it: its CA trusted, a bearer token,
// JSON in and out. The answer keeps the raw text too (an empty body is an assertion of its own).
import https from 'node:https';

export interface EmulatorReply<T = unknown> {
  status: number;
  body: T;
  text: string;
}

export function emulatorCall<T = unknown>(
  emulator: { url: string; caPem: string },
  method: string,
  urlPath: string,
  options: { apiVersion?: string; body?: unknown; token?: string } = {},
): Promise<EmulatorReply<T>> {
  const url = new URL(urlPath, emulator.url);
  url.searchParams.set('api-version', options.apiVersion ?? '2025-03-01');
  const text = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: emulator.caPem,
        headers: {
          authorization: `Bearer ${options.token ?? 't'}`,
          ...(text ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, text: raw, body: (raw ? JSON.parse(raw) : undefined) as T });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}
