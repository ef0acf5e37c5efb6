import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/tensor/backend.js';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  runPk,
  PK_PRESETS,
  PK_DEFAULTS,
  parseAdvantage,
  type PkInspect,
  type PkLogRow,
} from '../src/experiments/pk.js';
import { BigramPolicy } from '../src/policy/bigram/bigram.js';
import { resolvePkSettings } from '../src/cli/commands/pk.js';
import { E3SIM } from './helpers/bin.js';

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

describe('the p^k experiment under staleness (issue #31)', () => {
  const KEYS = [
    'step',
    'episodes',
    'meanLength',
    'reward',
    'pStop',
    'entropy',
    'pAnswer',
    'expectedLength',
    'expectedReward',
    'updates',
  ] as const;
  const digest = (log: PkLogRow[]) =>
    createHash('sha256')
      .update(JSON.stringify(log.map((l) => KEYS.map((k) => l[k]))))
      .digest('hex');

  it('--staleness 0 is the on-policy run bit for bit (the log of the code before issue #31)', () => {
    // digests of runPk before the change (commit 8ea725e), paper-fig7, 1500 iterations, seed 4
    const before = {
      keep: '1ae72be2b29f58581a772a7e05fb08828226942e1a8bac5b3d3503a419c09f0e',
      mask: '5e653ca50a9f356959043dc26d0a5e3cd4c56dd12a8235f32f08790f4cc9fb36',
    };
    for (const negatives of ['keep', 'mask'] as const) {
      const r = runPk({ ...PK_PRESETS['paper-fig7'], steps: 1500, logEvery: 50, negatives, seed: 4, staleness: 0 });
      expect(digest(r.log), negatives).toBe(before[negatives]);
      expect(r.log.every((l) => l.logRatioAbsMean === 0 && l.essFraction === 1)).toBe(true);
    }
  });

  it('a lagged run samples from the table of η iterations ago, and its behaviour log-probs are that table’s exactly', () => {
    const eta = 3;
    const o = { ...PK_PRESETS['paper-fig7'], actions: 20, budget: 20, steps: 40, logEvery: 10, seed: 2 };
    const seen: PkInspect[] = [];
    const r = runPk({ ...o, negatives: 'keep', staleness: eta, correction: 'topr' }, undefined, (x) => seen.push(x));
    expect(seen.map((x) => x.behaviourVersion)).toEqual(seen.map((x) => Math.max(0, x.step - 1 - eta)));
    const env = { tokens: o.actions, answer: 0, budget: o.budget };
    let differs = 0;
    for (const x of seen) {
      const table = seen[x.behaviourVersion]!.values; // the trained policy's table at that version
      const lagged = BigramPolicy.fromValues(env, table);
      const { prev, next } = BigramPolicy.transitions(x.episodes);
      expect(Array.from(x.behaviour)).toEqual(Array.from(lagged.hostLogprobs(prev, next)));
      if (x.behaviourVersion < x.version && table.some((v, i) => v !== x.values[i])) differs++;
    }
    expect(differs).toBeGreaterThan(30); // the lag is real: the sampling table is not the trained one
    // every correction runs at every η, on-policy included (decoupled needs π_prox there too)
    for (const correction of ['none', 'tis', 'decoupled', 'topr', 'asym-clip'] as const)
      for (const staleness of [0, 2])
        expect(() => runPk({ ...o, steps: 6, negatives: 'keep', staleness, correction })).not.toThrow();
    expect(r.summary.staleness).toBe(eta);
    expect(r.summary.correction).toBe('topr');
    expect(r.log.some((l) => l.logRatioAbsMean > 0 && l.essFraction < 1)).toBe(true);
  });

  it('bad values exit 2 naming the flag', () => {
    const bin = (args: string[]) =>
      spawnSync(process.execPath, [E3SIM, 'pk', '--steps', '10', ...args], {
        encoding: 'utf8',
        timeout: 60_000,
      });
    const neg = bin(['--staleness', '-1']);
    expect(neg.status).toBe(2);
    expect(neg.stderr).toMatch(/--staleness: expected whole numbers 0…1000 separated by commas/);
    const huge = bin(['--staleness', '0,5000']);
    expect(huge.status).toBe(2);
    const bad = bin(['--correction', 'clip']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(
      /--correction: expected one of none \| tis \| decoupled \| topr \| asym-clip, got 'clip'/,
    );
  });
});
