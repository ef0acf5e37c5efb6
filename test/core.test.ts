/** The topology's rules (src/core), each against hand-computed cases. */
import { describe, expect, it } from 'vitest';
import { checkpointDue, evalDue } from '../src/core/update.js';
import { stepStageOf } from '../src/core/metrics.js';
import {
  mayPlanStep,
  nextRequest,
  problemsPerRequest,
  queueBounds,
  queueCapacityGroups,
  reissue,
  requestSlices,
} from '../src/core/admission.js';
import {
  DISPOSITION_BY_CODE,
  DISPOSITION_CODE,
  dispositionCodeOf,
  etaOf,
  lagOf,
  minVersionFor,
  oldestVersion,
  requestVersion,
  stalenessViolation,
  swapsInFlight,
} from '../src/core/staleness.js';
import { outcomeOf, zeroAdvantage } from '../src/core/dynamicSampling.js';
import { afterFailure, afterVerifyFailure } from '../src/core/supervision.js';
import { groupAdvantagesOf, groupRewards } from '../src/core/grading.js';
import { gradeGroup } from '../src/runtime/grade.js';
import { COMMON_SUMMARY_KEYS, commonSummary } from '../src/core/summary.js';
import {
  accountingViolation,
  capacityViolation,
  lostViolation,
  publishViolation,
  stalenessBoundViolation,
} from '../src/core/invariants.js';
import { checkpointsToRemove, stepDirName, stepOfDirName } from '../src/core/runDir.js';
import { CLOCK_FIELDS, LengthAudit, TrainedDigest, nearestRanks, stepRow } from '../src/core/metrics.js';

/** One quantile by nearest rank (core/metrics nearestRanks with q1 = q2). */
const nearestRank = (xs: Float64Array, q: number) => nearestRanks(xs, q, q)[0];

const dispositionOf = (...a: Parameters<typeof dispositionCodeOf>) => DISPOSITION_BY_CODE[dispositionCodeOf(...a)];
describe('core/admission', () => {
  it('admits step k at v ≥ k − 1 − η, within the queue capacity, also at η = ∞', () => {
    expect(minVersionFor(5, 0)).toBe(4);
    expect(minVersionFor(5, 2)).toBe(2);
    expect(minVersionFor(2, 4)).toBe(0);
    const at = (over: Partial<Parameters<typeof mayPlanStep>[0]>) =>
      mayPlanStep({
        step: 5,
        lastStep: 10,
        publishedVersion: 2,
        eta: 2,
        outstandingGroups: 0,
        groupsPerStep: 4,
        capacityGroups: 8,
        ...over,
      });
    expect(at({})).toBe(true);
    expect(at({ publishedVersion: 1 })).toBe(false); // needs v2
    expect(at({ step: 11 })).toBe(false); // past the run
    expect(at({ outstandingGroups: 4 })).toBe(true); // 4 + 4 = 8 fits
    expect(at({ outstandingGroups: 5 })).toBe(false);
    // η = ∞: admission alone would plan every step; the capacity still bounds it
    expect(at({ eta: Infinity, publishedVersion: 0, outstandingGroups: 8 })).toBe(false);
    expect(queueCapacityGroups({ queueGroupsMax: 3 }, 8)).toBe(8); // one step always fits
    expect(queueCapacityGroups({ queueGroupsMax: 256 }, 8)).toBe(256);
    expect(queueBounds({ queueGroupsMax: 10 }, 4)).toEqual({
      plannedGroups: 10,
      verifyJobs: 10,
      graderJobs: 10,
      natsItems: 40,
    });
  });

  it('cuts a step into requests in slot order, and runs a request at the newest published version', () => {
    expect(problemsPerRequest({ problemsPerStep: 10 }, 4)).toBe(3);
    expect(problemsPerRequest({ problemsPerStep: 10, problemsPerRequest: 5 }, 4)).toBe(5);
    expect(requestSlices(10, 3)).toEqual([
      { index: 0, first: 0, end: 3 },
      { index: 1, first: 3, end: 6 },
      { index: 2, first: 6, end: 9 },
      { index: 3, first: 9, end: 10 },
    ]);
    // step 7 at η = 1 needs v5: it runs at the newest published; below v5 is admission's bug
    expect(requestVersion(7, 7, 1)).toEqual({ version: 7, violation: null });
    expect(requestVersion(5, 7, 1)).toEqual({ version: 5, violation: null });
    expect(requestVersion(4, 7, 1)).toEqual({ version: 4, violation: 'step 7 started at v4, below its admitted v5' });
  });
});

