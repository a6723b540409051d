// Who may call: the app roles an Entra-authenticated caller holds, read from the
// `x-ms-client-principal` header App Service Authentication (Easy Auth) puts in front of the app,
// and whether they cover what a route needs. The header is base64 JSON
//   { "auth_typ": "...", "name_typ": "...", "role_typ": "...", "claims": [ { "typ": "...", "val": "..." } ] }
// (learn.microsoft.com/azure/app-service/configure-authentication-user-identities). Easy Auth strips
// the header from outside requests, but it is parsed defensively anyway: anything malformed reads
// as a caller with no roles, never as an error that could leak what was sent.

export const AUTH_MODES = ['functionKey', 'entra'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export const CALLER_ROLES = ['reader', 'operator'] as const;
export type CallerRole = (typeof CALLER_ROLES)[number];

/** Largest header read; Easy Auth's principals are a few KiB. */
export const MAX_PRINCIPAL_HEADER_CHARS = 16 * 1024;
const MAX_CLAIMS = 500;
/** Claim types Easy Auth uses for app roles when `role_typ` is absent. */
const DEFAULT_ROLE_CLAIMS = ['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'];

export interface Caller {
  /** False when there is no principal at all (or it is unreadable): answer 401. */
  authenticated: boolean;
  roles: ReadonlySet<CallerRole>;
}

const NOBODY: Caller = { authenticated: false, roles: new Set() };

/** Reads the header; missing, oversized, not base64, not JSON or without claims: no roles. */
export function parseClientPrincipal(header: string | null | undefined): Caller {
  if (typeof header !== 'string') return NOBODY;
  const text = header.trim();
  if (text === '' || text.length > MAX_PRINCIPAL_HEADER_CHARS) return NOBODY;
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return NOBODY;
  let principal: unknown;
  try {
    principal = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch {
    return NOBODY;
  }
  if (typeof principal !== 'object' || principal === null || Array.isArray(principal)) return NOBODY;
  const { claims, role_typ: roleType } = principal as { claims?: unknown; role_typ?: unknown };
  if (!Array.isArray(claims)) return NOBODY;
  const roleClaims =
    typeof roleType === 'string' && roleType !== ''
      ? [roleType, ...DEFAULT_ROLE_CLAIMS]
      : DEFAULT_ROLE_CLAIMS;
  const roles = new Set<CallerRole>();
  for (const claim of claims.slice(0, MAX_CLAIMS)) {
    if (typeof claim !== 'object' || claim === null) continue;
    const { typ, val } = claim as { typ?: unknown; val?: unknown };
    if (typeof typ !== 'string' || typeof val !== 'string' || !roleClaims.includes(typ)) continue;
    if ((CALLER_ROLES as readonly string[]).includes(val)) roles.add(val as CallerRole);
  }
  return { authenticated: true, roles };
}

/** The role a route needs unless it says otherwise: reading for GET (and HEAD), operating for the rest. */
export function defaultRequiredRole(method: string): CallerRole {
  const m = method.toUpperCase();
  return m === 'GET' || m === 'HEAD' ? 'reader' : 'operator';
}

/** Operator implies reader. */
export function holdsRole(caller: Caller, required: CallerRole): boolean {
  return caller.roles.has(required) || (required === 'reader' && caller.roles.has('operator'));
}

export type AccessDecision =
  { allowed: true } | { allowed: false; status: 401 | 403; code: string; message: string };

export function decideAccess(caller: Caller, required: CallerRole): AccessDecision {
  if (!caller.authenticated) {
    return {
      allowed: false,
      status: 401,
      code: 'Unauthenticated',
      message: 'sign in with Microsoft Entra ID: the request carries no authenticated caller',
    };
  }
  if (!holdsRole(caller, required)) {
    return {
      allowed: false,
      status: 403,
      code: 'Forbidden',
      message: `the caller lacks the app role "${required}" this request needs`,
    };
  }
  return { allowed: true };
}
