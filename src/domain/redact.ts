// Removes secrets from text before it reaches logs, errors, tables or alerts: SAS signatures,
// storage/ACS/Service Bus keys, bearer tokens and password-like fields. Over-redacting is
// acceptable; leaking is not. Every rule leaves `REDACTED`, which no rule matches as a secret
// again, so redaction is idempotent.

export const REDACTED = 'REDACTED';

// `=` written plainly, URL-encoded once or more (`%3D`, `%253D`) or JSON-escaped (`\u003D`).
const EQ = '(?:=|%(?:25)*3[dD]|\\\\+u003[dD])';
// A URL-encoded character that ends a value: space " # & ' , ; < > \ (never in base64 or ids).
const ENCODED_END = '%(?:25)*(?:2[02367cC]|3[bBcCeE]|5[cC])';
// JSON escapes (at any nesting depth: `\\u0026`) that stand for a value-ending character:
// " & ' < > (.NET escapes & as \u0026).
const ESCAPED_END = '\\\\+u00(?:22|26|27|3[cCeE])';
// One character of a secret value: anything but a delimiter, or a JSON escape (`\/`, `\u002B`)
// that does not stand for a delimiter (System.Text.Json writes `+` as `\u002B`).
const VALUE_CHAR = `(?:(?!${ENCODED_END}|${ESCAPED_END})(?:[^&\\s"'<>\\\\;,)\\]}#]|\\\\+/|\\\\+u[0-9a-fA-F]{4}))`;
// The same, but `&` (plain or encoded) does not end it: a whole SAS token as one value.
const TOKEN_CHAR = `(?:(?!%(?:25)*(?:2[0237cC]|3[bBcCeE]|5[cC])|\\\\+u00(?:22|27|3[cCeE]))(?:[^\\s"'<>\\\\;,)\\]}#]|\\\\+/|\\\\+u[0-9a-fA-F]{4}))`;

// Field names whose value is a secret wherever they appear (JSON, inspect output, env dumps,
// connection strings, query strings). The prefix lets `SMTP_PASSWORD` or `clientSecret` match;
// it is bounded so a long run of word characters cannot make the scan quadratic.
const SECRET_NAME =
  '[A-Za-z0-9_.-]{0,64}(?:password|passwd|pwd|secret|accountkey|accesskey|apikey|api_key|api-key|sastoken|sas_token|signature)' +
  '|sig|token|access_token|accesstoken|refresh_token|refreshtoken|id_token|client_assertion';

interface Rule {
  pattern: RegExp;
  replace: (match: string, ...groups: string[]) => string;
}

