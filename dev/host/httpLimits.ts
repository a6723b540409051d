// The Functions host's own HTTP limits, enforced by the local host before a function runs: "The HTTP
// request length is limited to 100 MB (104,857,600 bytes), and the URL length is limited to 4 KB
// (4,096 bytes)" (learn.microsoft.com, Azure Functions HTTP trigger, "Limits"). The app's own, lower
// body limits live in src/functions (they answer first for the bodies it reads).
import type http from 'node:http';

export const MAX_REQUEST_BODY_BYTES = 104_857_600;
export const MAX_URL_BYTES = 4096;

export type BodyRead = { kind: 'ok'; body: Buffer } | { kind: 'tooLarge' };

/** Whether the request line's URL (path and query) is longer than the host accepts. */
export function urlTooLong(url: string | undefined): boolean {
  return Buffer.byteLength(url ?? '/', 'utf8') > MAX_URL_BYTES;
}

/** Reads the body unless it is (or announces itself) bigger than `max`; the rest is drained, so
 * the caller can still answer 413 on the same connection. */
export function readBodyWithinLimit(
  req: http.IncomingMessage,
  max = MAX_REQUEST_BODY_BYTES,
): Promise<BodyRead> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    req.resume();
    return Promise.resolve({ kind: 'tooLarge' });
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) over = true;
      if (!over) chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? { kind: 'tooLarge' } : { kind: 'ok', body: Buffer.concat(chunks) }));
    req.on('error', reject);
  });
}
