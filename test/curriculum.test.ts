import { describe, expect, it } from 'vitest';
import { pickBudget } from '../src/curriculum/pickBudget.js';

const LADDER = [256, 512, 1024, 2048, 4096];

describe('pickBudget (E3.md: smallest B ≥ B0 with J(2B) ≤ κ·J(B))', () => {
  it("reproduces the paper's Countdown example: J = 0.06, 0.17, 0.23, 0.24, 0.24 → 1024", () => {
    const r = pickBudget(LADDER, [0.06, 0.17, 0.23, 0.24, 0.24], 1.2, 256);
    expect(r).toMatchObject({ budget: 1024, reason: 'rule' });
    // E3.md prints ratios 2.92, 1.38, 1.02, 1.00 from its unrounded J; from the rounded J they are:
    expect(r.ratios.map((x) => Number(x.ratio!.toFixed(2)))).toEqual([2.83, 1.35, 1.04, 1]);
  });

  it('respects the minimum budget B0 (rounded up into the ladder)', () => {
    expect(pickBudget(LADDER, [0.2, 0.21, 0.22, 0.23, 0.24], 1.2, 256).budget).toBe(256);
    expect(pickBudget(LADDER, [0.2, 0.21, 0.22, 0.23, 0.24], 1.2, 300).budget).toBe(512);
    expect(pickBudget(LADDER, [0.2, 0.21, 0.22, 0.23, 0.24], 1.2, 5000)).toMatchObject({
      budget: 4096,
      reason: 'min-above-ladder',
    });
  });

  it('returns the largest budget when every doubling still gains more than κ×', () => {
    expect(pickBudget(LADDER, [0.01, 0.02, 0.04, 0.08, 0.16], 1.2, 256)).toMatchObject({
      budget: 4096,
      reason: 'none-qualified',
    });
  });

  it('never calls a zero score saturated; all zero gives the largest budget', () => {
    expect(pickBudget(LADDER, [0, 0, 0, 0, 0], 1.2, 256)).toMatchObject({ budget: 4096, reason: 'all-zero' });
    // 0 → 0 is not "at most κ×": the first qualifying budget is the first with signal.
    expect(pickBudget(LADDER, [0, 0, 0.1, 0.11, 0.11], 1.2, 256)).toMatchObject({ budget: 1024, reason: 'rule' });
    expect(pickBudget(LADDER, [0, 0, 0.1, 0.11, 0.11], 1.2, 256).ratios[0]!.ratio).toBeNull();
  });

  it('boundary: a ratio exactly κ qualifies; unsorted input is fine; bad input is refused', () => {
    expect(pickBudget([512, 256, 1024], [0.12, 0.1, 0.2], 1.2, 0).budget).toBe(256);
    expect(() => pickBudget([256], [0.1, 0.2], 1.2, 0)).toThrow(/1 budgets and 2 scores/);
    expect(() => pickBudget([256], [0.1], 0.9, 0)).toThrow(/kappa must be ≥ 1/);
  });
});

import { bucketByPassRate, summarizeBuckets } from '../src/curriculum/buckets.js';

describe('difficulty buckets from measured pass rates', () => {
  const m = (id: string, passRate: number, passAtK = passRate > 0 ? 1 : 0) => ({ id, passRate, passAtK });

  it('splits into thirds by pass rate; unsolved problems are hard', () => {
    const items = [m('a', 0.9), m('b', 0.1), m('c', 0), m('d', 0.5), m('e', 0.7), m('f', 0.3)];
    const b = bucketByPassRate(items);
    expect(Object.fromEntries(b)).toEqual({ a: 'easy', e: 'easy', d: 'medium', f: 'medium', b: 'hard', c: 'hard' });
    expect(summarizeBuckets(items, b).map((s) => [s.bucket, s.problems, Number(s.meanPassRate.toFixed(2))])).toEqual([
      ['easy', 2, 0.8],
      ['medium', 2, 0.4],
      ['hard', 2, 0.05],
    ]);
  });

  it('every unsolved problem is hard even when they are more than a third', () => {
    const items = [m('a', 0.5), m('b', 0), m('c', 0), m('d', 0), m('e', 0.2), m('f', 0)];
    expect(Object.fromEntries(bucketByPassRate(items))).toEqual({
      a: 'easy',
      e: 'easy',
      b: 'hard',
      c: 'hard',
      d: 'hard',
      f: 'hard',
    });
  });

  it('ties in pass rate keep the pool order', () => {
    const items = [m('a', 0.25, 0.6), m('b', 0.25, 0.6), m('c', 0.25, 0.6)];
    expect(Object.fromEntries(bucketByPassRate(items))).toEqual({ a: 'easy', b: 'medium', c: 'hard' });
  });
});

