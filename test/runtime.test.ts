import { describe, expect, it } from 'vitest';
import { dispositionsOf } from './helpers/batch.js';
import { applyUpdate } from '../src/core/update.js';
import { noFilterTotals, outcomeOf } from '../src/core/dynamicSampling.js';
import { accountingViolation } from '../src/core/invariants.js';
import { RolloutLedger, stepViolation, unplanned } from '../src/core/ledger.js';
import { BatchTally, disposeGroup, formBatch, slotOf } from '../src/core/batch.js';
import { GroupQueue, StepQueue } from '../src/core/stepQueue.js';
import { DISPOSITION_CODE, admissible, minVersionFor } from '../src/core/staleness.js';
import {
  FaultPlan,
  actorName,
  brokenInvariantMessage,
  brokenSteps,
  faultsFromSpecs,
  firedName,
  parseFault,
} from '../src/core/faults.js';
import { slowdownMs } from '../src/util/slowdown.js';
import verifyGroup from '../actors/verify.task.js';
import { parseTrainConfig, stalenessBound } from '../src/runtime/config.js';
import { stageOfStep } from '../src/curriculum/stages.js';
import type { ScoredGroup } from '../src/runtime/messages.js';
import { verifyInPool } from '../src/runtime/roles/verifiers.js';
import type { MessagePort } from 'node:worker_threads';

function group(
  step: number,
  problemId: string,
  versions: number[][],
  advantages: number[],
  invalid?: boolean[],
): ScoredGroup {
  return {
    type: 'ScoredGroup',
    step,
    problemId,
    rollouts: versions.map((v, i) => ({
      id: `${step}/${problemId}/${i}`,
      problemId,
      sampleIndex: i,
      prompt: [1],
      completion: v.map(() => 5),
      behaviourLogprobs: v.map(() => -1),
      versions: v,
      stop: 'eos' as const,
    })),
    verdicts: versions.map((_, i) => ({ correct: advantages[i]! > 0, reason: 'ok', attempts: 1, selfChecks: 0 })),
    rewards: advantages.map((a) => (a > 0 ? 1 : 0)),
    advantages,
    invalid: invalid ?? versions.map(() => false),
  };
}

