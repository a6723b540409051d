// Builds the deployment package the way `azd deploy` does for a Functions app, so CI can prove what
// Azure receives (test/integration/package.test.ts) instead of trusting the ignore file by eye.
//
// azd (cli/azd/pkg/project/project_utils.go, createDeployableZip) zips the service folder, skipping
// `.azure/`, the ignore file itself and local.settings.json, and every path its `.funcignore`
// ignores under gitignore rules (denormal/go-gitignore): a pattern without a slash matches at any
// depth. The `ignore` package implements the same rules. We stage first (project files the
// .funcignore keeps, plus production dependencies only) and zip the staging folder with the same
// rules; azure.yaml points azd at that folder (`dist`), so `azd deploy` ships exactly this.
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

import { type Zippable, zipSync } from 'fflate';
import ignore, { type Ignore } from 'ignore';

export const IGNORE_FILE = '.funcignore';

export interface ZipResult {
  path: string;
  /** Sum of the packaged files' sizes, unpacked. */
  unpackedBytes: number;
  zipBytes: number;
}

export interface PackageResult {
  fileCount: number;
  /** The folder azd zips (azure.yaml `dist`), unless staging was skipped. */
  stagingDir: string | undefined;
  zip: ZipResult | undefined;
}

/** azd's rules for one path relative to the folder being zipped (posix separators). */
export function azdExcludes(rules: Ignore, relPath: string, isDir: boolean): boolean {
  const name = path.posix.basename(relPath);
  if (isDir && name === '.azure') return true;
  if (!isDir && (name === IGNORE_FILE || name === 'local.settings.json')) return true;
  return rules.ignores(isDir ? `${relPath}/` : relPath);
}

export function readIgnoreRules(folder: string): Ignore {
  // azd strips a UTF-8 BOM before parsing; so do we.
  const text = readFileSync(path.join(folder, IGNORE_FILE), 'utf8').replace(/^\uFEFF/, '');
  return ignore().add(text);
}

/**
 * Files under `root/under` that azd would zip, as posix paths relative to `root` (the folder azd
 * zips), symlinks followed as azd follows them. `skip` prunes folders we add another way.
 */
export function packagedFiles(
  root: string,
  rules: Ignore,
  options: { under?: string; skip?: (rel: string) => boolean } = {},
): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (options.skip?.(childRel)) continue;
      const isDir = entry.isSymbolicLink()
        ? statSync(path.join(root, childRel)).isDirectory()
        : entry.isDirectory();
      if (azdExcludes(rules, childRel, isDir)) continue;
      if (isDir) walk(childRel);
      else out.push(childRel);
    }
  };
  walk(options.under ?? '');
  return out.sort();
}

/**
 * Package folders of the production dependency tree, relative to `root`, as npm resolved it
 * (`npm ls --omit=dev`): the same set `npm ci --omit=dev` installs from the same lock file, copied
 * from node_modules instead of installed a second time. Fails when node_modules does not match the lock.
 */
export function productionPackageDirs(root: string): string[] {
  let stdout: string;
  try {
    stdout = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
      cwd: root,
      encoding: 'utf8',
    });
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim().split('\n')[0] ?? String(err);
    throw new Error(`node_modules does not match package-lock.json (run npm ci first): ${detail}`);
  }
  return stdout
    .split('\n')
    .map((line) => path.relative(root, line.trim()).split(path.sep).join('/'))
    .filter((rel) => rel.startsWith('node_modules/'));
}

/**
 * Every file of the package, by its path in the package (posix) and its source path: the project
 * files the ignore file keeps, then production dependencies only, with the ignore file applied to
 * them as azd applies it to the staged folder.
 */
export function collectAppFiles(root: string): Map<string, string> {
  const rules = readIgnoreRules(root);
  const files = new Map<string, string>();
  const add = (rel: string): void => void files.set(rel, path.join(root, rel));
  packagedFiles(root, rules, { skip: (rel) => rel === 'node_modules' }).forEach(add);
  for (const dir of productionPackageDirs(root)) {
    // A package without its nested node_modules: nested production packages are listed on their own.
    const nested = `${dir}/node_modules`;
    packagedFiles(root, rules, { under: dir, skip: (rel) => rel === nested }).forEach(add);
  }
  return files;
}

/** Copies the package into `stagingDir`, the folder azure.yaml's `dist` hands to azd. */
export function stageApp(root: string, files: Map<string, string>, stagingDir: string): void {
  rmSync(stagingDir, { recursive: true, force: true });
  for (const [rel, source] of files) {
    mkdirSync(path.dirname(path.join(stagingDir, rel)), { recursive: true });
    copyFileSync(source, path.join(stagingDir, rel));
  }
  // The ignore file travels with the staged app (azd leaves it out of the zip): azd then applies it,
  // a no-op here, instead of its defaults, which drop node_modules for a JavaScript app.
  copyFileSync(path.join(root, IGNORE_FILE), path.join(stagingDir, IGNORE_FILE));
}

/** Zips the package as azd's createDeployableZip does: files only, deflated. */
export function zipApp(files: Map<string, string>, zipPath: string): ZipResult {
  const entries: Zippable = {};
  let unpackedBytes = 0;
  for (const [rel, source] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const data = readFileSync(source);
    unpackedBytes += data.byteLength;
    entries[rel] = data;
  }
  // Level 1: the zip is a transport; a smaller one is not worth the CPU of a higher level.
  const zipped = zipSync(entries, { level: 1 });
  mkdirSync(path.dirname(zipPath), { recursive: true });
  writeFileSync(zipPath, zipped);
  return { path: zipPath, unpackedBytes, zipBytes: zipped.byteLength };
}

/**
 * Build (tsc), collect, stage (unless `stage: false`) and zip (unless `zip: false`: azd zips the
 * staged folder itself). The zip is what azd would make of the staged folder; tests skip the copy.
 */
export function packageApp(
  root: string,
  options: { build?: boolean; stage?: boolean; zip?: boolean; outDir?: string } = {},
): PackageResult {
  const outDir = options.outDir ?? path.join(root, '.package');
  if (options.build !== false) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (!existsSync(path.join(root, 'dist/src/index.js')))
    throw new Error('dist/src/index.js is missing: run npm run build');
  const files = collectAppFiles(root);
  const stagingDir = options.stage === false ? undefined : path.join(outDir, 'app');
  if (stagingDir) stageApp(root, files, stagingDir);
  const zipPath = path.join(outDir, 'app.zip');
  rmSync(zipPath, { force: true });
  return {
    fileCount: files.size,
    stagingDir,
    zip: options.zip === false ? undefined : zipApp(files, zipPath),
  };
}
