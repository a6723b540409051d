// Route templates of HTTP triggers, as the host's ASP.NET routing reads them: literal segments
// (case-insensitive), `{name}`, optional `{name?}`, constraints `{id:int}` / `{id:alpha}` /
// `{id:guid}` / `{id:bool}` / `{id:long}` / `{id:regex(...)}`, and a trailing catch-all `{*rest}`.
// Pure: no I/O.

interface Segment {
  literal?: string;
  param?: string;
  optional?: boolean;
  catchAll?: boolean;
  constraint?: (value: string) => boolean;
}

export interface CompiledRoute {
  template: string;
  segments: Segment[];
  /** Higher is more specific: literals beat parameters, which beat catch-alls. */
  specificity: number;
}

const CONSTRAINTS: Record<string, (v: string) => boolean> = {
  int: (v) => /^-?\d+$/.test(v) && Math.abs(Number(v)) <= 2 ** 31,
  long: (v) => /^-?\d+$/.test(v),
  alpha: (v) => /^[a-z]+$/i.test(v),
  bool: (v) => /^(true|false)$/i.test(v),
  guid: (v) => /^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i.test(v),
  double: (v) => v.trim() !== '' && Number.isFinite(Number(v)),
  decimal: (v) => v.trim() !== '' && Number.isFinite(Number(v)),
  datetime: (v) => !Number.isNaN(Date.parse(v)),
};

export function compileRoute(template: string): CompiledRoute {
  const clean = template.replace(/^\/+|\/+$/g, '');
  const segments: Segment[] = [];
  let specificity = 0;
  const parts = clean === '' ? [] : clean.split('/');
  parts.forEach((part, index) => {
    const m = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([^}?]+))?(\?)?\}$/.exec(part);
    if (!m) {
      if (/[{}]/.test(part))
        throw new Error(`route "${template}": segment "${part}" mixes text and parameters`);
      segments.push({ literal: part.toLowerCase() });
      specificity += 100;
      return;
    }
    const [, star, name, constraintText, optional] = m;
    if (star && index !== parts.length - 1)
      throw new Error(`route "${template}": catch-all {*${name}} must be last`);
    const segment: Segment = { param: name, optional: !!optional || !!star, catchAll: !!star };
    if (constraintText) segment.constraint = constraint(constraintText, template);
    segments.push(segment);
    specificity += star ? 1 : segment.constraint ? 20 : 10;
  });
  return { template, segments, specificity };
}

function constraint(text: string, template: string): (v: string) => boolean {
  const checks = text.split(':').map((c) => {
    const regex = /^regex\((.*)\)$/.exec(c);
    if (regex) return (v: string) => new RegExp(regex[1]!).test(v);
    const known = CONSTRAINTS[c.toLowerCase()];
    // Unknown constraints (minlength(3)...) do not block a match locally.
    if (!known && !/^(min|max|length|range|minlength|maxlength)/i.test(c)) {
      throw new Error(`route "${template}": unknown constraint "${c}"`);
    }
    return known ?? (() => true);
  });
  return (v) => checks.every((check) => check(v));
}

/** Route parameters when `path` (after the route prefix, no query) matches; undefined otherwise. */
export function matchRoute(route: CompiledRoute, path: string): Record<string, string> | undefined {
  const parts = path
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .filter((p) => p !== '');
  const params: Record<string, string> = {};
  let i = 0;
  for (const segment of route.segments) {
    if (segment.catchAll) {
      const rest = parts.slice(i).map(decode).join('/');
      if (rest) params[segment.param!] = rest;
      return params;
    }
    const part = parts[i];
    if (part === undefined) {
      if (segment.optional) continue;
      return undefined;
    }
    if (segment.literal !== undefined) {
      if (decode(part).toLowerCase() !== segment.literal) return undefined;
    } else {
      const value = decode(part);
      if (segment.constraint && !segment.constraint(value)) return undefined;
      params[segment.param!] = value;
    }
    i++;
  }
  return i === parts.length ? params : undefined;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
