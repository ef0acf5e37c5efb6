import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/tensor/backend.js';
import { groupAdvantages } from '../src/rl/advantages.js';
import {
  EXCLUDED,
  behaviourKl,
  e3Loss,
  readStats,
  versionSplit,
  type Correction,
  type LossConfig,
  type TokenData,
} from '../src/rl/loss.js';
import { correctionWeights } from '../src/rl/corrections.js';
import { overlongMasked, overlongPenalty } from '../src/rl/overlong.js';
import { correctionOf } from '../src/experiments/scenario.js';
import { BigramPolicy } from '../src/policy/bigram/bigram.js';
import { scoreEpisode } from '../src/tasks/pk/env.js';
import { bigramPolicyStep, bigramPolicyGradient, PK_LOSS } from '../src/experiments/pk.js';
import { baselineAdvantages } from '../src/rl/advantages.js';
import { HostAdam } from '../src/rl/hostOptimizer.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const base: LossConfig = {
  clipLow: 0.2,
  clipHigh: 0.35,
  klCoef: 0,
  entropyCoef: 0,
  negatives: 'keep',
  correction: { kind: 'none' },
  aggregation: 'token-mean',
};
const L = Math.log;
const data = (
  over: Omit<Partial<TokenData>, 'advantages'> & { advantages: number[]; behaviour: number[] },
): TokenData => ({
  advantages: Float32Array.from(over.advantages),
  behaviourLogprobs: Float32Array.from(over.behaviour),
  mask: over.mask ?? new Float32Array(over.advantages.length).fill(1),
  sequence: over.sequence ?? new Int32Array(over.advantages.length),
  proximalLogprobs: over.proximalLogprobs,
  versions: over.versions,
  learnerVersion: over.learnerVersion,
  exclude: over.exclude,
});

/** Loss value, stats and d loss / d logprobs for given current log-probs. */
function evalLoss(
  logp: number[],
  d: TokenData,
  cfg: LossConfig,
  extra: { entropies?: number[]; refLogprobs?: number[] } = {},
) {
  const x = tf.tensor1d(logp);
  const ent = extra.entropies ? tf.tensor1d(extra.entropies) : undefined;
  let lt!: ReturnType<typeof e3Loss>;
  const g = tf.grad((lp: tf.Tensor) => {
    lt = e3Loss(lp as tf.Tensor1D, d, cfg, {
      entropies: ent,
      refLogprobs: extra.refLogprobs ? Float32Array.from(extra.refLogprobs) : undefined,
    });
    return lt.loss;
  })(x);
  const loss = tf.tidy(
    () =>
      e3Loss(x, d, cfg, {
        entropies: ent,
        refLogprobs: extra.refLogprobs ? Float32Array.from(extra.refLogprobs) : undefined,
      }).loss.dataSync()[0]!,
  );
  return { loss, stats: readStats(lt, loss), grad: Array.from(g.dataSync()) };
}

describe('group-normalised advantages', () => {
  it('match (r − mean)/(std + ε) computed by hand, and zero equal-reward groups', () => {
    const { advantages, zeroAdvantageGroups, groups } = groupAdvantages([1, 0, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1], 4, 0);
    const std = Math.sqrt(0.1875);
    expect(advantages[0]).toBeCloseTo(0.75 / std, 10);
    expect(advantages[1]).toBeCloseTo(-0.25 / std, 10);
    expect([...advantages.slice(4, 8)]).toEqual([0, 0, 0, 0]);
    expect(advantages[8]).toBeCloseTo(-1, 10);
    expect(advantages[9]).toBeCloseTo(1, 10);
    expect(groups).toBe(3);
    expect(zeroAdvantageGroups).toBe(1);
    expect(() => groupAdvantages([1, 0, 1], 2)).toThrow(/groups of 2/);
  });
});

