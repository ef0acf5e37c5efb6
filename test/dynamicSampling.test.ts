/**
 * Dynamic sampling (DAPO; issue #19 item 4, core/dynamicSampling.ts): zero-advantage groups are
 * filtered and replaced by new problems in bounded rounds; a step's batch forms when every slot's
 * chain has ended, whatever order the groups arrived in; the accounting stays exact with backfill
 * on both clocks (generated = trained + dropped-stale + dropped-invalid + dropped-filtered), and a
 * resume requests the backfills its held filtered groups are owed.
 */
import { describe, expect, it } from 'vitest';
import { dispositionsOf } from './helpers/batch.js';
import {
  FilterTally,
  backfillSlot,
  endsChain,
  isFiltered,
  slotsPerStep,
  stepComplete,
  zeroAdvantage,
  type DynamicSampling,
} from '../src/core/dynamicSampling.js';
import { formBatch } from '../src/core/batch.js';
import { GroupQueue, StepQueue } from '../src/core/stepQueue.js';
import { Rng } from '../src/util/rng.js';
import { TrainedDigest } from '../src/core/metrics.js';
import { TrainingRun } from '../src/runtime/run.js';
import { requestsForStep } from '../src/runtime/roles/planning.js';
import { parseTrainConfig } from '../src/runtime/config.js';
import { SurrogateSchema } from '../src/sim/compute.js';
import type { ScoredGroup } from '../src/runtime/messages.js';
import { jitteryProfile, simConfig, simRun } from './helpers/sim.js';

const DS: DynamicSampling = { backfillRounds: 2, metric: 'reward' };

/**
 * A scored group of `rewards` at `slot` of `step` (one token per rollout, version 0); its verdicts
 * are `correct`, or reward > 0.
 */
function group(step: number, slot: number, rewards: number[], correct = rewards.map((r) => r > 0)): ScoredGroup {
  const problemId = `${slot}:p${slot}`;
  const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
  return {
    type: 'ScoredGroup',
    step,
    problemId,
    rollouts: rewards.map((_, i) => ({
      id: `${step}/${problemId}/${i}`,
      problemId,
      sampleIndex: i,
      prompt: [1],
      completion: [5, 5],
      behaviourLogprobs: [-1, -1],
      versions: [0, 0],
      stop: 'eos' as const,
    })),
    verdicts: correct.map((c) => ({ correct: c, reason: 'ok', attempts: 1, selfChecks: 0 })),
    rewards,
    advantages: rewards.map((r) => r - mean),
    invalid: rewards.map(() => false),
  };
}

