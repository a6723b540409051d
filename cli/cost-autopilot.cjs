#!/usr/bin/env node
// `npx cost-autopilot …` from the repository: runs cli/main.ts through tsx (a devDependency), so the
// CLI needs no build step. See cli/main.ts for the commands and exit codes.
require('tsx/cjs');
require('./main.ts').run();
