/**
 * `e3sim experiment e3-countdown --quick` end to end (a pipeline check, not a result), killed in
 * the middle and run again: finished cells are kept, the killed cell resumes from its checkpoint,
 * and every arm of a seed is evaluated on the same held-out problems.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ARMS,
  B_TR,
  BASE,
  BASE_NOVERIFY,
  C4_ARMS,
  QUICK,
  armConfig,
  cutsThatFit,
} from '../src/experiments/e3Countdown.js';
import { evalSet } from '../src/tasks/countdown/problems.js';
import { E3SIM } from './helpers/bin.js';

const BIN = E3SIM;

async function killWhen(args: string[], ready: () => boolean, timeoutMs: number): Promise<void> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore', detached: true });
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (ready()) {
        clearInterval(poll);
        process.kill(-child.pid!, 'SIGKILL'); // the experiment and its cells: no chance to checkpoint
        resolve();
      } else if (performance.now() - t0 > timeoutMs) {
        clearInterval(poll);
        process.kill(-child.pid!, 'SIGKILL');
        reject(new Error('the experiment never reached the point to kill it'));
      }
    }, 50);
    child.on('exit', () => {
      if (!ready()) {
        clearInterval(poll);
        reject(new Error('the experiment ended before it could be killed'));
      }
    });
  });
  await new Promise((r) => setTimeout(r, 200));
}

describe('e3sim experiment e3-countdown --quick', () => {
  it('runs every arm two at a time, survives a kill (kept and resumed cells), writes results with CIs', async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-exp-')), 'x');
    const args = ['experiment', 'e3-countdown', '--quick', '--backend', 'wasm', '--out', out, '--jobs', '2'];
    const ckpt = path.join(out, 'e3', 'seed-0', 'checkpoints', 'latest');
    await killWhen(args, () => fs.existsSync(ckpt), 200_000);
    expect(fs.existsSync(path.join(out, 'e3', 'seed-0', 'done.json'))).toBe(false);
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 250_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/2 of 11 cells already done \(kept\)/);
    expect(r.stderr).toContain('resuming e3/seed-0');
    const e3 = fs
      .readFileSync(path.join(out, 'e3', 'seed-0', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(e3.filter((l) => l.type === undefined).map((l) => l.step)).toEqual([1, 2, 3, 4]); // each step once
    // learner.minibatches on the real clock
    expect(e3.filter((l) => l.type === undefined).map((l) => l.optimizerSteps)).toEqual([2, 2, 2, 2]);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'e3', 'seed-0', 'done.json'), 'utf8')).resumed).toBe(true);

    const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(res.cells.map((x: { arm: string }) => x.arm)).toEqual(['base', 'base-noverify', ...ARMS]);
    for (const cell of res.cells) {
      expect(cell.eval.map((e: { budget: number }) => e.budget)).toEqual([B_TR, 2 * B_TR, 4 * B_TR]);
      for (const e of cell.eval) expect(e.passAt['4']).toBeGreaterThanOrEqual(e.passAt['1']);
    }
    for (const arm of ARMS) {
      const b = res.arms[arm].budgets[0];
      expect(b.pass1.lo).toBeLessThanOrEqual(b.pass1.mean);
      expect(b.pass1.hi).toBeGreaterThanOrEqual(b.pass1.mean);
    }
    expect(res.diffs.some((d: { a: string; b: string }) => d.a === 'e3' && d.b === 'mask')).toBe(true);
    // The authors' cut on the base and on e3's and mask's final policies, each after its training cell.
    expect(res.cuts.map((c: { arm: string }) => c.arm)).toEqual(['base', 'e3', 'mask']);
    const fits = cutsThatFit(JSON.parse(fs.readFileSync(`${BASE}/manifest.json`, 'utf8')).config.contextLength);
    expect(fits.length).toBeGreaterThanOrEqual(3);
    for (const c of res.cuts) expect(c.cuts.map((x: { cut: number }) => x.cut)).toEqual(fits);
    const cutE3 = JSON.parse(fs.readFileSync(path.join(out, 'cut-e3', 'seed-0', 'eval.json'), 'utf8'));
    expect(cutE3.checkpoint).toBe(path.join(out, 'e3', 'seed-0', 'checkpoints', 'step-4'));
    for (const row of cutE3.rows) expect(row.meanAttempts).toBeLessThanOrEqual(row.cut);
    const md = fs.readFileSync(path.join(out, 'results.md'), 'utf8');
    expect(md).toContain('quick: a pipeline check, not a result');
    expect(md).toContain('| C2 negative gradients | e3 − mask |');
    expect(md).toContain("The authors' chained-attempts protocol");
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('e3sim comparison');
    // The coupled arms measured and chose their budgets; the no-asymmetry arm started from the noverify base.
    expect(e3.filter((l) => l.type === 'budget-choice').length).toBeGreaterThanOrEqual(1);
    expect(
      JSON.parse(fs.readFileSync(path.join(out, 'no-asymmetry', 'seed-0', 'config.json'), 'utf8')).model.checkpoint,
    ).toBe(BASE_NOVERIFY);
    // A finished experiment run again does nothing but summarise.
    const again = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
    expect(again.stderr).toMatch(/11 of 11 cells already done/);
    // Other settings in the same directory are refused.
    const other = spawnSync(
      process.execPath,
      [BIN, 'experiment', 'e3-countdown', '--quick', '--arms', 'e3', '--out', out],
      { encoding: 'utf8' },
    );
    expect(other.status).toBe(2);
    expect(other.stderr).toContain('other settings');
    // A kept cell must be the cell the experiment plans: one run with another config is refused, not mixed in.
    const cfgFile = path.join(out, 'mask', 'seed-0', 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, learner: { ...cfg.learner, lr: cfg.learner.lr * 2 } }, null, 2));
    const mixed = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
    expect(mixed.status).toBe(2);
    expect(mixed.stderr).toMatch(/mask\/seed-0: this finished cell was run with other settings/);
  }, 480_000);

  it('each arm differs from e3 only where its name says, and every arm of a seed is evaluated on the same problems', () => {
    const e3 = armConfig('e3', 0, QUICK, 'wasm');
    expect(armConfig('mask', 0, QUICK, 'wasm')).toEqual({
      ...e3,
      name: 'mask-seed-0',
      learner: { ...e3.learner, negatives: 'mask' },
    });
    expect(armConfig('no-asymmetry', 0, QUICK, 'wasm')).toEqual({
      ...e3,
      name: 'no-asymmetry-seed-0',
      model: { checkpoint: BASE_NOVERIFY },
    });
    const none = armConfig('no-curriculum', 0, QUICK, 'wasm');
    expect(none.curriculum.stages).toEqual([{ buckets: ['easy', 'medium', 'hard'], budgetTokens: B_TR, steps: 4 }]);
    expect(armConfig('budget-only', 0, QUICK, 'wasm').curriculum.stages.map((s) => s.budgetTokens)).toEqual([
      B_TR / 2,
      B_TR,
    ]);
    expect(armConfig('data-only', 0, QUICK, 'wasm').curriculum.stages.map((s) => s.buckets)).toEqual([
      ['easy'],
      ['medium', 'hard'],
    ]);
    expect(C4_ARMS.map((a) => armConfig(a, 0, QUICK, 'wasm').curriculum.stages.map((s) => s.budgetTokens))).toEqual([
      [36, 36],
      [144, 144],
    ]);
    expect({ ...armConfig('data-only', 0, QUICK, 'wasm'), name: 'x' }).toEqual({
      ...armConfig('e3-at-72', 0, QUICK, 'wasm'),
      name: 'x',
    });
    for (const seed of [0, 1]) {
      const ids = new Set(
        [...ARMS, ...C4_ARMS].map((a) => {
          const e = armConfig(a, seed, QUICK, 'wasm');
          return JSON.stringify(evalSet(e.seed, e.eval!.difficulty, e.eval!.problems).map((p) => p.id));
        }),
      );
      expect(ids.size).toBe(1);
    }
    expect(e3.learner.minibatches).toBe(2);
  });
});
