/**
 * The topology's learning side (core/topology.ts stepLearning) on planted event sequences, no
 * threads and no clock: each event's effects against hand-computed ones. The same step function is
 * what both clocks interpret (sim/learning.ts, runtime/roles/learner.ts and verifiers.ts); the
 * virtual clock's replay bytes and the parity tests hold them to it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  learnerNext,
  stepLearning,
  stepSampling,
  wholeGroup,
  type LearnContext,
  type LearnEffect,
  type LearnEvent,
  type SampleContext,
  type SampleEffect,
} from '../src/core/topology.js';
import type { ScoredGroup } from '../src/runtime/messages.js';
import { TrainingRun } from '../src/runtime/run.js';
import { SimEngine } from '../src/sim/engine.js';
import type { ScoredEntry } from '../src/sim/state.js';
import { topologyOf } from '../src/runtime/roles/planning.js';
import { SurrogateCompute, SurrogateSchema } from '../src/sim/compute.js';
import { superviseFailure } from '../src/steps/restarts.js';
import { makeSupervisor } from '../src/runtime/roles/supervisor.js';
import { TransitionLog } from '../src/trace/transitions.js';
import { fixedProfile, freshDir, simConfig } from './helpers/sim.js';
import type { TrainConfig } from '../src/runtime/config.js';
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
  it("the learner's gate (learnerNext, both clocks): not waiting, a held batch again, the next step whole or not", () => {
    const c = learningAt({ eta: 1, groupsPerStep: 1, groupSize: 1 }, 1);
    const gate = (waiting: boolean, holdsBatch: boolean) => learnerNext(c, { waiting, holdsBatch });
    expect(gate(true, false)).toBeNull(); // step 2 has no group yet
    expect(gate(true, true)).toBe('again'); // a failed step's batch goes first, whatever is queued
    expect(
      stepLearning(c, { type: 'scored', step: 2, group: { slot: 0, rewards: [1], oldest: 1, lengths: [3] } }),
    ).toEqual([{ type: 'stepComplete', step: 2 }]);
    expect(gate(false, false)).toBeNull(); // training, publishing, paused: nothing, whatever is here
    expect(gate(false, true)).toBeNull();
    expect(gate(true, false)).toBe('form');
    expect(plain(stepLearning(c, { type: 'learnerWaiting' }))[0]).toMatchObject({ type: 'train', step: 2 });
    expect(gate(true, false)).toBeNull(); // step 3: nothing queued
    // past the run's last step, nothing forms
    const end = learningAt({ eta: 1, groupsPerStep: 1, maxSteps: 2, groupSize: 1 }, 2);
    stepLearning(end, { type: 'scored', step: 3, group: { slot: 0, rewards: [1], oldest: 2, lengths: [3] } });
    expect(end.queue.complete(3)).toBe(true);
    expect(learnerNext(end, { waiting: true, holdsBatch: false })).toBeNull();
  });

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
    expect(c.state.formedThrough).toBe(0);
    const train = stepLearning(c, { type: 'learnerWaiting' })[0]!;
    if (train.type !== 'train') throw new Error('no batch');
    expect(c.state.formedThrough).toBe(1); // formed: its groups no longer count against the planner's bound
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

/**
 * The real clock's run and the virtual clock's engine, built from one config without starting
 * anything (no threads, no events): their contexts are what the steps read. `withDir`: the virtual
 * clock writes a run directory (so it takes periodic checkpoints).
 */
function bothClocks(config: TrainConfig, maxSteps: number, withDir: boolean) {
  const run = new TrainingRun({
    config,
    out: freshDir('real'),
    resume: false,
    command: 'test',
    versions: {},
    now: () => 0,
  });
  const sim = new SimEngine({
    config,
    profile: fixedProfile(1, 1),
    compute: new SurrogateCompute(SurrogateSchema.parse({ lengthMedian: 10, lengthSigma: 0 }), 0, 1),
    faults: [],
    maxSteps,
    dir: withDir ? freshDir('virtual') : null,
    transitions: false,
    maxEvents: 1000,
  });
  return { run, sim };
}

