// Loads an unpacked deployment package the way the Functions host's Node worker does: package.json
// "main" from the package folder, resolved by plain Node against that folder's node_modules only.
// The worker-only `@azure/functions-core` is the capturing stub, so registrations are the real ones.
// Prints one JSON line: [{ name, trigger }] for every registered function.
// Usage: node --import tsx dev/package/loadPackaged.ts <unpacked folder>
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { installFunctionsCoreStub } from '../host/installFunctionsCoreStub';

const folder = process.argv[2];
if (!folder) throw new Error('usage: loadPackaged.ts <unpacked folder>');
const manifest = JSON.parse(readFileSync(path.join(folder, 'package.json'), 'utf8')) as { main?: unknown };
if (typeof manifest.main !== 'string') throw new Error('package.json has no "main"');
const stub = installFunctionsCoreStub();
// Resolved from inside the package folder, as the worker resolves it: no fallback to our node_modules.
const entry = path.resolve(folder, manifest.main);
createRequire(entry)(entry);
console.log(JSON.stringify(stub.registrations.map((r) => ({ name: r.name, trigger: r.trigger.type }))));
