// The v4 programming model entry point (package.json "main"): importing each trigger file registers it.
// Add every new file under src/functions/ here; test/unit/index.test.ts checks none is missing.
import { app } from '@azure/functions';

app.setup({ enableHttpStream: false });