describe('e3 loss terms', () => {
  it('PPO surrogate with separate low/high clips, token mean, clip fractions', () => {
    // ratios 2, 0.5, 1 with A = +1, −1, +0.5: surrogates min(2, 1.35)=1.35, min(−0.5, −0.8)=−0.8, 0.5
    const d = data({ advantages: [1, -1, 0.5], behaviour: [L(0.25), L(0.5), L(0.3)] });
    const r = evalLoss([L(0.5), L(0.25), L(0.3)], d, base);
    expect(r.loss).toBeCloseTo(-(1.35 - 0.8 + 0.5) / 3, 5);
    expect(r.stats.clipFracHigh).toBeCloseTo(1 / 3, 6);
    expect(r.stats.clipFracLow).toBeCloseTo(1 / 3, 6);
    // clipped tokens carry no gradient; the unclipped one: −A·ratio/3
    expect(r.grad[0]).toBeCloseTo(0, 6);
    expect(r.grad[1]).toBeCloseTo(0, 6);
    expect(r.grad[2]).toBeCloseTo(-0.5 / 3, 5);
  });

  it('measures the learner-behaviour mismatch: |log r|, KL(μ‖π) by k3, ESS/n — over unmasked tokens only', () => {
    // r = π/μ = 1, 2, 0.5 on the real tokens; the fourth (r = e⁵) is padding and must not count
    const d = data({
      advantages: [1, 1, 1, 1],
      behaviour: [L(0.2), L(0.2), L(0.4), L(0.001)],
      mask: Float32Array.from([1, 1, 1, 0]),
    });
    const s = evalLoss([L(0.2), L(0.4), L(0.2), L(0.001) + 5], d, base).stats;
    expect(s.logRatioAbsMean).toBeCloseTo((2 * Math.LN2) / 3, 5);
    expect(s.logRatioAbsMax).toBeCloseTo(Math.LN2, 5);
    // k3 = r − 1 − log r: 0, 1 − ln 2, −0.5 + ln 2 → mean 0.5 / 3
    expect(s.mismatchKl).toBeCloseTo(0.5 / 3, 5);
    // (Σr)² / (n Σr²) = 3.5² / (3 · 5.25)
    expect(s.essFraction).toBeCloseTo(12.25 / 15.75, 5);
    // on-policy: no mismatch, full ESS
    const on = evalLoss(
      [L(0.2), L(0.2), L(0.4)],
      data({ advantages: [1, -1, 1], behaviour: [L(0.2), L(0.2), L(0.4)] }),
      base,
    );
    expect([on.stats.logRatioAbsMax, on.stats.mismatchKl, on.stats.essFraction]).toEqual([0, 0, 1]);
  });

  it('GRPOMask zeroes the terms (and gradients) of negative-advantage tokens', () => {
    const d = data({ advantages: [1, -1, -0.5, 2], behaviour: [L(0.5), L(0.5), L(0.5), L(0.5)] });
    const r = evalLoss([L(0.5), L(0.5), L(0.5), L(0.5)], d, { ...base, negatives: 'mask' });
    expect(Math.abs(r.grad[1]!)).toBe(0);
    expect(Math.abs(r.grad[2]!)).toBe(0);
    expect(r.grad[0]).toBeCloseTo(-1 / 2, 5); // token mean over the 2 kept tokens
    expect(r.grad[3]).toBeCloseTo(-2 / 2, 5);
    expect(r.stats.tokensMaskedNegative).toBe(2);
    expect(r.stats.tokens).toBe(2);
  });

  it('truncated IS never weights above c, and its gradient is min(π/μ, c)·A', () => {
    const d = data({ advantages: [1, 1, -1], behaviour: [L(0.1), L(0.4), L(0.05)] });
    const logp = [L(0.5), L(0.2), L(0.4)]; // ratios 5, 0.5, 8
    const r = evalLoss(logp, d, { ...base, correction: { kind: 'tis', c: 2 } });
    expect(r.stats.isWeightMax).toBeLessThanOrEqual(2);
    expect(r.stats.isWeightMean).toBeCloseTo((2 + 0.5 + 2) / 3, 5);
    expect(r.grad).toEqual([expect.closeTo(-2 / 3, 5), expect.closeTo(-0.5 / 3, 5), expect.closeTo(2 / 3, 5)]);
    expect(r.loss).toBeCloseTo(-(2 * logp[0]! + 0.5 * logp[1]! - 2 * logp[2]!) / 3, 5);
  });

  it('decoupled PPO with μ = π_prox equals plain PPO; otherwise weights by π_prox/μ', () => {
    const beh = [L(0.25), L(0.5), L(0.3)];
    const logp = [L(0.5), L(0.25), L(0.33)];
    const adv = [1, -1, 0.5];
    const plain = evalLoss(logp, data({ advantages: adv, behaviour: beh }), base);
    const dec = evalLoss(logp, data({ advantages: adv, behaviour: beh, proximalLogprobs: Float32Array.from(beh) }), {
      ...base,
      correction: { kind: 'decoupled' },
    });
    expect(dec.loss).toBeCloseTo(plain.loss, 6);
    dec.grad.forEach((g, i) => expect(g).toBeCloseTo(plain.grad[i]!, 6));
    // π_prox = 2μ on the last token: its term is weighted by 2 and its ratio is taken against π_prox.
    const prox = [beh[0]!, beh[1]!, L(0.6)];
    const capped = evalLoss(
      logp,
      data({ advantages: adv, behaviour: beh, proximalLogprobs: Float32Array.from(prox) }),
      { ...base, correction: { kind: 'decoupled', c: 1.5 } },
    );
    expect(capped.stats.isWeightMax).toBeCloseTo(1.5, 5);
    expect(capped.grad[2]).toBeCloseTo((-1.5 * 0.5 * (0.33 / 0.6)) / 3, 5);
  });

  it('drops tokens past the maximum lag and reports the lag', () => {
    const d = data({
      advantages: [1, 1, 1],
      behaviour: [L(0.5), L(0.5), L(0.5)],
      versions: Int32Array.from([5, 3, 1]),
      learnerVersion: 5,
    });
    const r = evalLoss([L(0.5), L(0.5), L(0.5)], d, { ...base, correction: { kind: 'drop', maxLag: 2 } });
    expect(r.stats.tokensDroppedStale).toBe(1);
    expect(r.stats.lagMax).toBe(4);
    expect(Math.abs(r.grad[2]!)).toBe(0);
    expect(r.grad[0]).toBeCloseTo(-1 / 2, 5);
  });

  it('KL to the reference uses the k3 estimator; the entropy bonus lowers the loss', () => {
    const d = data({ advantages: [0, 0], behaviour: [L(0.25), L(0.5)] });
    const r = evalLoss(
      [L(0.25), L(0.5)],
      d,
      { ...base, klCoef: 0.1, entropyCoef: 0.01 },
      { refLogprobs: [L(0.5), L(0.5)], entropies: [1.2, 0.8] },
    );
    const k3 = 2 - Math.log(2) - 1; // exp(log 0.5 − log 0.25) − log 2 − 1
    expect(r.stats.kl).toBeCloseTo(k3 / 2, 5);
    expect(r.stats.klLoss).toBeCloseTo((0.1 * k3) / 2, 5);
    expect(r.stats.entropy).toBeCloseTo(1.0, 5);
    expect(r.stats.entropyBonus).toBeCloseTo(-0.01, 6);
    expect(r.loss).toBeCloseTo((0.1 * k3) / 2 - 0.01, 5);
  });

  it('seq-mean-token-mean weights each trajectory equally', () => {
    // trajectory 0 has 1 token, trajectory 1 has 3: weights 1/2 and 1/6
    const d = data({
      advantages: [1, 1, 1, 1],
      behaviour: [0, 0, 0, 0].map(() => L(0.5)),
      sequence: Int32Array.from([0, 1, 1, 1]),
    });
    const r = evalLoss([L(0.5), L(0.5), L(0.5), L(0.5)], d, { ...base, aggregation: 'seq-mean-token-mean' });
    expect(r.grad[0]).toBeCloseTo(-1 / 2, 5);
    expect(r.grad[1]).toBeCloseTo(-1 / 6, 5);
  });
});