describe('both clocks drive the same step', () => {
  /** A group as the real clock holds it (a ScoredGroup message): samples of `lengths` tokens from version `oldest`. */
  function message(step: number, g: PlantedGroup): ScoredGroup {
    return {
      type: 'ScoredGroup',
      step,
      problemId: `${g.slot}:p${g.slot}`,
      rollouts: g.rewards.map((_, i) => ({
        id: `${step}/${g.slot}/${i}`,
        problemId: `${g.slot}:p${g.slot}`,
        sampleIndex: i,
        prompt: [1],
        completion: new Array<number>(g.lengths![i]!).fill(5),
        behaviourLogprobs: new Array<number>(g.lengths![i]!).fill(-1),
        versions: new Array<number>(g.lengths![i]!).fill(g.oldest),
        stop: 'eos' as const,
      })),
      verdicts: g.rewards.map((r) => ({ correct: r > 0, reason: 'ok', attempts: 1, selfChecks: 0 })),
      rewards: g.rewards,
      advantages: g.rewards.map((r) => r - 0.5),
      invalid: g.rewards.map(() => false),
    };
  }
  /** The same group as the virtual clock holds it (sim/learning.ts ScoredEntry). */
  function entry(g: PlantedGroup): ScoredEntry {
    return {
      slot: g.slot,
      group: { slot: g.slot, lengths: g.lengths!, minVersion: g.oldest },
      scored: { rewards: g.rewards, invalid: g.rewards.map(() => false), correct: g.rewards.map((r) => r > 0) },
    };
  }
  /** Effects as a reader compares them across the clocks' group forms. */
  function comparable(effects: LearnEffect<unknown>[]): unknown[] {
    return effects.map((e) =>
      e.type === 'train'
        ? { ...e.batch, groups: e.batch.groups.map(({ slot, codes, lag }) => ({ slot, codes, lag })) }
        : e,
    );
  }

  it('the real clock (TrainingRun) and the virtual clock (SimEngine), built from one config, answer one planted sequence alike', () => {
    const config = simConfig({
      rollout: { problemsPerStep: 2, groupSize: 2, temperature: 1, dynamicSampling: { backfillRounds: 1 } },
      staleness: { policy: 'async', eta: 2 },
      learner: { lr: 1e-4, correction: { kind: 'drop', maxLag: 1 } },
      curriculum: { stages: [{ difficulty: 3, budgetTokens: 32, steps: 3 }] },
    });
    const { run, sim } = bothClocks(config, 3, true);
    const real = topologyOf(run);
    const virtual = sim.topology;
    expect(virtual.rules).toEqual(real.rules);
    // from version 0: slot 1 of step 1 filtered (backfilled at slot 3); step 3 at learner version 2
    // holds a group from version 0 (lag 2 ≤ η, past the drop correction's maxLag 1)
    const steps: [number, PlantedGroup[]][] = [
      [
        1,
        [
          { slot: 1, rewards: [1, 1], oldest: 0, lengths: [4, 2] },
          { slot: 0, rewards: [1, 0], oldest: 0, lengths: [3, 5] },
          { slot: 3, rewards: [0, 1], oldest: 0, lengths: [6, 1] },
        ],
      ],
      [
        2,
        [
          { slot: 0, rewards: [0, 1], oldest: 0, lengths: [2, 2] },
          { slot: 1, rewards: [1, 0], oldest: 1, lengths: [7, 3] },
        ],
      ],
      [
        3,
        [
          { slot: 1, rewards: [1, 0], oldest: 2, lengths: [2, 4] },
          { slot: 0, rewards: [0, 1], oldest: 0, lengths: [5, 5] },
        ],
      ],
    ];
    const answers: Record<'real' | 'virtual', unknown[][]> = { real: [], virtual: [] };
    for (const [clock, c, form] of [
      ['real', real, (k: number, g: PlantedGroup) => message(k, g)],
      ['virtual', virtual, (_: number, g: PlantedGroup) => entry(g)],
    ] as const) {
      const step = (ev: LearnEvent<unknown>) => {
        const effects = stepLearning(c as LearnContext<unknown>, ev);
        answers[clock].push(comparable(effects));
        return effects;
      };
      for (const [k, groups] of steps) {
        for (const g of groups) {
          c.ledger.generated(k, g.slot, 0, g.rewards.length);
          step({ type: 'scored', step: k, group: form(k, g) });
        }
        const train = step({ type: 'learnerWaiting' }).find((e) => e.type === 'train');
        if (train?.type !== 'train') throw new Error(`${clock}: step ${k} did not form`);
        const b = train.batch;
        const update = { step: k, groups: b.groups, lagMax: b.lagMax, tokens: b.tokens, filter: b.figures.filter };
        const trained = b.groups.flatMap((g) => g.codes).filter((x) => x === T).length;
        step({ type: 'updated', batch: update, version: k, updateRollouts: trained });
        step({ type: 'published', version: k, passRate: b.figures.passRate });
      }
    }
    expect(answers.virtual).toEqual(answers.real);
    // and the answers are the hand-computed ones: step 1's backfill, its filtered slot; step 3's stale group dropped
    const batches = answers.real.flat().filter((e) => 'groups' in (e as object)) as {
      groups: unknown[];
      tokens: number;
    }[];
    expect(answers.real[0]).toEqual([{ type: 'backfill', step: 1, slot: 3 }]);
    expect(batches.map((b) => b.groups)).toEqual([
      [
        { slot: 0, codes: [T, T], lag: 0 },
        { slot: 1, codes: [F, F], lag: 0 },
        { slot: 3, codes: [T, T], lag: 0 },
      ],
      [
        { slot: 0, codes: [T, T], lag: 1 },
        { slot: 1, codes: [T, T], lag: 0 },
      ],
      [
        { slot: 0, codes: [S, S], lag: 2 },
        { slot: 1, codes: [T, T], lag: 0 },
      ],
    ]);
    expect(batches.map((b) => b.tokens)).toEqual([3 + 5 + 6 + 1, 2 + 2 + 7 + 3, 2 + 4]);
    expect(answers.real.at(-1)).toEqual([
      { type: 'curriculum', version: 3, passRate: 0.5 },
      { type: 'stepDone', version: 3, checkpoint: false, last: true },
    ]);
    for (const state of [run.topo, sim.s.topo]) {
      expect(state.learnerVersion).toBe(3);
      expect(state.formedThrough).toBe(3);
      expect(state.tokensTrained).toBe(15 + 14 + 6);
      expect(state.stalenessMax).toBe(1);
    }
    expect(run.ledger.counts()).toEqual(sim.ledger.counts());
  });
});