describe('core/admission: the planner both clocks drive (nextRequest, reissue)', () => {
  type Req = { step: number; i: number };
  const plan = (k: number): Req[] => [
    { step: k, i: 0 },
    { step: k, i: 1 },
  ];
  const limits = { eta: 0, groupsPerStep: 2, capacityGroups: 4 };

  it('plans a step when admitted and within capacity, hands out its requests in order, then waits', () => {
    const q = { nextStep: 1, planned: [] as Req[], reissue: [] as Req[] };
    let view = { lastStep: 5, publishedVersion: 0, formedThrough: 0 };
    const next = () => nextRequest(q, limits, () => view, plan);
    expect([next(), next()]).toEqual(plan(1));
    expect(next()).toBeUndefined(); // sync: step 2 needs v1
    expect(q.nextStep).toBe(2);
    view = { lastStep: 5, publishedVersion: 1, formedThrough: 1 };
    expect(next()).toEqual({ step: 2, i: 0 });
    // η 1: step 3 is admitted at v1, but 2 steps outstanding fill the capacity of 4 groups
    const wide = { ...limits, eta: 1 };
    const q2 = { nextStep: 1, planned: [] as Req[], reissue: [] as Req[] };
    const v0 = () => ({ lastStep: 5, publishedVersion: 0, formedThrough: 0 });
    const got = Array.from({ length: 5 }, () => nextRequest(q2, wide, v0, plan));
    expect(got).toEqual([...plan(1), ...plan(2), undefined]);
    // the run's last step bounds planning
    const q3 = { nextStep: 5, planned: [] as Req[], reissue: [] as Req[] };
    expect(nextRequest(q3, wide, () => ({ lastStep: 4, publishedVersion: 9, formedThrough: 4 }), plan)).toBeUndefined();
  });

  it('work given back goes first, in step order; a step with nothing left to plan (a resume) is passed over', () => {
    const q = { nextStep: 3, planned: [] as Req[], reissue: [] as Req[] };
    for (const step of [3, 1, 2, 1]) reissue(q, { step, i: q.reissue.length });
    expect(q.reissue).toEqual([
      { step: 1, i: 1 },
      { step: 1, i: 3 },
      { step: 2, i: 2 },
      { step: 3, i: 0 },
    ]);
    const view = () => ({ lastStep: 9, publishedVersion: 9, formedThrough: 2 });
    const planOnly4 = (k: number) => (k === 4 ? plan(4) : []);
    const out = Array.from({ length: 5 }, () =>
      nextRequest(q, { ...limits, eta: 9, capacityGroups: 99 }, view, planOnly4),
    );
    expect(out).toEqual([
      { step: 1, i: 1 },
      { step: 1, i: 3 },
      { step: 2, i: 2 },
      { step: 3, i: 0 },
      { step: 4, i: 0 },
    ]);
    expect(q.nextStep).toBe(5); // step 3 planned nothing, step 4 its two requests
    expect(q.planned).toEqual([{ step: 4, i: 1 }]);
  });
});

describe('core/update: what follows an update, both clocks', () => {
  it('a periodic checkpoint at multiples of every; the evaluation every N steps (if set) and at the last step', () => {
    expect([1, 2, 3, 4, 5, 6].filter((v) => checkpointDue(v, 3))).toEqual([3, 6]);
    expect([1, 2, 3, 4, 5].filter((v) => evalDue(v, { every: 2 }, 5))).toEqual([2, 4, 5]);
    expect([1, 2, 3, 4, 5].filter((v) => evalDue(v, {}, 5))).toEqual([5]);
    expect(evalDue(5, undefined, 5)).toBe(false); // no eval configured
  });

  it("a step's stage as its metrics row names it: the plan's stage and budget, the stage's difficulty or buckets", () => {
    const stages = [{ difficulty: 3 }, { buckets: ['easy', 'hard'] }];
    expect(stepStageOf(stages, { stage: 0, budgetTokens: 48 })).toEqual({
      stage: 0,
      difficulty: 3,
      buckets: null,
      budgetTokens: 48,
    });
    expect(stepStageOf(stages, { stage: 1, budgetTokens: 96 })).toEqual({
      stage: 1,
      difficulty: null,
      buckets: ['easy', 'hard'],
      budgetTokens: 96,
    });
  });
});

