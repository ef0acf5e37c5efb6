/**
 * Several optimiser steps per rollout batch: the slicing, M = 1 is the single step exactly, and
 * with M = 2 the second step of decoupled PPO uses π_prox from the start of the batch (checked
 * against the steps written out by hand); tis, decoupled and none then differ.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/tensor/backend.js';
import { Gpt } from '../src/policy/transformer/model.js';
import { Adam } from '../src/policy/transformer/adam.js';
import { scoreSequences, shiftTargets, tokenLogprobsTensor } from '../src/policy/transformer/logprobs.js';
import { combineStats, gptRlStep, minibatchSlices, padRollouts, type TrainRollout } from '../src/rl/gptStep.js';
import { e3Loss, E3_LOSS, readStats, type LossConfig } from '../src/rl/loss.js';
import { Rng } from '../src/util/rng.js';
import type { GptConfig } from '../src/policy/transformer/config.js';

const CFG: GptConfig = { vocabSize: 20, dModel: 16, nHeads: 2, nLayers: 1, contextLength: 24 };
const PAD = 0;

beforeAll(async () => {
  await initBackend('cpu');
});

function rollouts(n: number, model: Gpt): TrainRollout[] {
  const rng = new Rng('mb-data');
  return Array.from({ length: n }, (_, i) => {
    const prompt = [1, 2 + (i % 5)];
    const completion = Array.from({ length: 3 + (i % 4) }, () => 2 + rng.int(CFG.vocabSize - 2));
    // Behaviour log-probs a little off the model's own (a stale sampler), so μ ≠ π_prox.
    const toks = Int32Array.from([...prompt, ...completion]);
    const own = scoreSequences(model, toks, 1, toks.length, PAD, 1).logprobs;
    return {
      prompt,
      completion,
      behaviourLogprobs: completion.map((_, j) => own[prompt.length + j - 1]! - 0.3 + 0.1 * (j % 3)),
      versions: completion.map(() => 0),
      advantage: i % 2 ? 1 : -1,
    };
  });
}

const fresh = () => {
  const m = Gpt.create(CFG, new Rng('mb-model'));
  return { m, adam: new Adam(m.variables, { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, clipNorm: 1 }) };
};
const opts = (loss: LossConfig, extra: object = {}) => ({
  loss,
  temperature: 1,
  padId: PAD,
  learnerVersion: 0,
  ...extra,
});
const NO_REG: LossConfig = { ...E3_LOSS, klCoef: 0, entropyCoef: 0 };

/** One Adam step on a padded slice, written out (the loss path gptRlStep must equal). */
function handStep(m: Gpt, adam: Adam, rs: TrainRollout[], loss: LossConfig, proximal?: Float32Array) {
  const batch = padRollouts(rs, PAD, CFG.contextLength, 0);
  const targets = shiftTargets(batch.tokens, batch.B, batch.T, PAD);
  if (proximal) batch.data.proximalLogprobs = proximal;
  let parts: ReturnType<typeof e3Loss> | undefined;
  const { loss: l } = adam.minimize(() => {
    const { logprobs } = tokenLogprobsTensor(
      m,
      tf.tensor2d(batch.tokens, [batch.B, batch.T], 'int32'),
      tf.tensor2d(targets, [batch.B, batch.T], 'int32'),
      1,
    );
    parts = e3Loss(logprobs, batch.data, loss);
    return parts.loss;
  });
  return readStats(parts!, l);
}

describe('minibatch slicing', () => {
  it('cuts a batch into M contiguous disjoint slices of near-equal size, clamped to the batch', () => {
    const xs = Array.from({ length: 10 }, (_, i) => i);
    expect(minibatchSlices(xs, 3)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ]);
    expect(minibatchSlices(xs, 1)).toEqual([xs]);
    expect(minibatchSlices(xs.slice(0, 2), 4)).toEqual([[0], [1]]);
    expect(minibatchSlices(xs, 4).flat()).toEqual(xs);
  });

  it('combines statistics: means of losses, summed tokens of one pass, largest maxima', () => {
    const base = {
      loss: 1,
      policyLoss: 1,
      klLoss: 0,
      entropyBonus: 0,
      kl: 0,
      entropy: 2,
      clipFracLow: 0,
      clipFracHigh: 0.5,
      isWeightMean: 1,
      isWeightMax: 2,
      tokens: 10,
      tokensMaskedNegative: 1,
      tokensDroppedStale: 0,
      lagMax: 1,
      logRatioAbsMean: 0.1,
      logRatioAbsMax: 0.5,
      mismatchKl: 0.01,
      essFraction: 0.9,
      tokensMaskedIs: 2,
      tokensTruncatedIs: 0,
      tokensNegative: 4,
      tokensNegativeStale: 2,
      tokensNegativeCorrected: 1,
      tokensNegativeCorrectedStale: 1,
      tokensMaskedOverlong: 0,
      tokensMaskedStalePrefix: 0,
      mismatchKlBehaviour: 0.02,
      stalenessQueuedMean: 1,
      stalenessGenerationMean: 0,
      mixedVersionShare: 0,
      gradNorm: 4,
    };
    const s = combineStats(
      [
        base,
        { ...base, loss: 3, tokens: 6, isWeightMax: 5, logRatioAbsMax: 0.7, essFraction: 0.5, mismatchKlBehaviour: 9 },
        { ...base, loss: 2 },
        { ...base, loss: 2 },
      ],
      2,
    );
    expect(s.loss).toBe(2);
    expect(s.tokens).toBe(16);
    expect(s.isWeightMax).toBe(5);
    expect(s.logRatioAbsMax).toBe(0.7);
    expect(s.essFraction).toBeCloseTo((0.9 * 3 + 0.5) / 4, 12);
    expect(s.tokensMaskedIs).toBe(4); // one pass (two slices)
    expect(s.tokensNegativeStale).toBe(4); // summed like the other token counts
    expect(s.mismatchKlBehaviour).toBe(0.02); // the batch's start: the first step's
    expect(s.optimizerSteps).toBe(4);
  });
});

