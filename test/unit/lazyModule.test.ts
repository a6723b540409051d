// Importing the app (as the host does on a cold start) must not load the SDKs that only some
// triggers use; they load when a client is first built.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const LAZY = [
  '@azure/arm-costmanagement',
  '@azure/communication-email',
  '@azure/keyvault-secrets',
  'nodemailer',
];

function packagesLoadedBy(code: string): string[] {
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', '-e', `${code}; process.stdout.write(JSON.stringify(Object.keys(require.cache)))`],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const files = JSON.parse(out) as string[];
  return LAZY.filter((p) => files.some((f) => f.includes(`node_modules/${p}/`)));
}

describe('lazy SDK loading', () => {
  it('leaves mail, Key Vault and Cost Management SDKs unloaded when the app is imported', () => {
    expect(packagesLoadedBy("require('./src/index.ts')")).toEqual([]);
  }, 60_000);

  it('loads an SDK when its client is built', () => {
    const code =
      "const { SmtpMailer } = require('./src/azure/mailer.ts');" +
      "new SmtpMailer({ host: 'localhost', port: 25, secure: false, sender: 'a@example.com' })";
    expect(packagesLoadedBy(code)).toEqual(['nodemailer']);
  }, 60_000);
});