describe('core/staleness: one definition each, for both clocks', () => {
  it('η per policy, lag from the oldest token, swaps in flight only for inflight', () => {
    expect(etaOf('sync', 7)).toBe(0);
    expect(etaOf('one-step-off', 7)).toBe(1);
    expect(etaOf('async', undefined)).toBe(2);
    expect(etaOf('inflight', 5)).toBe(5);
    expect(etaOf('async', 'inf')).toBe(Infinity);
    // an in-flight rollout's tokens from v3, v5 and v4: its lag at learner v6 is 6 − 3
    expect(lagOf(6, oldestVersion([3, 5, 4]))).toBe(3);
    expect(lagOf(6, oldestVersion([6]))).toBe(0);
    expect([swapsInFlight('inflight'), swapsInFlight('async'), swapsInFlight('sync')]).toEqual([true, false, false]);
  });

  it("summary.json's common part: its fields in one order, 'inf' for an unbounded run, lost only at a finished run's end", () => {
    const counts = { generated: 10, trained: 6, droppedStale: 1, droppedInvalid: 1, droppedFiltered: 0, pending: 2 };
    const o = {
      policy: 'async',
      eta: Infinity,
      topo: {
        learnerVersion: 3,
        published: 3,
        formedThrough: 3,
        filterTotals: { groupsFiltered: 0, backfillGroups: 0, stepsStarved: 0 },
        stalenessMax: 2,
        tokensGenerated: 100,
        tokensTrained: 60,
        learnerTrained: 8,
        inflightSwaps: 0,
        inflightRecomputes: 0,
        inflightAborts: 0,
      },
      counts,
      finished: true,
      restarts: 1,
      faultsFired: ['crash:sampler-0@step=2'],
    };
    const s = commonSummary(o);
    expect(Object.keys(s)).toEqual([...COMMON_SUMMARY_KEYS]);
    expect([s.stalenessBound, s.rolloutsLost, s.steps, s.tokensTrained]).toEqual(['inf', 2, 3, 60]);
    expect(commonSummary({ ...o, eta: 2, finished: false })).toMatchObject({ stalenessBound: 2, rolloutsLost: 0 });
  });

  it('grading, both clocks: 1 for correct plus the soft overlong penalty; an unverified group is invalid and scores 0', () => {
    // budget 40, soft buffer 16, penalty 1: the penalty starts past 24 tokens, −1 at 40
    const shaping = { budgetTokens: 40, overlong: { kind: 'soft' as const, buffer: 16, penalty: 1 } };
    expect(groupRewards([true, false, true], [10, 40, 32], shaping)).toEqual({
      rewards: [1, -1, 0.5],
      invalid: [false, false, false],
    });
    expect(groupRewards([true, false], [10, 40], undefined).rewards).toEqual([1, 0]);
    // unverified: no penalty either (the real clock's grader used to add it to a reward of 0)
    expect(groupRewards(null, [10, 40], shaping)).toEqual({ rewards: [0, 0], invalid: [true, true] });
    expect(groupAdvantagesOf([1, 0], true).map((a) => Math.round(a * 1e4) / 1e4)).toEqual([1, -1]);
    expect(groupAdvantagesOf([0, 0], false)).toEqual([0, 0]);
    // the real clock's grader is the rule: the same group unverified, with the shaping of the step
    const rollout = (n: number, i: number) => ({
      id: `1/0/${i}`,
      problemId: '0:p',
      sampleIndex: i,
      prompt: [1],
      completion: new Array<number>(n).fill(5),
      behaviourLogprobs: new Array<number>(n).fill(-1),
      versions: new Array<number>(n).fill(0),
      stop: 'eos' as const,
    });
    const job = { jobId: '1/0:p', step: 1, problemId: '0:p', rollouts: [rollout(10, 0), rollout(40, 1)] };
    const unverified = gradeGroup({ job, verdicts: null, shaping });
    expect([unverified.rewards, unverified.advantages, unverified.invalid]).toEqual([
      [0, 0],
      [0, 0],
      [true, true],
    ]);
    const verdict = (correct: boolean) => ({ correct, reason: 'ok', attempts: 1, selfChecks: 0 });
    expect(gradeGroup({ job, verdicts: [verdict(true), verdict(false)], shaping }).rewards).toEqual([1, -1]);
  });

  it('a group with no advantage is one whose rewards are all equal; correct is the verdict, else reward > 0', () => {
    expect(zeroAdvantage([1, 1, 1])).toBe(true);
    expect(zeroAdvantage([0, 0])).toBe(true); // an unverified group: rewards 0, advantages 0
    expect(zeroAdvantage([1, 0.5])).toBe(false); // a shaped reward still moves the advantages
    const withVerdicts = outcomeOf([1, 0], (i) => i === 1);
    expect([withVerdicts.correct(0), withVerdicts.correct(1)]).toEqual([false, true]);
    const costModel = outcomeOf([1, 0]);
    expect([costModel.correct(0), costModel.correct(1)]).toEqual([true, false]);
  });
});

