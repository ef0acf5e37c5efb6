/** Bootstrap CIs (against the closed form on a planted sample) and paired differences between arms. */
import { describe, expect, it } from 'vitest';
import { bootstrapMeanCi, bootstrapStatCi } from '../src/util/stats.js';
import { pairedDiff, summarizeExperiment, type CellResult } from '../src/experiments/results.js';
import type { BudgetRow } from '../src/eval/countdown.js';

const row = (budget: number, correct: number[]): BudgetRow => ({
  budget,
  passAt: {},
  meanLength: 0,
  meanLengthCorrect: null,
  meanLengthIncorrect: null,
  meanAttempts: 1,
  meanUniqueAttempts: 1,
  entropy: 0,
  correct,
});
const cell = (arm: string, seed: number, byBudget: Record<number, number[]>): CellResult => ({
  arm,
  seed,
  samples: 4,
  rows: Object.entries(byBudget).map(([b, c]) => row(Number(b), c)),
  finalEntropy: null,
  finalLength: null,
  budgetChoices: [],
  wallSeconds: 1,
});

describe('bootstrap confidence intervals', () => {
  it('match the normal closed form on a planted Bernoulli sample (p = 0.3, n = 400)', () => {
    const xs = Array.from({ length: 400 }, (_, i) => (i % 10 < 3 ? 1 : 0));
    const ci = bootstrapMeanCi([xs], { seed: 'planted', resamples: 4000 });
    const half = 1.96 * Math.sqrt((0.3 * 0.7) / 400); // 0.0449
    expect(ci.mean).toBeCloseTo(0.3, 12);
    expect(ci.lo).toBeGreaterThan(0.3 - half - 0.006);
    expect(ci.lo).toBeLessThan(0.3 - half + 0.006);
    expect(ci.hi).toBeGreaterThan(0.3 + half - 0.006);
    expect(ci.hi).toBeLessThan(0.3 + half + 0.006);
  });

  it('resample within strata: two constant strata have no spread, and the pooled mean weighs units equally', () => {
    const ci = bootstrapMeanCi([[1, 1, 1], [0]], { seed: 's' });
    expect(ci).toEqual({ mean: 0.75, lo: 0.75, hi: 0.75, n: 4 });
  });

  it('are deterministic in their seed', () => {
    const xs = [0, 1, 1, 0, 1, 0, 0, 0];
    expect(bootstrapMeanCi([xs], { seed: 'a' })).toEqual(bootstrapMeanCi([xs], { seed: 'a' }));
  });

  it('of any statistic of the column means: the mean itself is bootstrapMeanCi; a paired ratio difference', () => {
    const strata = [
      [0, 1, 1, 0, 1, 0, 0, 0],
      [1, 1, 0, 0.5],
    ];
    const one = bootstrapStatCi(
      strata.map((s) => s.map((x) => [x])),
      (m) => m[0]!,
      { seed: 'a' },
    );
    expect(one).toEqual(bootstrapMeanCi(strata, { seed: 'a' }));
    // units [a first, a last, b first, b last]: a's ratio 2 (0.2 → 0.4), b's 1.5 (0.2 → 0.3)
    const units = Array.from({ length: 200 }, (_, i) => [
      i % 5 === 0 ? 1 : 0,
      i % 5 < 2 ? 1 : 0,
      i % 5 === 0 ? 1 : 0,
      i % 10 < 3 ? 1 : 0,
    ]);
    const d = bootstrapStatCi([units], (m) => m[1]! / m[0]! - m[3]! / m[2]!, { seed: 'r' });
    expect(d.mean).toBeCloseTo(0.5, 12);
    expect(d.lo).toBeLessThan(0.5);
    expect(d.hi).toBeGreaterThan(0.5);
    expect(d.lo).toBeGreaterThan(0); // separated from 0 at 200 units
    // a zero denominator in every draw: no interval, the point kept
    const zero = bootstrapStatCi([[[0, 1]]], (m) => m[1]! / m[0]!, { seed: 'z' });
    expect(zero.mean).toBe(Infinity);
    expect(zero.lo).toBeNaN();
  });
});

