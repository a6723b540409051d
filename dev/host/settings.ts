// App-setting indirection as the host resolves it in binding expressions: `%NAME%` → env NAME.
export type HostEnv = Record<string, string | undefined>;

export function resolveSettings(text: string, env: HostEnv, where: string): string {
  return text.replace(/%([^%]+)%/g, (_m, name: string) => {
    const value = env[name];
    if (value === undefined || value === '') {
      throw new Error(`${where}: app setting "${name}" (referenced as %${name}%) is not set`);
    }
    return value;
  });
}