describe('core/ledger and core/supervision', () => {
  it('disposes of a rollout by one rule, as a name and as a code', () => {
    const none = { kind: 'none' } as const;
    const drop = { kind: 'drop', maxLag: 1 } as const;
    expect(dispositionOf(true, 10, 0, none, false)).toBe('dropped-invalid');
    expect(dispositionOf(false, 0, 0, none, false)).toBe('dropped-invalid');
    expect(dispositionOf(false, 10, 2, drop, false)).toBe('dropped-stale');
    expect(dispositionOf(false, 10, 1, drop, false)).toBe('trained');
    expect(dispositionOf(false, 10, 5, none, false)).toBe('trained');
    expect(dispositionCodeOf(false, 10, 2, drop, false)).toBe(DISPOSITION_CODE['dropped-stale']);
    // a filtered group (dynamic sampling): its valid rollouts are dropped-filtered, stale or not; invalid stays invalid
    expect(dispositionOf(false, 10, 0, none, true)).toBe('dropped-filtered');
    expect(dispositionOf(false, 10, 2, drop, true)).toBe('dropped-filtered');
    expect(dispositionOf(true, 10, 0, none, true)).toBe('dropped-invalid');
    expect(dispositionCodeOf(false, 10, 0, none, true)).toBe(DISPOSITION_CODE['dropped-filtered']);
    expect(stalenessViolation('1/0:x/0', 3, 2)).toMatch(/staleness 3 above the bound 2/);
    expect(stalenessViolation('1/0:x/0', -1, 2)).toMatch(/newer than the learner/);
    expect(stalenessViolation('1/0:x/0', 2, 2)).toBeNull();
  });

  it('restarts within the budget and gives up past it; retries a verification while attempts last', () => {
    expect([1, 2, 3].map((n) => afterFailure(n, 2))).toEqual(['restart', 'restart', 'give-up']);
    expect([1, 2, 3].map((n) => afterVerifyFailure(n, 3))).toEqual(['retry', 'retry', 'hand-on-invalid']);
  });
});