describe('core/topology stepSampling', () => {
  /** A sampling side over planted requests: each step one request per problem slot, admission from `view`. */
  function samplingAt(published: number, eta: number) {
    const view = { lastStep: 10, publishedVersion: published, formedThrough: published };
    const planned: number[] = [];
    const c: SampleContext<{ step: number; slot: number }> = {
      state: { nextStep: published + 1, planned: [], reissue: [] },
      rules: { eta, groupsPerStep: 2, capacityGroups: 8 },
      view: () => view,
      plan: (k) => {
        planned.push(k);
        return [
          { step: k, slot: 0 },
          { step: k, slot: 1 },
        ];
      },
      ledger: learningAt({ groupsPerStep: 2 }, published).ledger,
    };
    return { c, view, planned };
  }
  const requests = (effects: SampleEffect<{ step: number; slot: number }>[]) =>
    effects.map((e) => (e.type === 'generate' ? `${e.request.step}/${e.request.slot}` : e.type));

  it('idle samplers get requests while admission allows: η = 1 plans steps 1 and 2 at version 0, not 3', () => {
    const { c, view, planned } = samplingAt(0, 1);
    expect(requests(stepSampling(c, { type: 'samplersIdle', count: 3 }))).toEqual(['1/0', '1/1', '2/0']);
    expect(requests(stepSampling(c, { type: 'samplersIdle', count: 3 }))).toEqual(['2/1']);
    expect(planned).toEqual([1, 2]);
    expect(stepSampling(c, { type: 'samplersIdle', count: 2 })).toEqual([]);
    // version 1 published (and step 1 formed): step 3 is admitted
    view.publishedVersion = 1;
    view.formedThrough = 1;
    expect(requests(stepSampling(c, { type: 'samplersIdle', count: 1 }))).toEqual(['3/0']);
    // work given back goes first (core/admission reissue, in step order)
    c.state.reissue.push({ step: 2, slot: 1 });
    expect(requests(stepSampling(c, { type: 'samplersIdle', count: 2 }))).toEqual(['2/1', '3/1']);
    expect(stepSampling(c, { type: 'samplersIdle', count: 0 })).toEqual([]);
  });

  it('a delivery is written into the ledger once and goes to verification; a rollout delivered twice fails the run', () => {
    const { c } = samplingAt(1, 1);
    expect(stepSampling(c, { type: 'delivered', step: 2, slot: 1, samples: wholeGroup(2) })).toEqual([
      { type: 'verify', step: 2, slot: 1 },
    ]);
    expect(c.ledger.counts()).toMatchObject({ generated: 2, pending: 2 });
    expect(stepSampling(c, { type: 'delivered', step: 2, slot: 1, samples: [1] })).toEqual([
      { type: 'fail', message: 'rollout 2/1/1 generated twice' },
    ]);
  });
});

