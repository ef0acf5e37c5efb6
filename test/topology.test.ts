/**
 * The topology's learning side (core/topology.ts stepLearning) on planted event sequences, no
 * threads and no clock: each event's effects against hand-computed ones. The same step function is
 * what both clocks interpret (sim/learning.ts, runtime/roles/learner.ts and verifiers.ts); the
 * virtual clock's replay bytes and the parity tests hold them to it.
 */
import { describe, expect, it } from 'vitest';
import { stepLearning, type LearnEffect } from '../src/core/topology.js';
import { DISPOSITION_CODE } from '../src/core/staleness.js';
import { learningAt, type PlantedGroup } from './helpers/topology.js';

const { trained: T, 'dropped-stale': S, 'dropped-invalid': I, 'dropped-filtered': F } = DISPOSITION_CODE;

/** The effects without the groups' payloads: what a reader compares. */
function plain(effects: LearnEffect<PlantedGroup>[]): unknown[] {
  return effects.map((e) =>
    e.type === 'train'
      ? {
          type: 'train',
          step: e.batch.step,
          groups: e.batch.groups.map((g) => [g.slot, g.codes, g.lag]),
          tokens: e.batch.tokens,
          lagMax: e.batch.lagMax,
        }
      : e,
  );
}

describe('core/topology stepLearning', () => {
  it('a step forms once its groups are all here, in slot order, each rollout disposed at its lag (η = 1)', () => {
    const c = learningAt({ eta: 1, groupsPerStep: 2 }, 1);
    // step 2 at learner version 1: slot 1 from v0 (lag 1), slot 0 from v1 (lag 0), one invalid rollout
    expect(stepLearning(c, { type: 'learnerWaiting' })).toEqual([]);
    const s1: PlantedGroup = { slot: 1, rewards: [1, 0], oldest: 0, lengths: [4, 6] };
    expect(stepLearning(c, { type: 'scored', step: 2, group: s1 })).toEqual([]);
    expect(stepLearning(c, { type: 'learnerWaiting' })).toEqual([]);
    const s0: PlantedGroup = { slot: 0, rewards: [0, 1], oldest: 1, lengths: [5, 0], invalid: [false, false] };
    expect(stepLearning(c, { type: 'scored', step: 2, group: s0 })).toEqual([{ type: 'stepComplete', step: 2 }]);
    expect(plain(stepLearning(c, { type: 'learnerWaiting' }))).toEqual([
      {
        type: 'train',
        step: 2,
        // slot 0: the second rollout has no completion tokens (dropped-invalid); slot 1 lag 1
        groups: [
          [0, [T, I], 0],
          [1, [T, T], 1],
        ],
        tokens: 5 + 4 + 6,
        lagMax: 1,
      },
      { type: 'pump' },
    ]);
    expect(c.queue.size).toBe(0);
  });

  it('a rollout past the bound fails the run naming it; the drop correction drops it instead', () => {
    const c = learningAt({ eta: 1, groupsPerStep: 1 }, 3);
    stepLearning(c, { type: 'scored', step: 4, group: { slot: 0, rewards: [1, 0], oldest: 1 } });
    expect(stepLearning(c, { type: 'learnerWaiting' })).toEqual([
      { type: 'fail', message: expect.stringMatching(/rollout 4\/0\/0 has staleness 2.*bound 1/) },
    ]);
    const d = learningAt({ eta: 2, groupsPerStep: 1, correction: { kind: 'drop', maxLag: 1 } }, 3);
    stepLearning(d, { type: 'scored', step: 4, group: { slot: 0, rewards: [1, 0], oldest: 1 } });
    expect(plain(stepLearning(d, { type: 'learnerWaiting' }))[0]).toMatchObject({
      groups: [[0, [S, S], 2]],
      tokens: 0,
    });
  });

  it('a filtered group is owed its backfill at slot + P until its rounds are used; its step waits for the chain', () => {
    const ds = { backfillRounds: 1, metric: 'reward' as const };
    const c = learningAt({ groupsPerStep: 2, dynamicSampling: ds }, 0);
    // slot 1 all-equal rewards: filtered, replaced by slot 3 (round 1)
    expect(stepLearning(c, { type: 'scored', step: 1, group: { slot: 1, rewards: [1, 1], oldest: 0 } })).toEqual([
      { type: 'backfill', step: 1, slot: 3 },
    ]);
    expect(stepLearning(c, { type: 'scored', step: 1, group: { slot: 0, rewards: [1, 0], oldest: 0 } })).toEqual([]);
    // slot 3 filtered too: no round left, so the chain ends on it and the step is complete
    expect(stepLearning(c, { type: 'scored', step: 1, group: { slot: 3, rewards: [0, 0], oldest: 0 } })).toEqual([
      { type: 'stepComplete', step: 1 },
    ]);
    expect(plain(stepLearning(c, { type: 'learnerWaiting' }))[0]).toMatchObject({
      groups: [
        [0, [T, T], 0],
        [1, [F, F], 0],
        [3, [F, F], 0],
      ],
    });
  });

  it('a group queued twice, and an injected break of batch forming, fail the run', () => {
    const c = learningAt({ groupsPerStep: 1, brokenSteps: [1] }, 0);
    const g = { slot: 0, rewards: [1, 0], oldest: 0 };
    stepLearning(c, { type: 'scored', step: 1, group: g });
    expect(stepLearning(c, { type: 'scored', step: 1, group: g })).toEqual([
      { type: 'fail', message: 'group 1/0 queued twice' },
    ]);
    expect(stepLearning(c, { type: 'learnerWaiting' })).toEqual([
      { type: 'fail', message: expect.stringMatching(/batch forming of step 1/) },
    ]);
  });

  it('an update folds its step out of the ledger, moves the version and totals, then the row and the publication', () => {
    const c = learningAt({ groupsPerStep: 1, eta: 0 }, 0);
    c.ledger.generated(1, 0, 0, 2);
    stepLearning(c, { type: 'scored', step: 1, group: { slot: 0, rewards: [1, 0], oldest: 0, lengths: [3, 4] } });
    const train = stepLearning(c, { type: 'learnerWaiting' })[0]!;
    if (train.type !== 'train') throw new Error('no batch');
    const batch = {
      step: 1,
      groups: train.batch.groups,
      lagMax: train.batch.lagMax,
      tokens: train.batch.tokens,
      filter: train.batch.figures.filter,
    };
    expect(stepLearning(c, { type: 'updated', batch, version: 1, updateRollouts: 2 })).toEqual([
      { type: 'row', step: 1 },
      { type: 'publish', version: 1 },
    ]);
    expect(c.state).toMatchObject({ learnerVersion: 1, published: 0, tokensTrained: 7, learnerTrained: 2 });
    expect(c.ledger.counts()).toMatchObject({ generated: 2, trained: 2, pending: 0 });
    // the same step again: its rollouts are already settled; a learner that skips a version
    const again = learningAt({ groupsPerStep: 1, eta: 0 }, 0);
    again.ledger.generated(1, 0, 0, 2);
    expect(stepLearning(again, { type: 'updated', batch, version: 2, updateRollouts: 2 })).toEqual([
      { type: 'fail', message: 'version 2 published after 0' },
    ]);
    // a learner that counts fewer rollouts than the batch trained
    const under = learningAt({ groupsPerStep: 1, eta: 0 }, 0);
    under.ledger.generated(1, 0, 0, 2);
    expect(stepLearning(under, { type: 'updated', batch, version: 1, updateRollouts: 1 })[0]).toMatchObject({
      type: 'fail',
    });
  });

  it('a publication: evaluation when due, the curriculum, the step done with its checkpoint, the learner free', () => {
    const c = learningAt({ maxSteps: 4, checkpointEvery: 2, eval: { every: 3 } }, 0);
    const at = (v: number) => stepLearning(c, { type: 'published', version: v, passRate: v / 10 });
    expect(at(1)).toEqual([
      { type: 'curriculum', version: 1, passRate: 0.1 },
      { type: 'stepDone', version: 1, checkpoint: false, last: false },
      { type: 'learnerFree' },
      { type: 'pump' },
    ]);
    expect(at(2)[1]).toEqual({ type: 'stepDone', version: 2, checkpoint: true, last: false });
    expect(at(3)[0]).toEqual({ type: 'evaluate', version: 3 });
    // the last step: evaluated, done, and nothing handed out after it
    expect(at(4)).toEqual([
      { type: 'evaluate', version: 4 },
      { type: 'curriculum', version: 4, passRate: 0.4 },
      { type: 'stepDone', version: 4, checkpoint: true, last: true },
    ]);
    expect(c.state.published).toBe(4);
    // a clock that takes no periodic checkpoints (the virtual clock without a run directory)
    const none = learningAt({ maxSteps: 4, checkpointEvery: null }, 0);
    expect(stepLearning(none, { type: 'published', version: 2, passRate: 0 })[1]).toMatchObject({ checkpoint: false });
  });

  it('the learner past the last step takes nothing', () => {
    const c = learningAt({ groupsPerStep: 1, maxSteps: 1 }, 1);
    stepLearning(c, { type: 'scored', step: 2, group: { slot: 0, rewards: [1, 0], oldest: 1 } });
    expect(stepLearning(c, { type: 'learnerWaiting' })).toEqual([]);
  });
});