describe('negative gradients on the p^k bigram', () => {
  const env = { tokens: 4, answer: 0, budget: 10 };
  const V = 5;
  const values = new Float32Array(4 * V);
  for (let r = 0; r < 4; r++) values[r * V + 4] = 1; // stop is likely

  it('a negative advantage on a trace that stopped early lowers the probability of stop', () => {
    const p = BigramPolicy.fromValues(env, values);
    const ep = scoreEpisode(env, [1, 2, 4]);
    const before = p.prob(2, 4);
    const stats = bigramPolicyStep(p, [ep], [-1], base, 0.5);
    expect(stats?.tokens).toBe(2);
    expect(p.prob(2, 4)).toBeLessThan(before);
    // With GRPOMask the same step changes nothing: every token is masked (e3Loss's count of masked tokens is tested
    // above).
    const q = BigramPolicy.fromValues(env, values);
    const masked = bigramPolicyStep(q, [ep], [-1], { ...base, negatives: 'mask' }, 0.5);
    expect(masked).toBeNull(); // every term masked: no gradient, no step
    expect(Array.from(q.values())).toEqual(Array.from(values));
    p.dispose();
    q.dispose();
  });

  it('the exact softmax chain rule equals autodiff through logSoftmax', () => {
    const vals = Float32Array.from({ length: 4 * V }, (_, i) => Math.sin(i * 1.7));
    const p = BigramPolicy.fromValues(env, vals);
    const eps = [scoreEpisode(env, [1, 2, 3, 4]), scoreEpisode(env, [3, 3, 0]), scoreEpisode(env, [2, 1, 1, 4])];
    const adv = [-0.7, 1.4, -0.7];
    const { prev, next, episodeOf } = BigramPolicy.transitions(eps);
    const d = data({
      advantages: Array.from(episodeOf, (k) => adv[k]!),
      behaviour: Array.from(p.hostLogprobs(prev, next)),
      sequence: episodeOf,
    });
    const cfg: LossConfig = { ...base, aggregation: 'seq-mean-token-mean' };
    const M = p.variable();
    const { grads } = tf.variableGrads(() => e3Loss(p.transitionLogprobs(eps).logprobs, d, cfg).loss, [M]);
    const auto = grads[M.name]!.dataSync();
    const dLogprob = tf
      .grad((lp: tf.Tensor) => e3Loss(lp as tf.Tensor1D, d, cfg).loss)(tf.tensor1d(d.behaviourLogprobs))
      .dataSync();
    const exact = p.gradientFromLogprobGrad(prev, next, dLogprob);
    expect(exact.some((g) => Math.abs(g) > 0.01)).toBe(true);
    for (let i = 0; i < exact.length; i++) expect(exact[i]).toBeCloseTo(auto[i]!, 5);
    tf.dispose(Object.values(grads));
    p.dispose();
  });

  it('REINFORCE with a baseline: the gradient chained through e3Loss equals autodiff, and A = r − b for every trajectory', () => {
    const vals = Float32Array.from({ length: 4 * V }, (_, i) => Math.cos(i * 0.9));
    const p = BigramPolicy.fromValues(env, vals);
    const eps = [scoreEpisode(env, [1, 2, 4]), scoreEpisode(env, [3, 2, 0]), scoreEpisode(env, [2, 3, 3, 1, 4])];
    const adv = baselineAdvantages(
      eps.map((e) => e.reward),
      0.5,
    );
    expect(Array.from(adv)).toEqual([-0.5, 0.5, -0.5]);
    const cfg: LossConfig = { ...PK_LOSS };
    const g = bigramPolicyGradient(p, eps, adv, cfg)!;
    // autodiff: L = −(1/S) Σ_τ (1/|τ|) Σ_t log π(a_t|a_{t−1}) · (r_τ − b), through logSoftmax on M
    const { episodeOf } = BigramPolicy.transitions(eps);
    const lengths = eps.map((e) => e.actions.length - 1);
    const M = p.variable();
    const w = tf.tensor1d(Float32Array.from(episodeOf, (k) => adv[k]! / (eps.length * lengths[k]!)));
    const { grads } = tf.variableGrads(
      () => tf.neg(tf.sum(tf.mul(p.transitionLogprobs(eps).logprobs, w))) as tf.Scalar,
      [M],
    );
    const auto = grads[M.name]!.dataSync();
    expect(g.grad.some((x) => Math.abs(x) > 0.01)).toBe(true);
    for (let i = 0; i < g.grad.length; i++) expect(g.grad[i]).toBeCloseTo(auto[i]!, 5);
    expect([...g.rows].sort()).toEqual([1, 2, 3]);
    // GRPOMask keeps only the hit's terms; all failures → no gradient at all
    expect(bigramPolicyGradient(p, [eps[0]!, eps[2]!], [-0.5, -0.5], { ...cfg, negatives: 'mask' })).toBeNull();
    tf.dispose([w, ...Object.values(grads)]);
    p.dispose();
  });

  it('host Adam matches tf.train.adam step for step, and moves a row after its gradient stops', () => {
    const rows = 3,
      L = 4;
    const init = Float64Array.from({ length: rows * L }, (_, i) => Math.sin(i));
    const params = init.slice();
    const adam = new HostAdam(0.01, L, rows * L);
    const v = tf.variable(tf.tensor2d(Float32Array.from(init), [rows, L]));
    const ref = tf.train.adam(0.01, 0.9, 0.999, 1e-8);
    for (let t = 0; t < 6; t++) {
      // row 0 gets a gradient on every step, row 1 only on the first two, row 2 never
      const grad = Float64Array.from({ length: rows * L }, (_, i) =>
        i < L || (i < 2 * L && t < 2) ? Math.cos(i + t) : 0,
      );
      const changed = adam.step(params, grad, t < 2 ? [0, 1] : [0]);
      expect(changed.sort()).toEqual([0, 1]);
      ref.applyGradients([{ name: v.name, tensor: tf.tensor2d(Float32Array.from(grad), [rows, L]) }]);
    }
    const want = v.dataSync();
    for (let i = 0; i < params.length; i++) expect(params[i]).toBeCloseTo(want[i]!, 5);
    expect(params[L] - init[L]!).not.toBeCloseTo(0, 3);
    for (let i = 2 * L; i < 3 * L; i++) expect(params[i]).toBe(init[i]); // never touched: never moves
    expect(adam.steps).toBe(6);
    v.dispose();
    ref.dispose();
  });
});