describe('dynamic sampling: the rule', () => {
  it('chains each slot through its backfill rounds and stops at the last', () => {
    expect(slotsPerStep(4, undefined)).toBe(4);
    expect(slotsPerStep(4, DS)).toBe(12);
    expect(zeroAdvantage([1, 1, 1])).toBe(true);
    expect(zeroAdvantage([0, 0, 0.5])).toBe(false);
    // P = 4: slot 1 → 5 → 9 → none (two rounds)
    expect([1, 5, 9].map((s) => backfillSlot(s, 4, DS))).toEqual([5, 9, null]);
    expect(backfillSlot(1, 4, undefined)).toBeNull();
    expect(backfillSlot(1, 4, { ...DS, backfillRounds: 0 })).toBeNull(); // filter only
    expect(endsChain(1, false, 4, DS)).toBe(true); // kept
    expect(endsChain(1, true, 4, DS)).toBe(false); // replaced by slot 5
    expect(endsChain(9, true, 4, DS)).toBe(true); // rounds used: the slot trains nothing
  });

  it("the queue's running count of ended chains (StepQueue.complete) agrees with stepComplete after every arrival, and after a reload", () => {
    type G = { slot: number; rewards: number[] };
    const outcome = (g: G) => ({ rewards: g.rewards, correct: (i: number) => g.rewards[i]! > 0 });
    const rng = new Rng('queue-complete');
    for (let trial = 0; trial < 200; trial++) {
      const P = 1 + rng.int(4);
      const ds = trial % 3 === 0 ? undefined : { backfillRounds: rng.int(3), metric: 'reward' as const };
      // each position's chain: filtered groups while a round is left (at random), then its last group
      const groups: G[] = [];
      for (let p = 0; p < P; p++)
        for (let slot = p; ; slot += P) {
          const filtered = rng.float() < 0.5;
          groups.push({ slot, rewards: filtered ? [1, 1] : [0, 1] });
          if (!filtered || backfillSlot(slot, P, ds) === null) break;
        }
      const arrivals = rng.shuffle(groups);
      const q = new StepQueue<G>(P, 1000, ds, (g) => g.slot, outcome);
      for (let i = 0; i < arrivals.length; i++) {
        expect(q.add(7, arrivals[i]!)).toBeNull();
        const want = stepComplete(arrivals.slice(0, i + 1), P, ds, (g) => g.slot, outcome);
        expect(q.complete(7), `trial ${trial}, ${i + 1} of ${arrivals.length}`).toBe(want);
        // a queue rebuilt from the same held groups (a loaded checkpoint) says the same
        const reloaded = new StepQueue<G>(P, 1000, ds, (g) => g.slot, outcome, { 7: arrivals.slice(0, i + 1) });
        expect(reloaded.complete(7)).toBe(want);
      }
      expect(q.complete(7)).toBe(true); // every chain ended
      expect(q.add(7, arrivals[0]!)).toMatch(/queued twice/);
      q.take(7);
      expect(q.complete(7)).toBe(false);
    }
  });

  it('a step completes when every chain has ended, in any arrival order', () => {
    const P = 2;
    type G = { slot: number; rewards: number[] };
    const outcome = (g: G) => ({ rewards: g.rewards, correct: (i: number) => g.rewards[i]! > 0 });
    const done = (gs: G[]) => stepComplete(gs, P, DS, (g) => g.slot, outcome);
    const kept = [0, 1];
    const filtered = [1, 1];
    // slot 0 kept at once; slot 1 filtered twice, then kept at slot 5 (1 → 3 → 5)
    const arrivals: G[] = [
      { slot: 1, rewards: filtered },
      { slot: 3, rewards: filtered },
      { slot: 0, rewards: kept },
      { slot: 5, rewards: kept },
    ];
    for (let i = 0; i < arrivals.length; i++) expect(done(arrivals.slice(0, i + 1))).toBe(i === 3);
    expect(done([...arrivals].reverse())).toBe(true);
    // rounds used up: slot 5 filtered too ends the chain (starved)
    expect(done([arrivals[0]!, arrivals[1]!, arrivals[2]!, { slot: 5, rewards: filtered }])).toBe(true);
    // without dynamic sampling a zero-advantage group is kept: one group per slot completes
    expect(
      stepComplete(
        [
          { slot: 0, rewards: filtered },
          { slot: 1, rewards: filtered },
        ],
        P,
        undefined,
        (g) => g.slot,
        outcome,
      ),
    ).toBe(true);
    const t = new FilterTally(P);
    for (const g of arrivals.sort((a, b) => a.slot - b.slot)) t.add(g.slot, g.rewards === filtered);
    expect(t.figures()).toEqual({ groupsFiltered: 2, backfillGroups: 2, backfillRounds: 2, starved: false });
    const s = new FilterTally(P);
    s.add(0, false);
    s.add(1, true); // filter only (backfillRounds 0): slot 1 trains nothing
    expect(s.figures()).toEqual({ groupsFiltered: 1, backfillGroups: 0, backfillRounds: 0, starved: true });
  });

  it('the batcher forms the batch with exact dispositions: filtered groups dropped-filtered, slots kept', () => {
    const P = 2;
    const q = new GroupQueue(P, 16, DS);
    q.push(group(3, 1, [1, 1]));
    expect(q.complete(3)).toBe(false);
    q.push(group(3, 0, [0, 1]));
    expect(q.complete(3)).toBe(false); // slot 1 is owed its backfill at slot 3
    q.push(group(3, 3, [1, 0]));
    expect(q.complete(3)).toBe(true);
    const groups = q.take(3);
    expect(groups.map((g) => g.problemId)).toEqual(['0:p0', '1:p1', '3:p3']);
    const b = formBatch(groups, 2, 2, { kind: 'none' }, { problemsPerStep: P, dynamicSampling: DS });
    expect(dispositionsOf(b, 3)).toEqual([
      ['3/0/0', 'trained'],
      ['3/0/1', 'trained'],
      ['3/1/0', 'dropped-filtered'],
      ['3/1/1', 'dropped-filtered'],
      ['3/3/0', 'trained'],
      ['3/3/1', 'trained'],
    ]);
    expect(b.rollouts).toHaveLength(4);
    expect(b.figures.filter).toEqual({ groupsFiltered: 1, backfillGroups: 1, backfillRounds: 1, starved: false });
    // the figures of what was sampled count every group (the pass rate is the step's, filtered included)
    expect(b.figures.passRate).toBeCloseTo(4 / 6, 12);
    expect(b.figures.zeroAdvantageGroups).toBe(1);
    // the digest names the backfilled slot, not the group's position in the batch
    const d = new TrainedDigest(3);
    for (const [slot, i] of [
      [0, 0],
      [0, 1],
      [3, 0],
      [3, 1],
    ] as const)
      d.add(slot, i);
    expect(b.trainedDigest).toBe(d.hex());
    // without dynamic sampling the same zero-advantage group trains (advantage 0)
    const off = formBatch([group(3, 0, [0, 1]), group(3, 1, [1, 1])], 2, 2, { kind: 'none' }, { problemsPerStep: P });
    expect(dispositionsOf(off, 3).filter(([, x]) => x === 'trained')).toHaveLength(4);
    expect(off.figures.filter).toEqual({ groupsFiltered: 0, backfillGroups: 0, backfillRounds: 0, starved: false });
  });

  it('metric accuracy filters on verdicts (DAPO), reward on rewards: they differ only when rewards are shaped', () => {
    const ACC: DynamicSampling = { ...DS, metric: 'accuracy' };
    // soft overlong punishment: both answers right, one long (−0.25): a length signal, one verdict
    const shaped = { rewards: [1, 0.75], correct: () => true };
    expect(isFiltered(DS, shaped)).toBe(false);
    expect(isFiltered(ACC, shaped)).toBe(true);
    const mixed = { rewards: [1, -0.25], correct: (i: number) => i === 0 };
    expect([isFiltered(DS, mixed), isFiltered(ACC, mixed)]).toEqual([false, false]);
    const flat = { rewards: [0, 0], correct: () => false };
    expect([isFiltered(DS, flat), isFiltered(ACC, flat), isFiltered(undefined, flat)]).toEqual([true, true, false]);
    // through the batcher: slot 1's shaped group is filtered and owed its backfill at slot 3
    const P = 2;
    const q = new GroupQueue(P, 16, ACC);
    q.push(group(2, 0, [0, 1]));
    q.push(group(2, 1, [1, 0.75], [true, true]));
    expect(q.complete(2)).toBe(false);
    q.push(group(2, 3, [0.75, 0], [true, false]));
    expect(q.complete(2)).toBe(true);
    const b = formBatch(q.take(2), 2, 2, { kind: 'none' }, { problemsPerStep: P, dynamicSampling: ACC });
    expect(dispositionsOf(b, 2).map(([, x]) => x)).toEqual([
      'trained',
      'trained',
      'dropped-filtered',
      'dropped-filtered',
      'trained',
      'trained',
    ]);
    // the same groups under metric reward: slot 1 carries advantage and trains, the step completes without slot 3
    const r = new GroupQueue(P, 16, DS);
    r.push(group(2, 0, [0, 1]));
    r.push(group(2, 1, [1, 0.75], [true, true]));
    expect(r.complete(2)).toBe(true);
  });

  it('a resume requests the backfill a held filtered group is owed, once', () => {
    const cfg = parseTrainConfig(
      {
        model: { checkpoint: 'examples/checkpoints/base-countdown' },
        rollout: { problemsPerStep: 2, groupSize: 2, dynamicSampling: DS },
        curriculum: { stages: [{ difficulty: 3, budgetTokens: 16, steps: 2 }] },
        topology: { samplers: 1, verifierThreads: 1 },
      },
      'test config',
    );
    const run = new TrainingRun({
      config: cfg,
      out: '/nonexistent',
      resume: false,
      command: 'test',
      versions: {},
      now: () => 0,
    });
    const fresh = requestsForStep(run, 1);
    expect(fresh.map((r) => [r.requestId, r.problems.map((p) => p.id.split(':')[0])])).toEqual([['s1r0', ['0', '1']]]);
    // as a checkpoint restores it: slot 1 filtered and held, slot 0 not generated yet
    const problem1 = fresh[0]!.problems[1]!;
    const held = group(1, 1, [0, 0]);
    const ids = held.rollouts.map((r, i) => ({ ...r, id: `1/${problem1.id}/${i}`, problemId: problem1.id }));
    const restored = { ...held, problemId: problem1.id, rollouts: ids };
    for (let i = 0; i < ids.length; i++) expect(run.ledger.generated(1, 1, i)).toBeNull();
    run.queue.push(restored);
    const again = requestsForStep(run, 1);
    expect(again.map((r) => [r.requestId, r.problems.map((p) => p.id.split(':')[0])])).toEqual([
      ['s1r0', ['0']],
      ['s1b3', ['3']],
    ]);
    // the backfill's problem is the step's slot 3 on every call (the same one the virtual clock uses)
    expect(again[1]!.problems[0]).toEqual(requestsForStep(run, 1)[1]!.problems[0]);
    // once its backfill is generated, nothing more is owed
    expect(run.ledger.generated(1, 3, 0)).toBeNull();
    expect(requestsForStep(run, 1).map((r) => r.requestId)).toEqual(['s1r0']);
  });
});

