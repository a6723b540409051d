// Docs that run: every ```bash runnable block of README.md and docs/operations.md is executed, in
// order, against a fresh `npm run dev -- --seed`, with DEV_READY naming a file that holds its JSON
// line. A command that drifted from the code fails here.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { type DevProcess, ROOT, startDev } from '../support/devProcess';

const DOCS = ['README.md', 'docs/operations.md'];

export function runnableBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```bash runnable\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

const blocks = DOCS.flatMap((file) =>
  runnableBlocks(readFileSync(path.join(ROOT, file), 'utf8')).map((code, i) => ({ file, i, code })),
);

let dev: DevProcess;
const dir = mkdtempSync(path.join(os.tmpdir(), 'docs-run-'));
const readyFile = path.join(dir, 'ready.json');

beforeAll(async () => {
  dev = await startDev(['--seed'], { DEV_SPEED: '60' });
  writeFileSync(readyFile, JSON.stringify(dev.ready));
}, 120_000);

afterAll(async () => {
  await dev?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the docs have runnable blocks', () => {
  expect(blocks.length).toBeGreaterThan(0);
});

test.each(blocks.map((b) => [`${b.file} block ${b.i + 1}`, b] as const))(
  '%s runs',
  async (_name, block) => {
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(
        'bash',
        ['-euo', 'pipefail', '-c', block.code],
        { cwd: ROOT, env: { ...process.env, DEV_READY: readyFile, CI: '1' }, timeout: 240_000 },
        (error, stdout, stderr) =>
          resolve({
            code: error ? Number((error as { code?: number }).code ?? 1) : 0,
            out: `${stdout}\n${stderr}`,
          }),
      );
    });
    if (result.code !== 0) throw new Error(`exit ${result.code}:\n${result.out.slice(-4000)}`);
    expect(result.out).not.toMatch(/sig=(?!REDACTED)[A-Za-z0-9%]/);
  },
  300_000,
);
