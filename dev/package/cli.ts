// `npm run package`: build, stage and zip the app as azd deploys it (see packageApp.ts).
// Flags: --no-build (reuse dist/), --no-zip (stage only: azd zips the staged folder itself),
// --out DIR (default .package/).
import path from 'node:path';

import { packageApp } from './packageApp';

const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const outDir = outIndex >= 0 ? args[outIndex + 1] : undefined;
if (outIndex >= 0 && !outDir) throw new Error('--out needs a folder');
const root = path.resolve(__dirname, '../..');
const result = packageApp(root, {
  build: !args.includes('--no-build'),
  zip: !args.includes('--no-zip'),
  ...(outDir ? { outDir: path.resolve(outDir) } : {}),
});
const mb = (n: number): string => (n / 1024 / 1024).toFixed(1);
const where = (p: string): string => path.relative(process.cwd(), p) || '.';
const parts = [`package: ${result.fileCount} files`];
if (result.zip)
  parts.push(
    `${mb(result.zip.unpackedBytes)} MB unpacked, ${mb(result.zip.zipBytes)} MB zipped -> ${where(result.zip.path)}`,
  );
if (result.stagingDir) parts.push(`staged in ${where(result.stagingDir)}`);
console.log(parts.join(', '));
