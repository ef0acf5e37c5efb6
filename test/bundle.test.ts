/**
 * The single-file build (`npm run bundle`): built into a temporary folder outside the repository
 * (no node_modules anywhere above it), it must run on its own — the CLI, the wasm binaries it
 * loads, worker threads started from its e3sim-worker.mjs, and the verifier pool's piscina worker.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
let dir = '';
const e3 = (args: string[], cwd = dir) =>
  spawnSync(process.execPath, [path.join(dir, 'e3sim.mjs'), ...args], { cwd, encoding: 'utf8', timeout: 120_000 });

describe('npm run bundle', () => {
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-bundle-'));
    execFileSync(process.execPath, [path.join(root, 'scripts/bundle.mjs'), '--out', dir], {
      cwd: root,
      encoding: 'utf8',
    });
  }, 120_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('holds the CLI, the wasm binaries and the worker files, and nothing resolves to node_modules', () => {
    const files = fs.readdirSync(dir);
    for (const f of ['e3sim.mjs', 'e3sim-worker.mjs', 'tfjs-backend-wasm-simd.wasm', 'verify-task.mjs', 'worker.js'])
      expect(files).toContain(f);
    let d = dir;
    while (d !== path.dirname(d)) {
      expect(fs.existsSync(path.join(d, 'node_modules')), d).toBe(false);
      d = path.dirname(d);
    }
  });

  it('prints --help', () => {
    const r = e3(['--help']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Usage: e3sim/);
    expect(r.stdout).toMatch(/bench/);
  });

  it('runs a cpu bench, and a wasm bench on two worker threads started from the bundle', () => {
    const cpu = e3(['bench', '--backend', 'cpu', '--shape', 'tiny', '--repeats', '1', '--json']);
    expect(cpu.status, cpu.stderr).toBe(0);
    const c = JSON.parse(cpu.stdout);
    expect(c.backend).toBe('cpu');
    expect(c.sampleTokensPerSec).toBeGreaterThan(0);
    expect(c.trainTokensPerSec).toBeGreaterThan(0);
    const wasm = e3(['bench', '--backend', 'wasm', '--shape', 'tiny', '--repeats', '1', '--threads', '2', '--json']);
    expect(wasm.status, wasm.stderr).toBe(0);
    const w = JSON.parse(wasm.stdout);
    expect([w.backend, w.threads]).toEqual(['wasm', 2]);
    expect(w.trainTokensPerSec).toBeGreaterThan(0);
  }, 120_000);

  it('trains the smoke config (sampler and learner threads, piscina verifier pool) to the end', () => {
    const out = path.join(dir, 'run');
    const r = e3(['train', '--config', 'examples/smoke.yaml', '--backend', 'wasm', '--out', out, '--quiet'], root);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.steps).toBe(4);
    expect(summary.rolloutsLost).toBe(0);
    expect(summary.rolloutsTrained).toBe(32);
  }, 120_000);

  it('says clearly when a backend cannot start (exit 2)', () => {
    const r = e3(['bench', '--backend', 'webgpu', '--shape', 'tiny']);
    if (r.status === 0) return; // a machine with a GPU: nothing to check here
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--backend webgpu: cannot start: /);
  });
});
