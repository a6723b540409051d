// SDKs that only some triggers use (mail, Key Vault, the Cost Management client) are loaded on
// first use rather than when the host imports the app, so a cold start of a trigger that never
// sends mail does not pay for parsing nodemailer. Types come from `import type`, which costs nothing
// at run time.
import { createRequire } from 'node:module';

const load = createRequire(__filename);

/** `() => module`, required once, on the first call. */
export function lazyModule<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load(id) as T);
}