import { beforeAll } from 'vitest';
import { initBackend } from '../src/tensor/backend.js';
import { loadCountdownPolicy } from '../src/policy/load.js';
import { measureLadder } from '../src/eval/countdown.js';
import { generateProblem } from '../src/tasks/countdown/problems.js';
import { Rng } from '../src/util/rng.js';
import { passAtK } from '../src/rl/passk.js';

describe("measuring J over a budget ladder (the curriculum actor's measurement)", () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('is monotone in the budget (truncation), consistent with pass@k per problem, and seeded', () => {
    const { model } = loadCountdownPolicy('examples/checkpoints/base-countdown');
    const rng = new Rng('ladder-test');
    const problems = Array.from({ length: 6 }, (_, i) => generateProblem(rng.fork(i), 3, 'train'));
    const o = { ladder: [64, 16, 32], samples: 4, k: 2, seed: 1, temperature: 1, batchSize: 32 };
    const m = measureLadder(model, problems, o);
    expect(m.ladder.map((p) => p.budget)).toEqual([16, 32, 64]);
    for (let i = 1; i < m.ladder.length; i++) {
      expect(m.ladder[i]!.J).toBeGreaterThanOrEqual(m.ladder[i - 1]!.J);
      expect(m.ladder[i]!.meanLength).toBeGreaterThanOrEqual(m.ladder[i - 1]!.meanLength);
    }
    expect(m.perProblem).toHaveLength(new Set(problems.map((p) => p.id)).size);
    const top = m.perProblem.reduce((s, p) => s + passAtK(4, Math.round(p.passRate * 4), 2), 0) / m.perProblem.length;
    expect(m.ladder.at(-1)!.J).toBeCloseTo(top, 10);
    expect(measureLadder(model, problems, o)).toEqual(m);
    expect(() => measureLadder(model, problems, { ...o, k: 5 })).toThrow(/pass@5 needs at least 5 samples/);
    expect(() => measureLadder(model, problems, { ...o, ladder: [4096] })).toThrow(/exceeds the model's context/);
    model.dispose();
  }, 60_000);
});

import { CurriculumController } from '../src/curriculum/controller.js';
import { parseTrainConfig } from '../src/runtime/config.js';

describe("the curriculum's state is bounded (issue #30: checkpoints do not grow with run length)", () => {
  it('keeps 2 × window pass rates, and decides a stage end exactly as with the whole history', () => {
    const window = 3;
    const cfg = parseTrainConfig(
      {
        name: 'bounded',
        model: { checkpoint: 'x' },
        curriculum: {
          stages: [
            { difficulty: 3, budgetTokens: 48, steps: 500, plateau: { window, minGain: 0.02 } },
            { difficulty: 4, budgetTokens: 48, steps: 10 },
          ],
        },
      },
      'cfg.yaml',
    );
    const c = new CurriculumController(cfg, 1);
    const rng = new Rng(4);
    const all: number[] = [];
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    let ended = -1;
    const sizes: number[] = [];
    for (let step = 1; step <= 200 && ended < 0; step++) {
      // a pass rate rising 0.01 a step (the window's gain 0.03 > minGain) that flattens at step 100:
      // the plateau test must fire there, not before
      const p = Math.min(step, 100) / 100 + (rng.float() - 0.5) * 1e-3;
      all.push(p);
      c.recordStep(p);
      sizes.push(JSON.stringify(c.state).length);
      const full = all.length >= 2 * window && mean(all.slice(-window)) - mean(all.slice(-2 * window, -window)) < 0.02;
      expect(c.stageDoneReason() === 'plateau').toBe(full);
      if (full) ended = step;
      expect(c.state.passRates.length).toBeLessThanOrEqual(2 * window);
    }
    expect(ended).toBeGreaterThan(100);
    expect(ended).toBeLessThan(110);
    // the state at step 10 and at the end: within 10% (the digits of the numbers vary)
    expect(sizes.at(-1)! / sizes[9]!).toBeLessThan(1.1);
  });
});