describe('both clocks plan alike', () => {
  it('the real clock and the virtual clock, built from one config, hand idle samplers the same requests as versions come out', () => {
    const config = simConfig({
      rollout: { problemsPerStep: 4, groupSize: 2, temperature: 1, problemsPerRequest: 3 },
      staleness: { policy: 'async', eta: 1 },
      topology: { samplers: 4, verifierThreads: 1 },
      limits: { queueGroupsMax: 8 },
      curriculum: { stages: [{ difficulty: 3, budgetTokens: 32, steps: 5 }] },
    });
    const { run, sim } = bothClocks(config, 5, false);
    const real = () =>
      stepSampling(topologyOf(run), { type: 'samplersIdle', count: 10 }).map((e) =>
        e.type === 'generate'
          ? `${e.request.step}:${e.request.problems.map((p) => p.id.split(':')[0]).join(',')}`
          : e.type,
      );
    const virtual = () =>
      stepSampling(sim.topology, { type: 'samplersIdle', count: 10 }).map((e) =>
        e.type === 'generate' ? `${e.request.step}:${e.request.slots.join(',')}` : e.type,
      );
    // version 0, η = 1: steps 1 and 2 (8 groups, the queue's bound), each cut into requests of 3 and 1
    const first = ['1:0,1,2', '1:3', '2:0,1,2', '2:3'];
    expect(real()).toEqual(first);
    expect(virtual()).toEqual(first);
    expect(real()).toEqual([]);
    expect(virtual()).toEqual([]);
    // version 1 published and step 1 formed: step 3
    run.topo.learnerVersion = 1;
    run.topo.published = 1;
    run.topo.formedThrough = 1;
    sim.s.topo.published = 1;
    sim.s.topo.learnerVersion = 1;
    sim.s.topo.formedThrough = 1;
    expect(real()).toEqual(['3:0,1,2', '3:3']);
    expect(virtual()).toEqual(['3:0,1,2', '3:3']);
  });
});

