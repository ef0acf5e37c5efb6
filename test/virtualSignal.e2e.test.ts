/**
 * Issue #29 item 3 end to end: `train --clock virtual` with real compute takes SIGTERM while its
 * compute runs (the run is in its own thread), checkpoints and exits 143; `--resume` finishes it.
 * (The bytes and weights of a resume after a halt inside each kind of work item: simHalt.test.ts.)
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { E3SIM } from './helpers/bin.js';

const BIN = E3SIM;

describe('virtual clock, real compute: signals', () => {
  it('SIGTERM while it computes: a checkpoint, exit 143, and --resume finishes the run', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-vsig-'));
    const config = path.join(tmp, 'c.yaml');
    fs.writeFileSync(
      config,
      [
        'name: vsig',
        'seed: 0',
        'backend: wasm',
        'model: { checkpoint: examples/checkpoints/base-countdown }',
        'rollout: { problemsPerStep: 8, groupSize: 8 }',
        'curriculum: { stages: [{ difficulty: 3, budgetTokens: 48, steps: 6 }] }',
        'learner: { lr: 1.0e-5 }',
        'staleness: { policy: sync }',
        'topology: { samplers: 1, verifierThreads: 1 }',
        'checkpoint: { every: 3 }',
        '',
      ].join('\n'),
    );
    const dir = path.join(tmp, 'run');
    const child = spawn(
      process.execPath,
      [BIN, 'train', '--clock', 'virtual', '--quiet', '--config', config, '--out', dir],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    // after step 1's row: the run is between steps 1 and 6, at no checkpoint (every 3)
    const metrics = path.join(dir, 'metrics.jsonl');
    for (let i = 0; i < 1200 && !(fs.existsSync(metrics) && fs.readFileSync(metrics, 'utf8').includes('"step":1')); i++)
      await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    expect(await exited, err).toBe(143);
    expect(err).toMatch(/SIGTERM: stopping at the next work item and writing a checkpoint/);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('halted');
    expect(summary.steps).toBeLessThan(6);
    expect(fs.existsSync(path.join(dir, 'checkpoints', 'latest'))).toBe(true);
    const r = spawnSync(process.execPath, [BIN, 'train', '--quiet', '--resume', dir], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const done = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    expect(done.status).toBe('done');
    expect(done.steps).toBe(6);
    const steps = fs
      .readFileSync(metrics, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => l.type === undefined || l.type === 'step')
      .map((l) => l.step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6]); // each step once across the two pieces
  }, 300_000);
});
