import { createRequire } from 'node:module';
import { InputError } from '../util/errors.js';

const require_ = createRequire(import.meta.url);

export function versions(): Record<string, string> {
  return {
    e3sim: (require_('../../package.json') as { version: string }).version,
    tfjs: (require_('@tensorflow/tfjs/package.json') as { version: string }).version,
    node: process.version,
  };
}

export function parseIntFlag(value: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InputError(`${flag}: expected an integer, got '${value}'`);
  const n = Number(value);
  if (n < min || n > max) throw new InputError(`${flag}: expected an integer in ${min}..${max}, got ${n}`);
  return n;
}

export function parseFloatFlag(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InputError(`${flag}: expected a number in ${min}..${max}, got '${value}'`);
  return n;
}

export function parseIntList(value: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw new InputError(`${flag}: expected a comma-separated list of integers, got '${value}'`);
  return parts.map((p) => parseIntFlag(p, flag, min, max));
}

export function parseSeed(value: string, flag = '--seed'): number {
  return parseIntFlag(value, flag, 0, 2 ** 31 - 1);
}

export function printJson(x: unknown): void {
  process.stdout.write(JSON.stringify(x, null, 2) + '\n');
}
