import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/tensor/backend.js';
import { runPk, PK_DEFAULTS } from '../src/experiments/pk.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('the p^k experiment', () => {
  // A short run with 3x the default step size (the full runs are in docs/PK.md): long enough for
  // the negative gradient to move p(stop), short of the phase transition (reward stays ≈ 0).
  const opts = { ...PK_DEFAULTS, steps: 16_000, lr: 0.03, logEvery: 2000, seed: 0 };

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
  });
});
