// For plain node/tsx processes (`npm run dev`, `npm run demo`, benchmarks): make
// `require('@azure/functions-core')` return the capturing stub, as jest's moduleNameMapper does in tests.
// Call before the app's `src/index.ts` (or anything that calls `app.*`) is imported.
import Module from 'node:module';

import * as functionsCoreStub from './functionsCoreStub';

type ModuleLoad = (request: string, parent: unknown, isMain: boolean) => unknown;
const moduleWithLoad = Module as unknown as { _load: ModuleLoad };
let original: ModuleLoad | undefined;

export function installFunctionsCoreStub(): typeof functionsCoreStub {
  if (original) return functionsCoreStub;
  const previous = moduleWithLoad._load;
  original = previous;
  moduleWithLoad._load = function (request: string, parent: unknown, isMain: boolean): unknown {
    if (request === '@azure/functions-core') return functionsCoreStub;
    return previous.call(this, request, parent, isMain);
  };
  return functionsCoreStub;
}

/** Restores Node's loader (tests of the hook itself). */
export function uninstallFunctionsCoreStub(): void {
  if (original) moduleWithLoad._load = original;
  original = undefined;
}