describe('core/invariants, core/runDir, core/metrics', () => {
  it('audits lengths: generated against trained, quantiles by nearest rank', () => {
    const a = new LengthAudit(10);
    // ten rollouts of lengths 1..10; the long ones (8, 9, 10) dropped
    for (let x = 1; x <= 10; x++) a.add(x, x <= 7);
    expect(a.figures()).toEqual({
      lengthGeneratedP50: 5,
      lengthGeneratedP90: 9,
      lengthTrainedMean: 4,
      lengthTrainedP50: 4,
      lengthTrainedP90: 7,
    });
    expect(new LengthAudit(0).figures().lengthTrainedMean).toBeNull();
    expect(nearestRank(Float64Array.of(3), 0.9)).toBe(3);
    // quickselect against a sort, on seeded data with ties
    let seed = 7;
    const xs = Float64Array.from({ length: 1001 }, () => (seed = (seed * 48271) % 2147483647) % 50);
    const sorted = Array.from(xs).sort((a, b) => a - b);
    for (const q of [0, 0.1, 0.5, 0.9, 0.999, 1])
      expect(nearestRank(xs.slice(), q)).toBe(sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]);
    // two quantiles in one select (the second among the values the first left above it), on sizes 1 … 40
    const rank = (s: number[], q: number) => s[Math.max(0, Math.ceil(q * s.length) - 1)];
    for (let n = 1; n <= 40; n++) {
      const ys = Float64Array.from({ length: n }, () => (seed = (seed * 48271) % 2147483647) % 9);
      const s = Array.from(ys).sort((a, b) => a - b);
      for (const [q1, q2] of [
        [0.5, 0.9],
        [0.1, 0.1],
        [0, 1],
        [0.9, 0.95],
      ] as const)
        expect(nearestRanks(ys.slice(), q1, q2)).toEqual([rank(s, q1), rank(s, q2)]);
    }
    expect(nearestRanks(new Float64Array(0), 0.5, 0.9)).toEqual([null, null]);
  });

  it('names what broke', () => {
    const c = { generated: 12, trained: 5, droppedStale: 1, droppedInvalid: 1, droppedFiltered: 2, pending: 3 };
    expect(accountingViolation(c)).toBeNull();
    expect(accountingViolation({ ...c, pending: 2 })).toMatch(/does not add up: 12 generated/);
    expect(accountingViolation({ ...c, droppedFiltered: 0 })).toMatch(/0 dropped filtered/);
    expect(lostViolation(c, false)).toMatch(/3 rollouts generated but neither/);
    expect(lostViolation(c, true)).toBeNull();
    expect(publishViolation(3, 4)).toBeNull();
    expect(publishViolation(3, 5)).toMatch(/version 5 published after 3/);
    expect(stalenessBoundViolation(3, 2)).toMatch(/above the bound/);
    expect(capacityViolation(9, 8)).toMatch(/9 groups outstanding/);
  });

  it('keeps the newest checkpoints and never the one latest names', () => {
    expect(stepDirName(12)).toBe('step-12');
    expect(stepOfDirName('step-12')).toBe(12);
    expect(stepOfDirName('step-12.tmp-33')).toBeNull();
    const names = ['step-2', 'step-10', 'latest', 'step-4', 'step-10.tmp-1', 'step-8'];
    expect(checkpointsToRemove(names, 2, 'step-10').sort()).toEqual(['step-2', 'step-4']);
    // `latest` can name an older one (a resume that has not checkpointed yet): it stays
    expect(checkpointsToRemove(names, 1, 'step-4').sort()).toEqual(['step-2', 'step-8']);
  });

  it('digests the trained rollouts by (step, slot, sample) in order; the row has one schema', () => {
    const d = (step: number, xs: [number, number][]) => {
      const t = new TrainedDigest(step);
      for (const [s, j] of xs) t.add(s, j);
      return t.hex();
    };
    expect(d(1, [[0, 0]])).toMatch(/^[0-9a-f]{8}$/);
    // the values the runs' metrics rows carry (drawn before the hash word moved into a typed array)
    const many: [number, number][] = [];
    for (let s = 0; s < 64; s++) for (let j = 0; j < 8; j++) many.push([s, j]);
    expect([d(1, [[0, 0]]), d(300, many), d(0, [])]).toEqual(['0bca446c', '916c18c5', '811c9dc5']);
    expect(d(1, [[0, 0]])).toBe(d(1, [[0, 0]]));
    expect(d(1, [[0, 0]])).not.toBe(d(2, [[0, 0]]));
    expect(
      d(1, [
        [0, 1],
        [1, 0],
      ]),
    ).not.toBe(
      d(1, [
        [1, 0],
        [0, 1],
      ]),
    );
    const row = stepRow({
      step: 3,
      tSeconds: 1.5,
      stage: { stage: 0, difficulty: 3, buckets: null, budgetTokens: 48 },
      batch: {
        rewardMean: 0.5,
        passRate: 0.5,
        lengthMean: 10,
        lengthCorrect: 8,
        lengthIncorrect: 12,
        stalenessMean: 0,
        stalenessMax: 0,
        zeroAdvantageGroups: 1,
        lengths: {
          lengthGeneratedP50: 10,
          lengthGeneratedP90: 14,
          lengthTrainedMean: 10,
          lengthTrainedP50: 10,
          lengthTrainedP90: 14,
        },
        filter: { groupsFiltered: 1, backfillGroups: 2, backfillRounds: 1, starved: false },
      },
      counts: { generated: 8, trained: 8, droppedStale: 0, droppedInvalid: 0, droppedFiltered: 0, pending: 0 },
      totals: { tokensGenerated: 80, tokensTrained: 80, inflightSwaps: 0, inflightRecomputes: 0, inflightAborts: 0 },
      tokensPerSec: 53,
      queueGroups: 2,
      trained: 'abcd0123',
      learner: { loss: 0.1 },
      extra: { wallMs: 1500 },
    });
    expect(Object.keys(row).slice(0, 4)).toEqual(['step', 'version', 't', 'stage']);
    expect(row).toMatchObject({ t: 1.5, trainedDigest: 'abcd0123', loss: 0.1, wallMs: 1500, rolloutsTrained: 8 });
    for (const k of ['t', 'tokensPerSec', 'wallMs']) expect(CLOCK_FIELDS).toContain(k);
  });
});