describe('several optimiser steps per batch', () => {
  it('M = 1 is the single step: same loss and same weights as the step written out', () => {
    for (const kind of ['none', 'tis', 'decoupled'] as const) {
      const loss: LossConfig = { ...NO_REG, correction: kind === 'tis' ? { kind, c: 2 } : { kind } };
      const a = fresh(),
        b = fresh();
      const rs = rollouts(6, a.m);
      const s = gptRlStep(a.m, a.adam, rs, opts(loss));
      const prox =
        kind === 'decoupled'
          ? (() => {
              const p = padRollouts(rs, PAD, CFG.contextLength, 0);
              return scoreSequences(b.m, p.tokens, p.B, p.T, PAD, 1).logprobs;
            })()
          : undefined;
      const h = handStep(b.m, b.adam, rs, loss, prox);
      expect(s.loss).toBe(h.loss);
      expect(s.optimizerSteps).toBe(1);
      expect(Array.from(a.m.pack().data)).toEqual(Array.from(b.m.pack().data));
    }
  });

  it('M = 2: the second step of decoupled PPO uses π_prox from the start of the batch', () => {
    const loss: LossConfig = { ...NO_REG, correction: { kind: 'decoupled' } };
    const a = fresh(),
      b = fresh(),
      c = fresh();
    const rs = rollouts(8, a.m);
    const [s1, s2] = minibatchSlices(rs, 2);
    const s = gptRlStep(a.m, a.adam, rs, opts(loss, { minibatches: 2 }));
    expect(s.optimizerSteps).toBe(2);
    // By hand: both slices scored before any step, then two steps.
    const proxOf = (m: Gpt, x: TrainRollout[]) => {
      const p = padRollouts(x, PAD, CFG.contextLength, 0);
      return scoreSequences(m, p.tokens, p.B, p.T, PAD, 1).logprobs;
    };
    const p1 = proxOf(b.m, s1!),
      p2 = proxOf(b.m, s2!);
    handStep(b.m, b.adam, s1!, loss, p1);
    handStep(b.m, b.adam, s2!, loss, p2);
    expect(Array.from(a.m.pack().data)).toEqual(Array.from(b.m.pack().data));
    // Re-scoring π_prox after the first step (the wrong rule) gives other weights.
    handStep(c.m, c.adam, s1!, loss, proxOf(c.m, s1!));
    handStep(c.m, c.adam, s2!, loss, proxOf(c.m, s2!));
    expect(Array.from(c.m.pack().data)).not.toEqual(Array.from(a.m.pack().data));
  });

  it('with M = 2, none, tis and decoupled train to different weights', () => {
    const run = (correction: LossConfig['correction'], M: number) => {
      const f = fresh();
      gptRlStep(f.m, f.adam, rollouts(8, f.m), opts({ ...NO_REG, correction }, { minibatches: M }));
      return Array.from(f.m.pack().data);
    };
    const none = run({ kind: 'none' }, 2),
      tis = run({ kind: 'tis', c: 2 }, 2),
      dec = run({ kind: 'decoupled' }, 2);
    expect(tis).not.toEqual(dec);
    expect(none).not.toEqual(dec);
    expect(none).not.toEqual(tis);
  });

  it('epochs repeat the slices: M = 2, E = 2 takes four steps', () => {
    const f = fresh();
    const s = gptRlStep(f.m, f.adam, rollouts(8, f.m), opts(NO_REG, { minibatches: 2, epochs: 2 }));
    expect(s.optimizerSteps).toBe(4);
    expect(f.adam.step).toBe(4);
  });
});