const RULES: Rule[] = [
  // SharedAccessSignature=sv=...&sig=...; in storage connection strings: the whole token.
  {
    pattern: new RegExp(`(?<![A-Za-z0-9_])(SharedAccessSignature${EQ})(${TOKEN_CHAR}+)`, 'gi'),
    replace: (_m, name) => `${name}${REDACTED}`,
  },
  // Service Bus / Event Hubs style authorization: `SharedAccessSignature sr=...&sig=...&skn=...`.
  {
    pattern: new RegExp(`(?<![A-Za-z0-9_])(SharedAccessSignature\\s+)(?!${REDACTED})(${TOKEN_CHAR}+)`, 'gi'),
    replace: (_m, prefix) => `${prefix}${REDACTED}`,
  },
  // sig=... anywhere, even right after `\u0026` or `%26` (so no word boundary on the left).
  {
    pattern: new RegExp(`(?<![A-Za-z])(sig${EQ})(${VALUE_CHAR}+)`, 'gi'),
    replace: (_m, name) => `${name}${REDACTED}`,
  },
  // HTTP authorization schemes: Bearer tokens anywhere; Basic only in an Authorization header
  // ("Basic" is also an ordinary word); SharedKey account:signature.
  {
    pattern: /\b(Bearer\s+)(?!REDACTED)[A-Za-z0-9\-._~+/=]+/gi,
    replace: (_m, prefix) => `${prefix}${REDACTED}`,
  },
  {
    pattern: /(\bAuthorization["']?\s*[:=]\s*["']?Basic\s+)(?!REDACTED)[A-Za-z0-9+/=]+/gi,
    replace: (_m, prefix) => `${prefix}${REDACTED}`,
  },
  {
    pattern: /\b(SharedKey(?:Lite)?\s+[A-Za-z0-9]+:)(?!REDACTED)[A-Za-z0-9+/=]+/g,
    replace: (_m, prefix) => `${prefix}${REDACTED}`,
  },
  // Bare JWTs (access tokens pasted without a scheme).
  {
    pattern: /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g,
    replace: () => REDACTED,
  },
  // Named fields: "name": "value", name: 'value', name=value, NAME%3Dvalue.
  {
    // The name's quotes may be escaped (`\"password\"` inside a serialised JSON string, or
    // deeper); the value's quotes then are too.
    pattern: new RegExp(
      `(?<![A-Za-z0-9_])((?:\\\\)*["']|)(${SECRET_NAME})\\1(\\s*(?::|${EQ})\\s*)` +
        '(?:' +
        [
          `(\\\\+")(?:(?!\\\\+")[^\\n])*(?:\\\\+")?`, // \"value\" (escaped quotes, any depth)
          `(")(?:[^"\\\\\\n]|\\\\.)*"?`, // "value", or unterminated to the line end
          `(')(?:[^'\\\\\\n]|\\\\.)*'?`, // 'value'
          `(${VALUE_CHAR}+)`, // bare value
        ].join('|') +
        ')',
      'gi',
    ),
    replace: (_match, quoteChar, name, separator, escaped, double, single) => {
      const valueQuote = escaped ?? double ?? single ?? '';
      return `${quoteChar}${name}${quoteChar}${separator}${valueQuote}${REDACTED}${valueQuote}`;
    },
  },
];

/** Returns text with every recognised secret value replaced by `REDACTED`. Never throws. */
export function redactSecrets(text: string): string {
  try {
    let out = typeof text === 'string' ? text : String(text);
    for (const rule of RULES) {
      out = out.replace(rule.pattern, rule.replace as (substring: string, ...args: unknown[]) => string);
    }
    return out;
  } catch {
    return '[unprintable value]';
  }
}

/** `Name: message` of an error (and of its causes), redacted. Never throws. */
export function redactError(err: unknown): string {
  try {
    return redactSecrets(describe(err, 0));
  } catch {
    return '[unprintable error]';
  }
}

const MAX_CAUSE_DEPTH = 3;

function describe(err: unknown, depth: number): string {
  if (err instanceof Error) {
    const head = err.message ? `${err.name}: ${err.message}` : err.name;
    const cause = err.cause;
    if (cause !== undefined && depth < MAX_CAUSE_DEPTH)
      return `${head} (cause: ${describe(cause, depth + 1)})`;
    return head;
  }
  if (typeof err === 'string') return err;
  if (err === null || err === undefined) return String(err);
  if (typeof err === 'object') {
    try {
      return JSON.stringify(err) ?? Object.prototype.toString.call(err);
    } catch {
      return Object.prototype.toString.call(err);
    }
  }
  if (typeof err === 'number' || typeof err === 'boolean' || typeof err === 'bigint') return String(err);
  if (typeof err === 'symbol') return err.toString();
  if (typeof err === 'function') return `[function ${err.name || 'anonymous'}]`;
  return '[unknown value]';
}

/** An error's message (or a thrown non-error as text), redacted: no name, no causes. */
export function redactMessage(error: unknown): string {
  return redactSecrets(error instanceof Error ? error.message : String(error));
}

/** Every string in a JSON-like value passed through redactSecrets. */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redactSecrets(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)])) as T;
  }
  return value;
}
