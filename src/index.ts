// The v4 programming model entry point (package.json "main"): importing each trigger file registers
// its functions with the host. test/unit/index.test.ts checks that every file in src/functions/ is here.
import './functions/backfill';
import './functions/durableCleanup';
// The event-line writer the triggers share (registers nothing; here so every file of the folder is).
import './functions/eventLog';
import './functions/exportLanded';
import './functions/exportSync';
import './functions/fleet';
// The HTTP edge the triggers share (registers nothing; here so every file of the folder is).
import './functions/http';
import './functions/ledger';
import './functions/outOfBandRuns';
import './functions/sasWatch';
import './functions/status';
import './functions/tokens';
