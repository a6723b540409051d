// What the adversarial tests count in every answer: a 5xx, a leak (a secret, an internal error, a
// long echo of the caller's input, an answer out of the one error shape), and their totals, printed
// as one line so a run shows them.

export interface Tally {
  requests: number;
  serverErrors: number;
  leaks: number;
  monthsLost: number;
  duplicates: number;
  problems: string[];
}

export function newTally(): Tally {
  return { requests: 0, serverErrors: 0, leaks: 0, monthsLost: 0, duplicates: 0, problems: [] };
}

/** Echoing more than this many characters of a planted marker counts as a leak. */
export const MAX_ECHO = 64;
/** A planted marker: a run of one letter that no answer would contain by chance. */
export const MARKER = 'Q';

const SECRETS = [
  /sig=(?!REDACTED)[A-Za-z0-9%+/=]{8,}/i,
  /[?&]code=/i, // a function, host or system key in a URL
  /RestError|ECONNREFUSED|ECONNRESET|ETIMEDOUT|\bat [\w.<>]+ \(/, // internal errors, stack frames
  /x-functions-key/i,
];

export interface Answer {
  status: number;
  text: string;
  contentType: string;
}

export async function send(url: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(url, init);
  return {
    status: response.status,
    text: await response.text(),
    contentType: response.headers.get('content-type') ?? '',
  };
}

/** Records a 5xx (except a 503 when `allow503`: a dependency down) and every leak; returns what it found. */
export function inspect(tally: Tally, label: string, answer: Answer, allow503 = false): string[] {
  tally.requests++;
  const found: string[] = [];
  if (answer.status >= 500 && !(allow503 && answer.status === 503)) {
    tally.serverErrors++;
    found.push(`${answer.status}`);
  }
  for (const pattern of SECRETS) if (pattern.test(answer.text)) found.push(`matches ${pattern.source}`);
  if (answer.text.includes(MARKER.repeat(MAX_ECHO + 1)))
    found.push(`echoes more than ${MAX_ECHO} characters`);
  if (answer.status >= 400) {
    let shape = false;
    try {
      const body = JSON.parse(answer.text) as {
        error?: { code?: unknown; message?: unknown; fields?: unknown };
      };
      shape =
        typeof body.error?.code === 'string' &&
        typeof body.error.message === 'string' &&
        Array.isArray(body.error.fields);
    } catch {
      shape = false;
    }
    if (!shape || !answer.contentType.startsWith('application/json')) found.push('not the one error shape');
  }
  const leaked = found.filter((f) => !/^\d{3}$/.test(f));
  if (leaked.length > 0) tally.leaks++;
  if (found.length > 0 && tally.problems.length < 20) {
    tally.problems.push(`${label}: ${answer.status} ${found.join(', ')}: ${answer.text.slice(0, 200)}`);
  }
  return found;
}

export function printTally(name: string, tally: Tally): void {
  console.log(
    `${name}: requests tried ${tally.requests}, 5xx ${tally.serverErrors}, leaks ${tally.leaks}, ` +
      `months lost ${tally.monthsLost}, duplicates ${tally.duplicates}`,
  );
}

/** Small seeded PRNG (mulberry32): the same cases on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
