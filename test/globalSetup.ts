/**
 * Once for the whole suite: the CLI bundled (scripts/bundle.mjs, ≈ 1.5 s) into a temporary folder.
 * Tests that start `e3sim` in a child process start it from there (test/helpers/bin.ts), and the
 * in-process CLI starts its runs' worker threads from it (test/helpers/cli.ts): the same
 * source, without tsx compiling the CLI and every worker thread at each start (a smoke run took
 * 5.9 s through bin/e3sim.js and 3.0 s from the bundle, same weights). bin/e3sim.js itself stays
 * covered: test/cli.test.ts spawns it once per exit code, and the README's commands use it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-test-bundle-'));
  execFileSync(process.execPath, [path.resolve('scripts/bundle.mjs'), '--out', dir], { stdio: 'pipe' });
  process.env.E3SIM_TEST_BIN = path.join(dir, 'e3sim.mjs');
  return () => fs.rmSync(dir, { recursive: true, force: true });
}
