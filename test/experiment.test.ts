/**
 * `e3sim experiment e3-countdown --quick` end to end (a pipeline check, not a result): every arm
 * trains in worker threads, is evaluated at B_tr..8x B_tr, and the report files are written.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARMS, B_TR, armConfig, QUICK } from '../src/experiments/e3Countdown.js';

const BIN = path.resolve('bin/e3sim.js');

describe('e3sim experiment e3-countdown --quick', () => {
  it('runs every arm, writes each eval table, results.json, results.md and the comparison report', () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-exp-')), 'x');
    const r = spawnSync(process.execPath, [BIN, 'experiment', 'e3-countdown', '--quick', '--backend', 'wasm', '--out', out], { encoding: 'utf8', timeout: 280_000 });
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(res.runs.map((x: { arm: string }) => x.arm)).toEqual([...ARMS]);
    for (const run of res.runs) {
      expect(run.eval.map((e: { budget: number }) => e.budget)).toEqual([B_TR, 2 * B_TR, 4 * B_TR, 8 * B_TR]);
      for (const e of run.eval) {
        expect(Object.keys(e.passAt)).toEqual(['1', '4']);
        expect(e.passAt['4']).toBeGreaterThanOrEqual(e.passAt['1']);
      }
      expect(fs.existsSync(path.join(run.runDir, 'summary.json'))).toBe(true);
    }
    for (const arm of ARMS) expect(res.arms[arm][`pass@1@${B_TR}`].n).toBe(1);
    const md = fs.readFileSync(path.join(out, 'results.md'), 'utf8');
    for (const arm of ARMS) expect(md).toContain(`| ${arm} | 1 |`);
    expect(md).toContain('quick: a pipeline check, not a result');
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('e3sim comparison');
    // The coupled arms measured and chose their budgets; the no-asymmetry arm started from the noverify base.
    const lines = fs.readFileSync(path.join(out, 'e3', 'seed-0', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.type === 'budget-choice')).toHaveLength(2);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'no-asymmetry', 'seed-0', 'config.json'), 'utf8')).model.checkpoint).toMatch(/noverify/);
  }, 300_000);

  it('each arm differs from e3 only where its name says', () => {
    const e3 = armConfig('e3', 0, QUICK, 'wasm');
    expect(armConfig('mask', 0, QUICK, 'wasm')).toEqual({ ...e3, name: 'mask-seed-0', learner: { ...e3.learner, negatives: 'mask' } });
    expect(armConfig('no-asymmetry', 0, QUICK, 'wasm')).toEqual({ ...e3, name: 'no-asymmetry-seed-0', model: { checkpoint: 'examples/checkpoints/base-countdown-noverify' } });
    const none = armConfig('no-curriculum', 0, QUICK, 'wasm');
    expect(none.curriculum.stages).toEqual([{ buckets: ['easy', 'medium', 'hard'], budgetTokens: B_TR, steps: 4 }]);
    expect(armConfig('budget-only', 0, QUICK, 'wasm').curriculum.stages.map((s) => s.budgetTokens)).toEqual([B_TR / 2, B_TR]);
    expect(armConfig('data-only', 0, QUICK, 'wasm').curriculum.stages.map((s) => s.buckets)).toEqual([['easy'], ['medium', 'hard']]);
  });
});
