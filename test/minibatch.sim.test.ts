/** learner.minibatches on the virtual clock: the same update function, M Adam steps a batch, and M = 1 unchanged. */
import { describe, expect, it } from 'vitest';
import { fixedProfile, simConfig, simRun } from './helpers/sim.js';

describe('several optimiser steps per batch on the virtual clock', () => {
  it('takes minibatches × epochs steps a batch and trains to other weights than one step', async () => {
    const steps = (m: string) =>
      m
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((l) => l.type === undefined)
        .map((l) => l.optimizerSteps);
    const one = await simRun(simConfig(), { profile: fixedProfile(1, 1), maxSteps: 2 });
    const two = await simRun(simConfig({ learner: { lr: 1e-4, minibatches: 2, epochs: 2 } }), {
      profile: fixedProfile(1, 1),
      maxSteps: 2,
    });
    expect(steps(one.metrics)).toEqual([1, 1]);
    expect(steps(two.metrics)).toEqual([4, 4]);
    expect(two.summary.weightsSha256).not.toBe(one.summary.weightsSha256);
  }, 120_000);
});