describe('staleness corrections (issue #19): weights and masks on a planted batch', () => {
  // Two rollouts: tokens 0–1 are rollout 0, tokens 2–4 rollout 1; token 5 is padding.
  // log π_prox − log μ per token: ln 2, ln 2 | ln 0.5, 0, ln 4 ; the padding's would be ln 100.
  const mu = [L(0.2), L(0.1), L(0.4), L(0.3), L(0.1), L(0.01)];
  const prox = Float32Array.from([L(0.4), L(0.2), L(0.2), L(0.3), L(0.4), L(1)]);
  const planted = () =>
    data({
      advantages: [1, 1, -1, 1, 1, 1],
      behaviour: mu,
      proximalLogprobs: prox,
      mask: Float32Array.from([1, 1, 1, 1, 1, 0]),
      sequence: Int32Array.from([0, 0, 1, 1, 1, 1]),
    });
  const mu32 = Float32Array.from(mu);
  const at = (c: Correction) => Array.from(correctionWeights(c, prox, mu32, planted().mask, planted().sequence).weight);
  const close = (xs: number[]) => xs.map((x) => expect.closeTo(x, 5));
  // The float32 ratios of tokens 0, 1 (≈ 2) and 2 (≈ 0.5), exactly as the weights see them: edges to test.
  const ratio = (i: number) => Math.exp(prox[i]! - mu32[i]!);
  const hi = Math.max(ratio(0), ratio(1));
  const lo = ratio(2);

  it('token, sequence and geometric ratios, masked outside [low, high] (edges kept)', () => {
    // token ratios 2, 2, 0.5, 1, 4: [0.5, 2] keeps both edges, drops 4; just inside the edges drops them
    expect(at({ kind: 'masked', level: 'token', low: lo, high: hi })).toEqual(close([2, 2, 0.5, 1, 0, 0]));
    expect(
      at({ kind: 'masked', level: 'token', low: lo * 1.0001, high: 0.9999 * Math.min(ratio(0), ratio(1)) }),
    ).toEqual(close([0, 0, 0, 1, 0, 0]));
    // sequence products: rollout 0 → 4, rollout 1 → 0.5·1·4 = 2
    expect(at({ kind: 'masked', level: 'sequence', low: 0, high: 3 })).toEqual(close([0, 0, 2, 2, 2, 0]));
    expect(at({ kind: 'masked', level: 'sequence', low: 0, high: 4.001 })).toEqual(close([4, 4, 2, 2, 2, 0]));
    // geometric means: rollout 0 → 2, rollout 1 → 2^(1/3)
    const g = 2 ** (1 / 3);
    expect(at({ kind: 'masked', level: 'geometric', low: 1.2, high: 2.001 })).toEqual(close([2, 2, g, g, g, 0]));
    expect(at({ kind: 'masked', level: 'geometric', low: 1.3, high: 1.9 })).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('truncation: decoupled caps token ratios, tis caps the sequence product', () => {
    expect(at({ kind: 'decoupled', c: 1.5 })).toEqual(close([1.5, 1.5, 0.5, 1, 1.5, 0]));
    expect(at({ kind: 'decoupled' })).toEqual(close([2, 2, 0.5, 1, 4, 0]));
    expect(at({ kind: 'tis', c: 3, level: 'sequence' })).toEqual(close([3, 3, 2, 2, 2, 0]));
    const w = correctionWeights({ kind: 'tis', c: 3 }, prox, Float32Array.from(mu), planted().mask, planted().sequence);
    expect(w.truncated).toBe(1);
    expect(at({ kind: 'none' })).toEqual([1, 1, 1, 1, 1, 0]);
  });

  it('in the loss: a masked token has no gradient and is counted; kept ones are PPO against π_prox times w', () => {
    const logp = Array.from(prox); // π_θ = π_prox: ratio 1, no clip
    const r = evalLoss(logp, planted(), { ...base, correction: { kind: 'masked', level: 'token', low: lo, high: hi } });
    expect(r.stats.tokensMaskedIs).toBe(1);
    expect(r.stats.tokens).toBe(5); // a masked token stays in the denominator
    expect(r.grad).toEqual([-2 / 5, -2 / 5, 0.5 / 5, -1 / 5, 0, 0].map((x) => expect.closeTo(x, 5)));
    // IcePop-style preset through the scenario shorthand
    expect(correctionOf('icepop', 'f')).toEqual({ kind: 'masked', level: 'token', low: 0.5, high: 5 });
    expect(correctionOf('masked-geo', 'f')).toEqual({ kind: 'masked', level: 'geometric', low: 0.99, high: 1.01 });
    expect(correctionOf('masked-seq:0:2', 'f')).toEqual({ kind: 'masked', level: 'sequence', low: 0, high: 2 });
    expect(correctionOf('tis-seq:4', 'f')).toEqual({ kind: 'tis', c: 4, level: 'sequence' });
    expect(() => correctionOf('masked-seq:3:2', 'f')).toThrow(/low.*below high/);
  });

  it('the mismatch KL at the behaviour version counts lag-0 tokens only; staleness splits at the newest version', () => {
    const d = data({
      advantages: [1, 1, 1, 1],
      behaviour: [L(0.5), L(0.5), L(0.5), L(0.5)],
      sequence: Int32Array.from([0, 0, 1, 1]),
      versions: Int32Array.from([4, 5, 3, 3]),
      learnerVersion: 5,
    });
    // only token 1 is lag 0: r = 0.25 / 0.5, k3 = 0.5 − 1 + ln 2
    expect(behaviourKl([L(0.25), L(0.25), L(0.9), L(0.9)], d, d.mask)).toBeCloseTo(Math.LN2 - 0.5, 6);
    // rollout 0 newest 5: queued 0, generation 1 and 0; rollout 1 newest 3: queued 2, 2
    expect(versionSplit(d)).toEqual({ stalenessQueuedMean: 1, stalenessGenerationMean: 0.25, mixedVersionShare: 0.5 });
  });
});

describe('corrections for stale negatives (issue #31): topr and asym-clip on a planted batch', () => {
  // Four tokens, one rollout each: A = +1, −1, −1, −1; r = π_θ/μ = 2, 0.5, 2, 4; lags 0, 0, 2, 3.
  const mu = [L(0.2), L(0.4), L(0.1), L(0.05)];
  const logp = [L(0.4), L(0.2), L(0.2), L(0.2)];
  const planted = () =>
    data({
      advantages: [1, -1, -1, -1],
      behaviour: mu,
      sequence: Int32Array.from([0, 1, 2, 3]),
      versions: Int32Array.from([5, 5, 3, 2]),
      learnerVersion: 5,
    });
  const close = (xs: number[]) => xs.map((x) => expect.closeTo(x, 5));

  it('topr: A > 0 untouched (weight 1), A < 0 weighted min(r, c); gradient w·A, no clip; counts by staleness', () => {
    const d = planted();
    const w = correctionWeights(
      { kind: 'topr' },
      Float32Array.from(logp),
      d.behaviourLogprobs,
      d.mask,
      d.sequence,
      d.advantages,
    );
    expect(Array.from(w.weight)).toEqual(close([1, 0.5, 1, 1])); // c = 1: the positive's r = 2 is not truncated
    expect(w.truncated).toBe(2); // the negatives with r = 2 and 4
    expect(w.downweighted).toBe(1);
    const c3 = correctionWeights(
      { kind: 'topr', c: 3 },
      Float32Array.from(logp),
      d.behaviourLogprobs,
      d.mask,
      d.sequence,
      d.advantages,
    );
    expect(Array.from(c3.weight)).toEqual(close([1, 0.5, 2, 3])); // the edges: 2 < 3 kept, 4 cut to 3
    const r = evalLoss(logp, d, { ...base, correction: { kind: 'topr' } });
    // loss = −mean(w·A·log π): d/d log π = −w·A/4
    expect(r.grad).toEqual(close([-1 / 4, 0.5 / 4, 1 / 4, 1 / 4]));
    expect(r.stats).toMatchObject({
      tokensNegative: 3,
      tokensNegativeStale: 2,
      tokensNegativeCorrected: 1,
      tokensNegativeCorrectedStale: 0,
    });
  });

  it('asym-clip: a stale negative whose ratio·A falls below high·A has no gradient; fresh negatives and positives are plain PPO', () => {
    const none = evalLoss(logp, planted(), base);
    // PPO (clip 0.8–1.35): token 0 clipped above, token 1 clipped below, tokens 2 and 3 unbounded (A < 0, r > 1)
    expect(none.grad).toEqual(close([0, 0, 2 / 4, 4 / 4]));
    const r = evalLoss(logp, planted(), { ...base, correction: { kind: 'asym-clip', high: 3 } });
    expect(r.grad).toEqual(close([0, 0, 2 / 4, 0])); // token 3: r = 4 > 3, floored; token 2: r = 2 < 3, kept
    expect(r.loss).toBeCloseTo(-(1.35 - 0.8 - 2 - 3) / 4, 5);
    expect(r.stats).toMatchObject({
      tokensNegative: 3,
      tokensNegativeStale: 2,
      tokensNegativeCorrected: 1,
      tokensNegativeCorrectedStale: 1,
    });
    // minLag 3: token 2 (lag 2) no longer stale enough — unchanged; token 3 (lag 3) still floored
    expect(evalLoss(logp, planted(), { ...base, correction: { kind: 'asym-clip', high: 3, minLag: 3 } }).grad).toEqual(
      close([0, 0, 2 / 4, 0]),
    );
    // minLag 4: nothing is stale enough: plain PPO
    expect(evalLoss(logp, planted(), { ...base, correction: { kind: 'asym-clip', high: 3, minLag: 4 } }).grad).toEqual(
      none.grad,
    );
    expect(correctionOf('topr', 'f')).toEqual({ kind: 'topr', c: 1 });
    expect(correctionOf('asym-clip:2:4', 'f')).toEqual({ kind: 'asym-clip', high: 2, minLag: 4 });
    expect(correctionOf('asym-clip', 'f')).toEqual({ kind: 'asym-clip', high: 3, minLag: 1 });
  });
});

describe('overlong handling (issue #19 item 5)', () => {
  it('soft punishment: 0 up to B − buffer, linear to −penalty at the budget', () => {
    const soft = { kind: 'soft' as const, buffer: 8, penalty: 1 };
    expect(overlongPenalty(64, 72, soft)).toBe(0);
    expect(overlongPenalty(66, 72, soft)).toBeCloseTo(-0.25, 12);
    expect(overlongPenalty(72, 72, soft)).toBe(-1);
    expect(overlongPenalty(72, 72, { ...soft, penalty: 0.5 })).toBe(-0.5);
    expect(overlongPenalty(72, 72, { kind: 'mask' })).toBe(0);
    expect(overlongPenalty(72, 72, undefined)).toBe(0);
  });

  it('mask: a rollout cut at the budget leaves the loss (no gradient, counted); one that stopped stays', () => {
    expect(overlongMasked('budget', { kind: 'mask' })).toBe(true);
    expect(overlongMasked('eos', { kind: 'mask' })).toBe(false);
    expect(overlongMasked('budget', { kind: 'none' })).toBe(false);
    const d = data({
      advantages: [1, 1, -1],
      behaviour: [L(0.5), L(0.5), L(0.5)],
      sequence: Int32Array.from([0, 0, 1]),
      exclude: Uint8Array.from([EXCLUDED.overlong, EXCLUDED.overlong, 0]),
    });
    const r = evalLoss([L(0.5), L(0.5), L(0.5)], d, base);
    expect(r.stats.tokensMaskedOverlong).toBe(2);
    expect(r.stats.tokens).toBe(1);
    expect(r.grad).toEqual([0, 0, expect.closeTo(1, 5)].map((x) => (x === 0 ? expect.closeTo(0, 12) : x)));
  });
});