describe('dynamic sampling on the virtual clock', () => {
  const surrogate = SurrogateSchema.parse({ lengthMedian: 12, lengthSigma: 0.3, passRate: 0.15 });
  const base = {
    rollout: { problemsPerStep: 4, groupSize: 4, problemsPerRequest: 2, dynamicSampling: DS },
    topology: { samplers: 3, verifierThreads: 2 },
    curriculum: { stages: [{ difficulty: 3, budgetTokens: 64, steps: 30 }] },
  };

  it.each([
    ['sync', { policy: 'sync' }],
    ['async η = 3', { policy: 'async', eta: 3 }],
  ])('%s: the accounting adds up with backfill, and the rows sum to the summary', async (_, staleness) => {
    const r = await simRun(simConfig({ ...base, staleness }), {
      compute: 'none',
      surrogate,
      profile: jitteryProfile(),
      maxSteps: 30,
    });
    expect(r.status).toBe('done'); // the final scan: every planned slot accounted, backfills only after a filter
    const s = r.summary as Record<string, number> & {
      dynamicSampling: { groupsFiltered: number; backfillGroups: number; stepsStarved: number };
    };
    const rows = r.metrics
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number | boolean>)
      .filter((l) => l.type === undefined);
    const G = 4;
    const ds = s.dynamicSampling;
    const sum = (k: string) => rows.reduce((a, l) => a + Number(l[k]), 0);
    expect(rows).toHaveLength(30);
    expect([sum('groupsFiltered'), sum('backfillGroups'), sum('starved')]).toEqual([
      ds.groupsFiltered,
      ds.backfillGroups,
      ds.stepsStarved,
    ]);
    expect(Math.max(...rows.map((l) => Number(l.backfillRounds)))).toBe(DS.backfillRounds);
    expect(rows.at(-1)!.rolloutsDroppedFiltered).toBe(s.rolloutsDroppedFiltered);
    // P(a group all wrong) = 0.85⁴ ≈ 0.52: many filters, some chains exhausted after two rounds
    expect(ds.groupsFiltered).toBeGreaterThan(20);
    expect(ds.backfillGroups).toBeGreaterThan(10);
    expect(ds.stepsStarved).toBeGreaterThan(0);
    expect(s.rolloutsLost).toBe(0);
    expect(s.rolloutsGenerated).toBe(
      s.rolloutsTrained + s.rolloutsDroppedStale + s.rolloutsDroppedInvalid + s.rolloutsDroppedFiltered,
    );
    expect(s.rolloutsDroppedFiltered).toBe(ds.groupsFiltered * G); // no invalid rollouts here
    // every group generated is a planned one or a backfill
    expect(s.rolloutsGenerated).toBe((30 * 4 + ds.backfillGroups) * G);
    // a chain ends at most two rounds in: filtered groups ≤ P (1 + rounds) per step
    expect(ds.backfillGroups).toBeLessThanOrEqual(30 * 4 * DS.backfillRounds);
  });
});
