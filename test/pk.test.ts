import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/tensor/backend.js';
import { runPk, PK_PRESETS, PK_DEFAULTS, parseAdvantage } from '../src/experiments/pk.js';
import { resolvePkSettings } from '../src/cli/commands/pk.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('p^k presets', () => {
  it('name the two combinations of settings; the default is paper-fig7; a flag overrides its preset only', () => {
    expect(PK_DEFAULTS).toMatchObject({
      actions: 200,
      groupSize: 1,
      advantage: { kind: 'baseline', baseline: 0.5 },
      optimizer: 'adam',
      lr: 0.01,
      lengthFrom: 'second',
      budget: 100,
    });
    expect(PK_PRESETS['paper-text']).toMatchObject({
      actions: 100,
      groupSize: 64,
      advantage: { kind: 'group' },
      optimizer: 'sgd',
      lr: 0.01,
      reduce: 'sum',
      lengthFrom: 'first',
    });
    const r = resolvePkSettings({
      preset: 'paper-text',
      optimizer: 'adam',
      advantage: 'baseline:0.25',
      actions: '200',
    });
    expect(r.preset).toBe('paper-text');
    expect(r.settings).toMatchObject({
      ...PK_PRESETS['paper-text'],
      optimizer: 'adam',
      advantage: { kind: 'baseline', baseline: 0.25 },
      actions: 200,
      init: {},
    });
    expect(resolvePkSettings({ preset: 'paper-fig7', initRange: '4' }).settings.init).toEqual({ range: 4 });
    expect(parseAdvantage('baseline')).toEqual({ kind: 'baseline', baseline: 0.5 });
    expect(parseAdvantage('baseline:mean')).toEqual({ kind: 'baseline', baseline: 'mean' });
    expect(parseAdvantage('baseline:-1e-2')).toEqual({ kind: 'baseline', baseline: -0.01 });
    for (const bad of ['baseline:', 'baseline:0x10', 'baseline:1e9', 'groups', ''])
      expect(parseAdvantage(bad)).toBeNull();
    expect(() => runPk({ ...PK_PRESETS['paper-text'], groupSize: 1, negatives: 'keep', seed: 0 })).toThrow(
      /group: 1 trajectory/,
    );
  });
});

describe('the p^k experiment, paper-fig7: the mechanism', () => {
  // 800 iterations of one trajectory each: long before any transition (the full runs are in
  // docs/PK.md). Every failure gets A = −0.5, so GRPO moves p(stop) with no success in sight;
  // GRPOMask moves only on a hit, which at p(a*) ≈ 3e-5 per action almost never comes.
  const opts = { ...PK_PRESETS['paper-fig7'], steps: 800, logEvery: 100, seed: 0 };

  it('GRPO lowers p(stop) and lengthens traces at zero reward; GRPOMask stays within 2%', () => {
    const tensors = tf.memory().numTensors;
    const keep = runPk({ ...opts, negatives: 'keep' });
    const mask = runPk({ ...opts, negatives: 'mask' });
    expect(tf.memory().numTensors).toBe(tensors); // no tensor left behind by 800 loss evaluations
    const reward = (r: typeof keep) => r.log.reduce((a, b) => a + b.reward, 0) / r.log.length;
    // (seed 0: keep p(stop) 0.0761 → 0.0298, mean length 13 → 25, 1 hit in 800; mask: no hit)
    expect(reward(keep)).toBeLessThan(0.01);
    expect(reward(mask)).toBeLessThan(0.01);
    expect(keep.summary.pStopEnd / keep.summary.pStopStart).toBeLessThan(0.6);
    expect(keep.summary.lengthEnd / keep.summary.lengthStart).toBeGreaterThan(1.5);
    expect(keep.summary.entropyEnd).toBeGreaterThan(keep.summary.entropyStart);
    expect(Math.abs(mask.summary.pStopEnd / mask.summary.pStopStart - 1)).toBeLessThan(0.02);
    expect(Math.abs(mask.summary.entropyEnd / mask.summary.entropyStart - 1)).toBeLessThan(0.02);
    // the start matches Fig 7's: p(stop) ≈ 0.078 and H ≈ 4.41 nats with 200 actions
    expect(keep.summary.pStopStart).toBeGreaterThan(0.07);
    expect(keep.summary.pStopStart).toBeLessThan(0.085);
    expect(keep.summary.entropyStart).toBeCloseTo(4.41, 1);
    expect(keep.summary.negativeStepsEntropyUpFraction).toBeNull(); // Adam: no update is a negative gradient's alone
    // the exact expectation agrees with the sampled windows at the start (100 episodes: SE ≈ 1.3)
    expect(Math.abs(keep.summary.expectedLengthStart - keep.summary.lengthStart)).toBeLessThan(4);
    expect(mask.summary.expectedLengthMaxChange).toBeLessThan(0.02);
  });
});

describe('the p^k experiment, paper-text', () => {
  // A short run with 3x the stated step size: long enough for the negative gradient to move
  // p(stop), short of the phase transition (reward stays ≈ 0).
  const opts = { ...PK_PRESETS['paper-text'], steps: 16_000, lr: 0.03, logEvery: 2000, seed: 0 };

  it('lengthens traces with negative gradients (keep) and leaves them near flat with GRPOMask', () => {
    const keep = runPk({ ...opts, negatives: 'keep' }).summary;
    const mask = runPk({ ...opts, negatives: 'mask' }).summary;
    // keep: length up and p(stop) down, clearly more than mask
    expect(keep.lengthEnd / keep.lengthStart).toBeGreaterThan(1.15);
    expect(keep.pStopEnd / keep.pStopStart).toBeLessThan(0.85);
    expect(keep.entropyEnd).toBeGreaterThan(keep.entropyStart);
    expect(keep.lengthEnd / keep.lengthStart - 1).toBeGreaterThan(2 * (mask.lengthEnd / mask.lengthStart - 1));
    // mask: within ±20% of the start
    expect(Math.abs(mask.lengthEnd / mask.lengthStart - 1)).toBeLessThan(0.2);
    expect(Math.abs(mask.pStopEnd / mask.pStopStart - 1)).toBeLessThan(0.2);
    expect(keep.rewardEnd).toBeLessThan(0.05);
    // the theorem's bound: negative-only updates raise the state's entropy at least as often as the argmax mass
    expect(keep.negativeStepsEntropyUpFraction!).toBeGreaterThanOrEqual(keep.negativeStepsArgmaxMass!);
    expect(mask.negativeUpdates).toBe(0);
  });

  it('is reproducible from the seed', () => {
    const a = runPk({ ...opts, steps: 2000, negatives: 'keep' });
    const b = runPk({ ...opts, steps: 2000, negatives: 'keep' });
    expect(b.log).toEqual(a.log);
    const c = runPk({ ...PK_PRESETS['paper-fig7'], steps: 300, logEvery: 100, seed: 3, negatives: 'keep' });
    const d = runPk({ ...PK_PRESETS['paper-fig7'], steps: 300, logEvery: 100, seed: 3, negatives: 'keep' });
    expect(d.log).toEqual(c.log);
  });
});