describe('paired differences between arms', () => {
  it('pair by seed and problem: a constant per-problem gain has a CI of zero width, identical arms a difference of 0', () => {
    const a = [cell('e3', 0, { 72: [4, 1, 2, 1] }), cell('e3', 1, { 72: [1, 1, 1, 1] })];
    const b = [cell('mask', 0, { 72: [3, 0, 1, 0] }), cell('mask', 1, { 72: [0, 0, 0, 0] })];
    const d = pairedDiff([...a, ...b], 'e3', 72, 'mask', 72)!;
    // pass@1 = c/4 per problem: the e3 arm is 1/4 better on every problem of both seeds.
    expect(d.ci).toEqual({ mean: 0.25, lo: 0.25, hi: 0.25, n: 8 });
    expect(d.perSeed).toEqual([0.25, 0.25]);
    expect(pairedDiff([...a], 'e3', 72, 'e3', 72)!.ci.mean).toBe(0);
  });

  it('leave out seeds one arm lacks, and the extrapolation gain pairs two budgets of one arm', () => {
    const rs = [
      cell('e3', 0, { 72: [0, 0], 288: [2, 4] }),
      cell('e3', 1, { 72: [4, 4], 288: [4, 4] }),
      cell('mask', 0, { 72: [0, 0], 288: [0, 0] }),
    ];
    expect(pairedDiff(rs, 'e3', 72, 'mask', 72)!.perSeed).toEqual([0]);
    const s = summarizeExperiment(rs, ['e3', 'mask']);
    expect(s.arms.e3!.gain4x!.ci.mean).toBeCloseTo(0.375, 12);
    expect(s.arms.e3!.gain4x!.perSeed).toEqual([0.75, 0]);
    expect(s.markdown).toContain('| e3 − mask |');
  });
});

describe('config warnings', () => {
  it('warn when a coupled ladder has no doubled pair (the rule cannot fire), not otherwise', async () => {
    const { configWarnings } = await import('../src/runtime/config.js');
    const { armConfig, QUICK } = await import('../src/experiments/e3Countdown.js');
    const cfg = armConfig('e3', 0, QUICK, 'wasm');
    const withLadder = (ladder: number[]) => ({ ...cfg, curriculum: { ...cfg.curriculum, ladder } });
    expect(configWarnings(withLadder([32, 48, 72]))[0]).toMatch(/curriculum.ladder \[32, 48, 72\].*cannot fire/);
    expect(configWarnings(withLadder([18, 36, 72]))).toEqual([]);
    expect(configWarnings(armConfig('no-curriculum', 0, QUICK, 'wasm'))).toEqual([]);
  });

  it('warn when a correction cannot act (issue #19): weights ≡ 1, a clip against π_prox = π_θ, drop past the bound', async () => {
    const { correctionWarnings } = await import('../src/runtime/config.js');
    const { armConfig, QUICK } = await import('../src/experiments/e3Countdown.js');
    const cfg = armConfig('no-curriculum', 0, QUICK, 'wasm'); // sync, 2 minibatches
    const w = (learner: object, staleness: object = cfg.staleness) =>
      correctionWarnings({ ...cfg, learner: { ...cfg.learner, ...learner }, staleness } as typeof cfg);
    expect(w({ correction: { kind: 'tis', c: 2 } })).toEqual([]); // the second minibatch is off-policy
    expect(w({ correction: { kind: 'tis', c: 2 }, minibatches: 1 })[0]).toMatch(/every importance weight is 1/);
    const async4 = { policy: 'async', eta: 4 };
    expect(w({ correction: { kind: 'decoupled' }, minibatches: 1 }, async4)[0]).toMatch(/clip never acts/);
    expect(w({ correction: { kind: 'masked', level: 'token', low: 0.5, high: 5 } }, async4)).toEqual([]);
    expect(w({ correction: { kind: 'drop', maxLag: 4 } }, async4)[0]).toMatch(/maxLag 4 .* ever stale enough/);
    expect(w({ correction: { kind: 'drop', maxLag: 3 } }, async4)).toEqual([]);
    expect(w({ correction: { kind: 'none' }, minibatches: 1 })).toEqual([]);
  });
});
