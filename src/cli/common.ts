import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../util/errors.js';

const require_ = createRequire(import.meta.url);
import { BUNDLE } from '../runtime/bundle.js';

/** Versions recorded in manifests: package, tfjs, node, and the git commit when run from a checkout. */
export function packageVersion(): string {
  return BUNDLE ? BUNDLE.version : (require_('../../package.json') as { version: string }).version;
}

export function versions(): Record<string, string> {
  const out: Record<string, string> = {
    e3sim: packageVersion(),
    tfjs: BUNDLE ? BUNDLE.tfjs : (require_('@tensorflow/tfjs/package.json') as { version: string }).version,
    node: process.version,
  };
  try {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    out.gitCommit = git('rev-parse', 'HEAD');
    if (git('status', '--porcelain', '--untracked-files=no', '--', 'src', 'bin', 'package-lock.json') !== '')
      out.gitCommit += '-dirty';
  } catch {
    // not a git checkout (e.g. an installed package): the package version stands alone
  }
  return out;
}

export function parseIntFlag(value: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InputError(`${flag}: expected an integer, got '${value}'`);
  const n = Number(value);
  if (n < min || n > max) throw new InputError(`${flag}: expected an integer in ${min}..${max}, got ${n}`);
  return n;
}

export function parseFloatFlag(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max)
    throw new InputError(`${flag}: expected a number in ${min}..${max}, got '${value}'`);
  return n;
}

export function parseIntList(value: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === ''))
    throw new InputError(`${flag}: expected a comma-separated list of integers, got '${value}'`);
  return parts.map((p) => parseIntFlag(p, flag, min, max));
}

export function parseSeed(value: string, flag = '--seed'): number {
  return parseIntFlag(value, flag, 0, 2 ** 31 - 1);
}

export function printJson(x: unknown): void {
  process.stdout.write(JSON.stringify(x, null, 2) + '\n');
}