describe('rollout accounting (core/ledger.ts, one ledger for both clocks)', () => {
  const T = DISPOSITION_CODE.trained;
  const shape = { slotsPerStep: 2, groupSize: 2, problemsPerStep: 2 };

  it('accounts each rollout exactly once and names each double', () => {
    const a = new RolloutLedger(shape);
    expect(a.generated(1, 0, 0, 2)).toBeNull();
    expect(a.dispose(1, 0, 0, T)).toBeNull();
    expect(a.dispose(1, 0, 0, DISPOSITION_CODE['dropped-stale'])).toMatch(/rollout 1\/0\/0 accounted twice/);
    expect(a.dispose(9, 1, 0, T)).toMatch(/rollout 9\/1\/0 accounted before it was generated/);
    expect(a.generated(1, 0, 1)).toMatch(/rollout 1\/0\/1 generated twice/);
    expect(() => a.generated(1, 2, 0)).toThrow(/outside the ledger's 2 slots × 2 samples/);
    expect(a.counts()).toEqual({
      generated: 2,
      trained: 1,
      droppedStale: 0,
      droppedInvalid: 0,
      droppedFiltered: 0,
      pending: 1,
    });
    // A checkpoint keeps settled rollouts and the ones held in the queue; in-flight ones are regenerated.
    const restore = (keep: boolean) => {
      const j = a.toEntries(() => keep);
      return RolloutLedger.fromEntries(shape, j.entries, j.settled);
    };
    expect(restore(false).counts().pending).toBe(0);
    expect(restore(true).counts().pending).toBe(1);
    // the virtual clock's form keeps everything
    expect(RolloutLedger.fromDense(shape, a.toDense()).counts()).toEqual(a.counts());
  });

  it('disposes of a group at once as rollout by rollout, with the same answers', () => {
    const S = DISPOSITION_CODE['dropped-stale'];
    const make = () => {
      const l = new RolloutLedger(shape);
      expect(l.generated(1, 0, 0, 2)).toBeNull();
      expect(l.generated(1, 1, 0)).toBeNull();
      return l;
    };
    const one = make(),
      each = make();
    expect(one.disposeGroup(1, 0, [T, S])).toBeNull();
    for (const [j, c] of [T, S].entries()) expect(each.dispose(1, 0, j, c)).toBeNull();
    expect(one.counts()).toEqual(each.counts());
    expect(one.toDense()).toEqual(each.toDense());
    // the first bad rollout's message, the ones before it disposed of (as one by one)
    expect(one.disposeGroup(1, 1, [T, T])).toMatch(/rollout 1\/1\/1 accounted before it was generated/);
    expect(one.disposeGroup(1, 0, [T])).toMatch(/rollout 1\/0\/0 accounted twice/);
    expect(make().disposeGroup(1, 0, [T, 1])).toMatch(/rollout 1\/0\/1 disposed of with code 1/);
    expect(one.counts().trained).toBe(2);
    const whole = new RolloutLedger(shape);
    for (const slot of [0, 1]) expect(whole.generated(1, slot, 0, 2) ?? whole.disposeGroup(1, slot, [T, T])).toBeNull();
    expect(whole.settle(1)).toBeNull();
    expect(whole.disposeGroup(1, 0, [T])).toMatch(/accounted after its step was trained/);
  });

  it('folds trained steps into counters: the window and its checkpoint stay the same size, the sums still check', () => {
    const a = new RolloutLedger(shape);
    const sizes: number[] = [];
    expect(a.generated(1, 0, 0)).toBeNull();
    for (let step = 1; step <= 200; step++) {
      expect(a.generated(step, 0, 1)).toBeNull();
      expect(a.generated(step, 1, 0, 2)).toBeNull();
      expect(a.generated(step + 1, 0, 0)).toBeNull(); // the next step's first rollout, in flight at the update
      for (let j = 0; j < 2; j++) {
        expect(a.dispose(step, 0, j, j === 0 ? DISPOSITION_CODE['dropped-invalid'] : T)).toBeNull();
        expect(a.dispose(step, 1, j, T)).toBeNull();
      }
      expect(a.settle(step)).toBeNull();
      sizes.push(a.windowRollouts, a.toEntries(() => true).entries.length, a.toDense().window.length);
    }
    expect(new Set(sizes.filter((_, i) => i % 3 === 0)).size).toBe(1); // the window never grows past its first size
    expect(Math.max(...sizes.filter((_, i) => i % 3 === 1))).toBe(1); // not 4 × 200 entries
    expect(new Set(sizes.filter((_, i) => i % 3 === 2)).size).toBe(1);
    expect(a.counts()).toEqual({
      generated: 200 * 4 + 1,
      trained: 200 * 3,
      droppedStale: 0,
      droppedInvalid: 200,
      droppedFiltered: 0,
      pending: 1,
    });
    expect(accountingViolation(a.counts())).toBeNull();
    // a folded step is never planned again, and nothing may be generated or disposed of for it
    expect(a.hasGroup(3, 1)).toBe(true);
    expect(a.generated(3, 1, 0)).toMatch(/generated for step 3, already trained/);
    expect(a.dispose(3, 1, 0, T)).toMatch(/accounted after its step was trained/);
    // both checkpoint forms keep every count
    const j = a.toEntries(() => true);
    expect(j.settled.through).toBe(200);
    expect(RolloutLedger.fromEntries(shape, j.entries, j.settled).counts()).toEqual(a.counts());
    expect(RolloutLedger.fromDense(shape, a.toDense()).counts()).toEqual(a.counts());
    // an old checkpoint (entries by rollout id, every step listed, no counters) still loads
    const old = RolloutLedger.fromEntries(shape, [
      ['1/0/0', 'trained'],
      ['1/0/1', 'dropped-invalid'],
      ['2/1/0', 'generated'],
    ]);
    expect(old.counts()).toMatchObject({ generated: 3, trained: 1, droppedInvalid: 1, pending: 1 });
    expect(old.hasGroup(2, 1)).toBe(true);
  });

  it('a step folds only whole: a rollout pending, never generated, or a backfill without a filtered group before it fails', () => {
    const pending = new RolloutLedger(shape);
    pending.generated(1, 0, 0, 2);
    pending.generated(1, 1, 0, 2);
    pending.dispose(1, 0, 0, T);
    pending.dispose(1, 0, 1, T);
    pending.dispose(1, 1, 0, T);
    expect(pending.settle(1)).toMatch(/rollout step 1 slot 1\/1 generated but never trained or dropped/);
    const missing = new RolloutLedger(shape);
    missing.generated(1, 0, 0, 2);
    missing.dispose(1, 0, 0, T);
    missing.dispose(1, 0, 1, T);
    expect(missing.settle(1)).toMatch(/rollout step 1 slot 1\/0 never generated/);
    // dynamic sampling: slot 1 backfills slot 0 (one plan slot, one round)
    const ds = { slotsPerStep: 2, groupSize: 2, problemsPerStep: 1 };
    const code = (d: 'trained' | 'dropped-filtered') => DISPOSITION_CODE[d];
    expect(stepViolation(1, [code('trained'), code('trained'), 0, 0], ds)).toBeNull();
    expect(stepViolation(1, [code('dropped-filtered'), code('dropped-filtered'), 0, 0], ds)).toMatch(
      /slot 1\/0 never generated/,
    );
    expect(stepViolation(1, [code('trained'), code('trained'), code('trained'), code('trained')], ds)).toMatch(
      /backfilled, but the group before it in its chain was not filtered/,
    );
  });

  it('the sum check fails when a pending rollout is lost from the ledger (it can fail on both clocks)', () => {
    const a = new RolloutLedger(shape);
    a.generated(1, 0, 0, 2);
    a.dispose(1, 0, 0, T);
    expect(accountingViolation(a.counts())).toBeNull();
    // a bug that clears a byte (reached through the private window: the API has no way to)
    (a as unknown as { bytes: Uint8Array }).bytes[1] = 0;
    expect(accountingViolation(a.counts())).toMatch(/does not add up: 2 generated, 1 trained/);
  });

  it('an update applied (core/update.ts, both clocks): dispositions in, the step folded whole, totals moved, counts compared', () => {
    const fresh = () => {
      const ledger = new RolloutLedger(shape);
      ledger.generated(1, 0, 0, 2);
      ledger.generated(1, 1, 0, 2);
      ledger.generated(2, 0, 0, 2); // the next step, in flight
      const totals = { stalenessMax: 1, tokensTrained: 10, filterTotals: noFilterTotals(), learnerTrained: 0 };
      return { ledger, totals };
    };
    const filter = { groupsFiltered: 0, backfillGroups: 0, backfillRounds: 0, starved: false };
    const batch = {
      step: 1,
      groups: [
        { slot: 0, codes: [T, DISPOSITION_CODE['dropped-stale']] },
        { slot: 1, codes: [T, T] },
      ],
      lagMax: 3,
      tokens: 21,
      filter,
    };
    const { ledger, totals } = fresh();
    expect(applyUpdate(ledger, totals, batch, 3)).toBeNull();
    expect(totals).toMatchObject({ stalenessMax: 3, tokensTrained: 31, learnerTrained: 3 });
    expect(ledger.settledThrough).toBe(1);
    expect(ledger.counts()).toMatchObject({ generated: 6, trained: 3, droppedStale: 1, pending: 2 });
    // the learner's own count disagrees with the ledger's: named with both
    const under = fresh();
    expect(applyUpdate(under.ledger, under.totals, batch, 2)).toMatch(
      /the ledger says 3 rollouts trained, the learner trained 2/,
    );
    // a group missing from the batch: the step does not fold whole
    const partial = fresh();
    expect(applyUpdate(partial.ledger, partial.totals, { ...batch, groups: [batch.groups[0]!] }, 1)).toMatch(
      /step 1 slot 1\/0 generated but never trained or dropped/,
    );
    // the same batch applied twice
    expect(applyUpdate(ledger, totals, batch, 3)).toMatch(/accounted after its step was trained/);
  });

  it('never plans a group again once its rollouts are accounted, wherever the group is now', () => {
    // A resume restores step 6's two groups into the queue (ids accounted as generated); the
    // batcher may take them into a batch before the planner runs. Planning by "held in the queue"
    // then generated them a second time ("rollout … generated twice"); planning by the accounting
    // does not.
    const three = { slotsPerStep: 3, groupSize: 2, problemsPerStep: 3 };
    const restored = RolloutLedger.fromEntries(three, [
      ['6/0/0', 'generated'],
      ['6/0/1', 'generated'],
      ['6/1/0', 'generated'],
      ['6/1/1', 'generated'],
      ['5/0/0', 'trained'],
    ]);
    const problems = [{ id: '0:a' }, { id: '1:b' }, { id: '2:c' }];
    const queue = new GroupQueue(3, 8); // empty: its groups were taken into the batch
    const held = (p: { id: string }) => queue.all().some((g) => g.step === 6 && g.problemId === p.id);
    expect(problems.filter((p) => !held(p)).map((p) => p.id)).toEqual(['0:a', '1:b', '2:c']); // the old rule
    expect(unplanned(6, problems, restored).map((p) => p.id)).toEqual(['2:c']);
    expect(unplanned(7, problems, restored).map((p) => p.id)).toEqual(['0:a', '1:b', '2:c']);
    restored.dispose(6, 0, 0, T);
    expect(unplanned(6, problems, restored).map((p) => p.id)).toEqual(['2:c']);
  });
});

const ONE = { problemsPerStep: 1 };

describe('staleness policies', () => {
  it('admission: step k may start at version ≥ k − 1 − η', () => {
    expect(minVersionFor(5, 0)).toBe(4); // sync
    expect(minVersionFor(5, 1)).toBe(3); // one-step-off
    expect(minVersionFor(2, 4)).toBe(0);
    expect(admissible(5, 3, 0)).toBe(false);
    expect(admissible(5, 3, 1)).toBe(true);
    const cfg = (policy: string, eta?: number) =>
      parseTrainConfig(
        {
          model: { checkpoint: 'x' },
          curriculum: { stages: [{ difficulty: 3, budgetTokens: 8, steps: 1 }] },
          staleness: { policy, eta },
        },
        't',
      );
    expect(stalenessBound(cfg('sync'))).toBe(0);
    expect(stalenessBound(cfg('one-step-off'))).toBe(1);
    expect(stalenessBound(cfg('async', 3))).toBe(3);
    expect(stalenessBound(cfg('inflight', 1))).toBe(1);
  });

  it('forms a batch: lag per rollout from its oldest token, drop past maxLag, invalid dropped, bound asserted', () => {
    const g = group(5, '0:p', [[4, 4], [2, 3], [3]], [1, -0.5, -0.5], [false, false, false]);
    const b = formBatch([g], 4, 2, { kind: 'none' }, ONE);
    expect(b.rollouts).toHaveLength(3);
    expect(b.figures.stalenessMax).toBe(2);
    expect(b.figures.stalenessMean).toBeCloseTo((0 + 2 + 1) / 3, 10);
    const d = formBatch([g], 4, 2, { kind: 'drop', maxLag: 1 }, ONE);
    expect(dispositionsOf(d, 5)).toEqual([
      ['5/0/0', 'trained'],
      ['5/0/1', 'dropped-stale'],
      ['5/0/2', 'trained'],
    ]);
    const inv = formBatch([group(5, '0:q', [[4], [4]], [0, 0], [true, false])], 4, 0, { kind: 'none' }, ONE);
    expect(dispositionsOf(inv, 5)).toEqual([
      ['5/0/0', 'dropped-invalid'],
      ['5/0/1', 'trained'],
    ]);
    expect(inv.figures.zeroAdvantageGroups).toBe(1);
    expect(() => formBatch([g], 4, 1, { kind: 'none' }, ONE)).toThrow(/staleness 2 above the bound 1/);
    // the bound skips a dropped-invalid rollout (core/staleness), whatever its lag; a valid one is checked
    const staleInvalid = group(5, '0:r', [[1], [4]], [0, 0], [true, false]);
    expect(dispositionsOf(formBatch([staleInvalid], 4, 1, { kind: 'none' }, ONE), 5)[0]).toEqual([
      '5/0/0',
      'dropped-invalid',
    ]);
    const staleValid = group(5, '0:r', [[4], [1]], [0, 0], [true, false]);
    expect(() => formBatch([staleValid], 4, 1, { kind: 'none' }, ONE)).toThrow(/rollout 5\/0\/1 has staleness 3/);
  });

  it("one group's dispositions for both clocks (core/batch disposeGroup): per-rollout oldest versions or one per group, verdicts or rewards", () => {
    const rules = { learnerVersion: 6, eta: 3, correction: { kind: 'drop' as const, maxLag: 2 } };
    const g = {
      slot: 1,
      rewards: [1, 0, 0, 1],
      invalid: [false, true, false, false],
      lengths: [7, 5, 0, 9],
      correct: [true, false, false, true],
    };
    const tell = (oldest: number | number[], group: Partial<typeof g> = {}, more: object = {}) => {
      const t = new BatchTally(6, 4, 2);
      const codes: number[] = [];
      const lags: number[] = [];
      const bad = disposeGroup(6, { ...g, ...group, oldest }, { ...rules, ...more }, t, codes, lags);
      return { bad, codes, lags, figures: t.figures(), digest: t.digest.hex() };
    };
    const C = DISPOSITION_CODE;
    // the virtual clock's form (one version for the group) equals the real clock's with every rollout at it
    const perGroup = tell(4);
    expect(perGroup).toEqual(tell([4, 4, 4, 4]));
    // hand-computed: lag 2 ≤ maxLag trains; sample 1 invalid, sample 2 empty → dropped-invalid
    expect(perGroup.codes).toEqual([C.trained, C['dropped-invalid'], C['dropped-invalid'], C.trained]);
    expect(perGroup.bad).toBeNull();
    expect(perGroup.figures).toMatchObject({
      passRate: 0.5,
      stalenessMean: 2,
      stalenessMax: 2,
      zeroAdvantageGroups: 0,
    });
    // per rollout: sample 3 at lag 3 > maxLag is dropped-stale, the mean lag over trained ones is 1
    const mixed = tell([5, 1, 4, 3]);
    expect(mixed.codes).toEqual([C.trained, C['dropped-invalid'], C['dropped-invalid'], C['dropped-stale']]);
    expect(mixed.lags).toEqual([1, 5, 2, 3]);
    expect(mixed.figures.stalenessMean).toBe(1);
    // the bound skips the invalid sample 1 (lag 5 > η 3); a valid rollout past it is named
    expect(mixed.bad).toBeNull();
    expect(tell([5, 4, 4, 2]).bad).toMatch(/rollout 6\/1\/3 has staleness 4 above the bound 3/);
    // without verdicts (cost-model groups) reward > 0 is correct; dynamic sampling on accuracy
    // filters a same-verdict group
    const noVerdicts = tell(4, { correct: undefined });
    expect(noVerdicts.figures.passRate).toBe(0.5);
    const same = tell(
      4,
      { rewards: [0, 0, 0, 0], correct: [false, false, false, false] },
      {
        dynamicSampling: { metric: 'accuracy', backfillRounds: 1 },
      },
    );
    expect(same.codes).toEqual([
      C['dropped-filtered'],
      C['dropped-invalid'],
      C['dropped-invalid'],
      C['dropped-filtered'],
    ]);
    expect(same.figures.zeroAdvantageGroups).toBe(1);
  });

  it('the group queue is bounded, keyed by step, and hands groups back in plan (slot) order', () => {
    const q = new GroupQueue(2, 3);
    q.push(group(1, '10:3+4=7', [[0]], [0]));
    expect(q.complete(1)).toBe(false);
    q.push(group(1, '2:1+1=2', [[0]], [0]));
    q.push(group(2, '0:a', [[0]], [0]));
    expect(() => q.push(group(2, '1:b', [[0]], [0]))).toThrow(/capacity/);
    expect(q.complete(1)).toBe(true);
    // slot 2 before slot 10 (a string sort would put '10:…' first)
    expect(q.take(1).map((g) => g.problemId)).toEqual(['2:1+1=2', '10:3+4=7']);
    expect(q.size).toBe(1);
    expect(() => slotOf('a')).toThrow(/does not start with its slot/);
    // the virtual clock's form: entries naming their slot, the groups held in its JSON state
    type Entry = { slot: number; rewards: number[] };
    const state: Record<string, Entry[]> = JSON.parse('{"4":[{"slot":1,"rewards":[1,0]}]}');
    const v = new StepQueue<Entry>(
      2,
      8,
      undefined,
      (e) => e.slot,
      (e) => outcomeOf(e.rewards),
      state,
    );
    expect(v.size).toBe(1);
    expect(v.add(4, { slot: 1, rewards: [0, 0] })).toMatch(/group 4\/1 queued twice/);
    expect(v.complete(4)).toBe(false);
    expect(v.add(4, { slot: 0, rewards: [0, 1] })).toBeNull();
    expect(v.complete(4)).toBe(true);
    expect(v.take(4).map((e) => e.slot)).toEqual([0, 1]);
    expect(state).toEqual({}); // what the clock checkpoints is the queue's own
    // many groups in a shuffled order (with gaps: backfill slots) come back sorted, as a sort gives them
    const slots = Array.from({ length: 300 }, (_, i) => (i * 7919) % 600).filter((x) => x % 3 !== 1);
    const big = new StepQueue<Entry>(
      600,
      1000,
      undefined,
      (e) => e.slot,
      (e) => outcomeOf(e.rewards),
    );
    for (const slot of slots) expect(big.add(9, { slot, rewards: [1] })).toBeNull();
    expect(big.take(9).map((e) => e.slot)).toEqual([...slots].sort((a, b) => a - b));
    // a reloaded queue that holds a slot twice (add refuses it; a hand-edited state need not): a stable sort
    const twice = new StepQueue<Entry>(
      2,
      8,
      undefined,
      (e) => e.slot,
      (e) => outcomeOf(e.rewards),
      {
        5: [
          { slot: 1, rewards: [1] },
          { slot: 0, rewards: [0] },
          { slot: 1, rewards: [0] },
        ],
      },
    );
    expect(twice.take(5)).toEqual([
      { slot: 0, rewards: [0] },
      { slot: 1, rewards: [1] },
      { slot: 1, rewards: [0] },
    ]);
  });
});

describe('faults and stages', () => {
  it('parses fault specs and fires crash/hang once', () => {
    expect(parseFault('crash:sampler@step=3')).toEqual({ kind: 'crash', role: 'sampler', step: 3 });
    expect(parseFault('slow:learner=2.5x')).toEqual({ kind: 'slow', role: 'learner', factor: 2.5, addMs: 0 });
    expect(parseFault('break:batch@step=3')).toEqual({ kind: 'break-invariant', step: 3 });
    expect(brokenSteps([parseFault('break:batch@step=3'), parseFault('crash:sampler@step=2')])).toEqual([3]);
    expect(brokenInvariantMessage(3)).toMatch(/batch forming of step 3/);
    expect(() => parseFault('explode:sampler@step=1')).toThrow(/expected crash:ROLE@step=N/);
    const plan = new FaultPlan([parseFault('hang:verifier@step=2'), parseFault('slow:sampler=3x')]);
    const told: string[] = [];
    plan.onFired = (name) => told.push(name);
    expect(plan.take('verifier', 1, 'verifier-0')).toBeNull();
    expect(plan.take('verifier', 2, 'verifier-1')).toBe('hang');
    expect(plan.take('verifier', 2, 'verifier-0')).toBeNull(); // once, whichever verifier asks
    // named as on the virtual clock: the spec with the actor that took it (summary.json, the fault line)
    expect(plan.firedNames()).toEqual(['hang:verifier-1@step=2']);
    expect(told).toEqual(['hang:verifier-1@step=2']);
    // a checkpoint's names do not fire again, nor an older checkpoint's one-shot keys
    const resumed = new FaultPlan(['hang:verifier@step=2', 'crash:learner@step=4'].map(parseFault));
    resumed.restoreFired(['hang:verifier-1@step=2', 'crash:learner@4']);
    expect(resumed.take('verifier', 2, 'verifier-0')).toBeNull();
    expect(resumed.take('learner', 4, 'learner')).toBeNull();
    expect(resumed.firedNames()).toEqual(['hang:verifier-1@step=2', 'crash:learner@4']);
    expect(firedName({ kind: 'crash', actor: actorName('learner', 0), step: 3 })).toBe('crash:learner@step=3');
    // slowdowns are in force from a new run's start: fired then, once per actor of the role (as the virtual clock)
    const slowed = new FaultPlan(['slow:sampler=2x', 'slow:learner=+5ms'].map(parseFault));
    const actorsOf = (role: string) => (role === 'sampler' ? ['sampler-0', 'sampler-1'] : [role]);
    slowed.startSlowdowns(actorsOf);
    slowed.startSlowdowns(actorsOf);
    expect(slowed.firedNames()).toEqual(['slow:sampler-0@t=0', 'slow:sampler-1@t=0', 'slow:learner@t=0']);
    expect(plan.slowness('sampler')).toEqual({ slowFactor: 3, slowMs: 0 });
    // a slowdown in milliseconds, the same on any machine (a factor of a fast machine's compute can stay short)
    expect(parseFault('slow:sampler=+1500ms')).toEqual({ kind: 'slow', role: 'sampler', factor: 1, addMs: 1500 });
    const both = new FaultPlan(['slow:learner=2x', 'slow:learner=+40ms', 'slow:learner=+60ms'].map(parseFault));
    expect(both.slowness('learner')).toEqual({ slowFactor: 2, slowMs: 100 });
    expect(both.slowness('verifier')).toEqual({ slowFactor: 1, slowMs: 0 });
    expect(slowdownMs(30, both.slowness('learner'))).toBe(130); // 30 ms more for the factor, 100 added
    expect(() => parseFault('slow:sampler=+1.5ms')).toThrow(/slow:ROLE=\+MSms/);
    expect(faultsFromSpecs(['slow:sampler=+100ms'])).toEqual([
      { kind: 'slow', actor: 'sampler', factor: 1, at: { time: 0 }, addSeconds: 0.1 },
    ]);
    expect(faultsFromSpecs(['slow:sampler=2x'])).toEqual([
      { kind: 'slow', actor: 'sampler', factor: 2, at: { time: 0 } },
    ]);
    // the grader and the weight publications (issue #17: were virtual-clock only)
    expect(parseFault('hang:grader@step=4')).toEqual({ kind: 'hang', role: 'grader', step: 4 });
    expect(parseFault('delay:publication@version=2=250ms')).toEqual({ kind: 'delay-publication', version: 2, ms: 250 });
    expect(parseFault('drop:publication@version=5')).toEqual({ kind: 'drop-publication', version: 5 });
    // a value out of its range: one line naming the spec, the value and the range (it was zod's JSON)
    expect(() => parseFault('drop:publication@version=0')).toThrow(
      "'drop:publication@version=0': version: expected number to be >=1",
    );
    expect(() => parseFault('slow:sampler=200x')).toThrow("'slow:sampler=200x': factor: expected number to be <=100");
    const pubs = new FaultPlan([
      parseFault('delay:publication@version=2=250ms'),
      parseFault('drop:publication@version=2'),
    ]);
    expect(pubs.publication(1)).toEqual({ delayMs: 0, dropped: false });
    expect(pubs.publication(2)).toEqual({ delayMs: 1250, dropped: true });
    expect(pubs.publication(2)).toEqual({ delayMs: 0, dropped: false }); // once
    expect(pubs.firedNames()).toEqual(['delay:publication@version=2', 'drop:publication@version=2']);
  });

  it('maps learner steps to curriculum stages', () => {
    const stages = [
      { difficulty: 3, budgetTokens: 8, steps: 2 },
      { difficulty: 4, budgetTokens: 16, steps: 3 },
    ];
    expect([1, 2, 3, 5].map((k) => stageOfStep(stages, k).index)).toEqual([0, 0, 1, 1]);
  });
});

describe('train config', () => {
  const base = { model: { checkpoint: 'x' }, curriculum: { stages: [{ difficulty: 3, budgetTokens: 8, steps: 1 }] } };
  it.each([
    [{ ...base, curriculum: { stages: [] } }, /curriculum\.stages: Too small/],
    [{ ...base, staleness: { policy: 'eventually' } }, /staleness\.policy: Invalid option/],
    // every number bounded (issue #17: these were accepted)
    [
      { ...base, curriculum: { stages: [{ difficulty: 3, budgetTokens: 8, steps: 1e12 }] } },
      /curriculum\.stages\.0\.steps: Too big/,
    ],
    [
      {
        ...base,
        curriculum: {
          stages: [
            { difficulty: 3, budgetTokens: 8, steps: 600_000 },
            { difficulty: 3, budgetTokens: 8, steps: 600_000 },
          ],
        },
      },
      /curriculum\.stages: 1200000 learner steps in all, expected at most 1000000/,
    ],
    [{ ...base, learner: { klCoef: 1e12 } }, /learner\.klCoef: Too big/],
    [{ ...base, learner: { entropyCoef: 1e12 } }, /learner\.entropyCoef: Too big/],
    [{ ...base, limits: { samplerTimeoutMs: 1e12 } }, /limits\.samplerTimeoutMs: Too big/],
    [{ ...base, checkpoint: { every: 1e12 } }, /checkpoint\.every: Too big/],
    [{ ...base, rollout: { groupSize: 1 } }, /rollout\.groupSize: Too small/],
    [{ ...base, learner: { correction: { kind: 'tis' } } }, /learner\.correction\.c/],
    [{ ...base, staleness: { policy: 'sync', eta: 2 } }, /staleness\.eta: only async and inflight take a bound/],
    [{ ...base, faults: ['crash:gpu@step=1'] }, /faults\.0: 'crash:gpu@step=1': expected/],
    [{ ...base, topology: { samplers: 2, gpus: 1 } }, /topology: Unrecognized key/],
    [
      { ...base, curriculum: { stages: [{ difficulty: 3, buckets: ['easy'], budgetTokens: 8, steps: 1 }] } },
      /curriculum\.stages\.0: give exactly one of difficulty or buckets/,
    ],
    [
      { ...base, curriculum: { stages: [{ difficulty: 3, steps: 1 }] } },
      /curriculum\.stages\.0\.budgetTokens: required when curriculum\.kind is fixed/,
    ],
    [
      { ...base, curriculum: { kind: 'coupled', stages: [{ difficulty: 3, steps: 1 }] } },
      /curriculum\.ladder: required when curriculum\.kind is coupled/,
    ],
    [
      { ...base, curriculum: { stages: [{ buckets: ['easy'], budgetTokens: 8, steps: 1 }] } },
      /curriculum\.pool: required when a stage uses buckets/,
    ],
  ])('names the field of a bad config: %#', (raw, message) => {
    expect(() => parseTrainConfig(raw, 'cfg.yaml')).toThrow(message);
    expect(() => parseTrainConfig(raw, 'cfg.yaml')).toThrow(/^cfg\.yaml: /);
  });
});

describe("the verifier's timeout counts the verification, not the thread's start", () => {
  const limits = { verifierTimeoutMs: 100 };
  const task = { numbers: [1, 2], target: 3, completions: [[1], [2]], fault: null, slowFactor: 1, slowMs: 0 };
  const verdicts = [0, 1].map(() => ({ correct: false, reason: 'no-answer', attempts: 1, selfChecks: 0 }));
  /** A pool whose thread starts after `startMs`, then works `workMs` (null: hangs); aborts reject. */
  const pool = (startMs: number, workMs: number | null) => ({
    run: (t: { started: MessagePort }, o: { signal: AbortSignal }) =>
      new Promise((resolve, reject) => {
        const started = setTimeout(() => {
          t.started.postMessage('started');
          if (workMs !== null) setTimeout(() => resolve(verdicts), workMs);
        }, startMs);
        o.signal.addEventListener('abort', () => {
          clearTimeout(started);
          reject(new Error('The task has been aborted'));
        });
      }),
  });
  const run = (p: ReturnType<typeof pool>) =>
    ({ cfg: { limits }, pool: p }) as unknown as Parameters<typeof verifyInPool>[0];

  it('a thread that starts after 4× the timeout, then verifies at once, is not a timeout', async () => {
    await expect(verifyInPool(run(pool(400, 0)), 'j', task, 2)).resolves.toEqual(verdicts);
  });
  it('a verification that hangs once started fails at the timeout, naming it', async () => {
    await expect(verifyInPool(run(pool(0, null)), 'j', task, 2)).rejects.toThrow(
      'verification of j took longer than 100 ms',
    );
  });
  it("the task holds its verdicts back by a slow fault's milliseconds (slow:verifier=+MSms)", async () => {
    const t0 = performance.now();
    expect(await verifyGroup({ ...task, slowMs: 120 })).toHaveLength(2);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(119);
  });
  it('a thread that never starts fails at the start bound, naming it', async () => {
    await expect(verifyInPool(run(pool(60_000, 0)), 'j', task, 2, 300)).rejects.toThrow(
      'verification of j did not start: no verifier thread within 300 ms',
    );
  });
});
