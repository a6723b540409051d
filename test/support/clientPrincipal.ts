// The `x-ms-client-principal` header as App Service Authentication builds it for an Entra access
// token with app roles: base64 JSON naming its role claim type, then the claims.
export const ROLE_URI = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role';

export function clientPrincipal(roles: string[], extra: Record<string, unknown> = {}): string {
  return Buffer.from(
    JSON.stringify({
      auth_typ: 'aad',
      name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
      role_typ: ROLE_URI,
      claims: [
        { typ: 'aud', val: 'api://cost-export-autopilot' },
        { typ: 'appid', val: '00000000-0000-0000-0000-000000000001' },
        ...roles.map((val) => ({ typ: ROLE_URI, val })),
      ],
      ...extra,
    }),
  ).toString('base64');
}