import { createActor, fromPromise } from 'xstate';
import { curriculumMachine } from '../machines/index.js';

describe('the curriculum on both clocks decides alike (issue #30)', () => {
  it("the virtual clock's decisions (CurriculumController.stepDone, decideStage) change stage where the machine does, measurements spanning steps included", async () => {
    for (const kind of ['coupled', 'fixed'] as const) {
      const budget = kind === 'fixed' ? { budgetTokens: 48 } : {};
      const cfg = parseTrainConfig(
        {
          name: 'decide',
          model: { checkpoint: 'x' },
          curriculum: {
            kind,
            ...(kind === 'coupled' ? { ladder: [24, 48], measure: { problems: 2, samples: 2 }, k: 2 } : {}),
            stages: [
              { difficulty: 3, ...budget, steps: 50, passThreshold: 0.5 },
              { difficulty: 4, ...budget, steps: 1 },
              { difficulty: 5, ...budget, steps: 3 },
              { difficulty: 5, ...budget, steps: 3 },
            ],
          },
        },
        'cfg.yaml',
      );
      // the real clock: the machine, its guards asking one controller, its stage change advancing
      // it; a measurement lasts two published steps (steps of the old stage still training)
      const real = new CurriculumController(cfg, 1);
      const changes: number[] = [];
      let finishMeasure: (() => void) | null = null;
      let step = 0;
      const actor = createActor(
        curriculumMachine.provide({
          actors: { measure: fromPromise(() => new Promise<void>((res) => (finishMeasure = res))) },
          actions: {
            stageChanged: () => {
              real.advance();
              real.measuring = kind === 'coupled';
              changes.push(step);
            },
            reportFailure: () => {
              throw new Error('no failure planted');
            },
          },
          guards: {
            stageDone: () => real.stageDoneReason() !== null,
            lastStage: () => real.state.stage >= cfg.curriculum.stages.length - 1,
            measuresStages: () => kind === 'coupled',
          },
        }),
        { input: { measureFirst: false } },
      );
      actor.start();
      // the virtual clock: sim/curriculum.ts's calls, the measurement's end an event two steps later
      const virtual = new CurriculumController(cfg, 1);
      const virtualChanges: number[] = [];
      let measuredAt = -1;
      const rng = new Rng(9);
      for (step = 1; step <= 40; step++) {
        if (step === measuredAt) {
          real.measuring = false;
          (finishMeasure as (() => void) | null)?.();
          await new Promise((res) => setTimeout(res, 0)); // the machine takes its onDone
          virtual.measuring = false;
          const next = virtual.decideStage();
          if (next !== 'same') {
            virtual.advance();
            virtual.measuring = next === 'measure';
            virtualChanges.push(step);
            measuredAt = next === 'measure' ? step + 2 : -1;
          }
        }
        const p = step < 6 ? 0.2 : rng.float(); // below the threshold, then noise around it
        real.recordStep(p);
        if (actor.getSnapshot().status === 'active') actor.send({ type: 'STEP_DONE' });
        const next = virtual.stepDone(p);
        expect(next === 'measure').toBe(next !== 'same' && kind === 'coupled');
        if (next !== 'same') {
          virtual.advance();
          virtual.measuring = next === 'measure';
          virtualChanges.push(step);
          if (next === 'measure') measuredAt = step + 2;
        }
        expect(virtual.state).toEqual(real.state);
      }
      expect(virtualChanges).toEqual(changes);
      expect(changes).toHaveLength(3); // every stage end happened; the last stage never ends
      expect(changes[0]).toBeGreaterThanOrEqual(6);
      // the one-step stage 1 was over during its measurement: decided when the measurement ended
      if (kind === 'coupled') expect(changes[1]).toBe(changes[0]! + 2);
      else expect(changes[1]).toBe(changes[0]! + 1);
      actor.stop();
    }
  });
});