describe('both clocks supervise alike', () => {
  it('one planted sequence of failures: the real clock’s supervisor actor and the virtual clock’s machine stepped as data restart and give up alike', () => {
    const config = simConfig({ limits: { restartsMax: 2 }, topology: { samplers: 1, verifierThreads: 2 } });
    const { run } = bothClocks(config, 3, false);
    const real: string[] = [];
    run.log = (s) => void real.push(s.split(' (')[0]!); // "verifier-0 failed (why); restarting"
    run.abort = (m) => void real.push(`abort: ${m}`);
    const log = path.join(freshDir('transitions'), 'transitions.jsonl');
    run.transitions = new TransitionLog(log, () => 0);
    const supervisor = makeSupervisor(run).start();
    const virtual: string[] = [];
    const counts: Record<string, number> = {}; // the virtual clock's dense counts (sim/state.ts: one per actor)
    const failures = ['verifier-0', 'verifier-1', 'verifier-0', 'verifier-1', 'verifier-0'];
    for (const [n, actor] of failures.entries()) {
      const error = `error ${n}`;
      supervisor.send({ type: 'FAILED', actor, role: 'verifier', error });
      const d = superviseFailure({ actor, role: 'verifier', error }, counts[actor] ?? 0, 2);
      if ('giveUp' in d) virtual.push(`abort: ${d.giveUp}`);
      else {
        counts[actor] = d.restarts;
        virtual.push(`${actor} failed`);
      }
    }
    // hand-computed: two restarts each within limits.restartsMax = 2, the third failure of verifier-0 ends the run
    const want = [
      'verifier-0 failed',
      'verifier-1 failed',
      'verifier-0 failed',
      'verifier-1 failed',
      'abort: verifier-0 failed 3 times, over limits.restartsMax = 2; last error: error 4',
    ];
    expect(real).toEqual(want);
    expect(virtual).toEqual(want);
    expect(supervisor.getSnapshot().context.restarts).toEqual(counts);
    expect(supervisor.getSnapshot().value).toBe('gaveUp');
    run.transitions.close();
    const lines = fs
      .readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => `${l.from}→${l.to} on ${l.event}`)).toEqual([
      'null→watching on xstate.init',
      'watching→gaveUp on FAILED',
    ]);
  });
});

import { afterRestart, intoFailure } from '../src/steps/restarts.js';

describe("a restarted actor's next move is its machine's (steps/restarts.ts, the virtual clock's restarts)", () => {
  it('a sampler takes work again, the learner takes a batch, a verifier retries while attempts last', () => {
    expect(afterRestart('sampler', { id: 'sampler-3' })).toEqual({
      state: 'idle',
      actions: expect.arrayContaining(['becameIdle']),
    });
    expect(afterRestart('learner', { id: 'learner' })).toEqual({
      state: 'waitingForBatch',
      actions: expect.arrayContaining(['ready']),
    });
    // limits.verifyAttemptsMax = 3: after the first and second failed attempts another one,
    // after the third the group goes on unverified
    expect(afterRestart('verifier', { id: 'verifier-0', attempts: 1, attemptsMax: 3 }).state).toBe('verifying');
    expect(afterRestart('verifier', { id: 'verifier-0', attempts: 2, attemptsMax: 3 }).state).toBe('verifying');
    expect(afterRestart('verifier', { id: 'verifier-0', attempts: 3, attemptsMax: 3 }).state).toBe('delivering');
  });
});

describe("a busy actor's way into a failure is its machine's (steps/restarts.ts, the virtual clock's crashes)", () => {
  it('failed and reported from each busy state; a sampler and the learner then restarting, a verifier waits in failed', () => {
    for (const state of ['syncingWeights', 'generating', 'delivering'])
      expect(intoFailure('sampler', state, 'sampler-0')).toEqual({ states: ['failed', 'restarting'], reported: true });
    for (const state of ['training', 'publishing'])
      expect(intoFailure('learner', state, 'learner')).toEqual({ states: ['failed', 'restarting'], reported: true });
    expect(intoFailure('verifier', 'verifying', 'verifier-0')).toEqual({ states: ['failed'], reported: true });
    expect(() => intoFailure('sampler', 'idle', 'sampler-0')).toThrow(/sampler: state 'idle' invokes nothing/);
  });
});
