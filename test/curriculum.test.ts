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

import { CurriculumCore, type CurriculumEffect } from '../src/steps/curriculum.js';
import type { LadderMeasurement } from '../src/eval/countdown.js';

describe("the curriculum's step (steps/curriculum.ts: the machine decides, both clocks carry out its effects)", () => {
  // three stages of 2, 1 and 3 steps, each starting with a measurement over the ladder 24, 48
  const cfg = parseTrainConfig(
    {
      name: 'core',
      model: { checkpoint: 'x' },
      curriculum: {
        kind: 'coupled',
        ladder: [24, 48],
        measure: { problems: 2, samples: 2 },
        k: 2,
        stages: [
          { difficulty: 3, steps: 2 },
          { difficulty: 4, steps: 1 },
          { difficulty: 5, steps: 3 },
        ],
      },
    },
    'cfg.yaml',
  );
  // J(24) = 0.2, J(48) = 0.22: 0.22 ≤ 1.2 × 0.2, and B0 (the mean length at 48) = 10 ≤ 24, so 24
  const m: LadderMeasurement = {
    k: 2,
    samples: 2,
    ladder: [
      { budget: 24, J: 0.2, meanLength: 8 },
      { budget: 48, J: 0.22, meanLength: 10 },
    ] as LadderMeasurement['ladder'],
    perProblem: [],
  };
  /** The effects without a measurement's problems (drawn by the seed) and lines' bulk: what each is. */
  const brief = (effects: CurriculumEffect[]) =>
    effects.map((e) => {
      switch (e.type) {
        case 'measure':
          return `measure ${e.label} (${e.problems.length} problems, ladder ${e.ladder.join('/')})`;
        case 'line':
          return `line ${e.line.type} step ${e.line.step} stage ${e.line.stage}${e.line.budget !== undefined ? ` budget ${e.line.budget}` : ''}`;
        case 'log':
          return 'log';
        case 'transition':
          return `${e.from} → ${e.to} (${e.event})`;
        case 'fail':
          return `fail: ${e.message}`;
        default:
          return e.type;
      }
    });
  function core() {
    const cur = new CurriculumController(cfg, 1);
    const at = { published: 0 };
    return { cur, at, core: new CurriculumCore(cur, 6, () => at.published) };
  }

  it('measures at each stage start, decides when a measurement ends, and fails on a failed one', () => {
    const { cur, at, core: c } = core();
    expect(brief(c.step({ type: 'start' }))).toEqual([
      'measure stage 0 (2 problems, ladder 24/48)',
      'null → measuring (xstate.init)',
    ]);
    expect(cur.planLimit(0, 6)).toBe(0); // nothing planned while measuring
    expect(brief(c.step({ type: 'measured', m }))).toEqual([
      'line budget-choice step 0 stage 0 budget 24',
      'log',
      'measuring → running (MEASURED)',
      'pump',
    ]);
    expect(cur.planLimit(0, 6)).toBe(2); // the stage's two steps
    at.published = 1;
    expect(c.step({ type: 'published', version: 1, passRate: 0.5 })).toEqual([]);
    at.published = 2;
    expect(brief(c.step({ type: 'published', version: 2, passRate: 0.5 }))).toEqual([
      'line stage step 2 stage 1',
      'log',
      'pump',
      'measure stage 1 (2 problems, ladder 24/48)',
      'running → measuring (STEP_DONE)',
    ]);
    // a step planned before the change is published while stage 1 is measured: counted in stage 1,
    // whose one step is then used up, so its end is decided when the measurement ends
    at.published = 3;
    expect(c.step({ type: 'published', version: 3, passRate: 0.5 })).toEqual([]);
    expect(brief(c.step({ type: 'measured', m }))).toEqual([
      'line budget-choice step 3 stage 1 budget 24',
      'log',
      'line stage step 3 stage 2',
      'log',
      'pump',
      'measure stage 2 (2 problems, ladder 24/48)',
      'pump',
    ]);
    expect(cur.state).toMatchObject({ stage: 2, stepsInStage: 0, budgets: { '0': 24, '1': 24 } });
    expect(brief(c.step({ type: 'measureFailed', error: 'thread died' }))).toEqual([
      'fail: curriculum: measuring stage 2 failed: thread died',
      'measuring → failed (MEASURE_FAILED)',
    ]);
  });

  it('an error thrown inside the machine (a broken controller) fails the run through a fail effect', () => {
    const { cur, at, core: c } = core();
    c.step({ type: 'start' });
    c.step({ type: 'measured', m });
    cur.advance = () => {
      throw new Error('stage state broken');
    };
    at.published = 1;
    c.step({ type: 'published', version: 1, passRate: 0.5 });
    at.published = 2;
    expect(brief(c.step({ type: 'published', version: 2, passRate: 0.5 }))).toEqual([
      'fail: curriculum: stage state broken',
    ]);
  });

  it('a restored hold (a virtual checkpoint mid-measurement) goes on as the run it came from', () => {
    const a = core();
    a.core.step({ type: 'start' });
    a.core.step({ type: 'measured', m });
    for (const v of [1, 2]) {
      a.at.published = v;
      a.core.step({ type: 'published', version: v, passRate: 0.5 });
    }
    // the checkpoint: the hold as JSON, into a new controller and core
    const hold = JSON.parse(
      JSON.stringify({ state: a.cur.state, measuring: a.cur.measuring, measurement: a.cur.measurement }),
    );
    const b = core();
    b.at.published = 2;
    b.cur.holdIn(hold);
    b.core.restore();
    expect(b.cur.measurement).toEqual({ what: 'stage', stage: 1, problems: 2 });
    const goOn = (x: ReturnType<typeof core>) => {
      x.at.published = 3;
      return [
        ...x.core.step({ type: 'published', version: 3, passRate: 0.5 }),
        ...x.core.step({ type: 'measured', m }),
      ];
    };
    const restored = goOn(b);
    expect(restored).toEqual(goOn(a));
    expect(restored.filter((e) => e.type === 'transition')).toEqual([]); // still measuring, as before the checkpoint
    expect(b.cur.state).toEqual(a.cur.state);
  });

  it("past the run's last step a stage change writes no line and measures nothing; a stopped core takes nothing", () => {
    const { at, core: c } = core();
    c.step({ type: 'start' });
    c.step({ type: 'measured', m });
    at.published = 1;
    c.step({ type: 'published', version: 1, passRate: 0.5 });
    // --max-steps 2: stage 0's two steps are the run's last
    const cutAt = { published: 0 };
    const cut = new CurriculumCore(new CurriculumController(cfg, 1), 2, () => cutAt.published);
    cut.step({ type: 'start' });
    cut.step({ type: 'measured', m });
    cutAt.published = 1;
    cut.step({ type: 'published', version: 1, passRate: 0.5 });
    cutAt.published = 2;
    expect(brief(cut.step({ type: 'published', version: 2, passRate: 0.5 }))).toEqual([
      'running → measuring (STEP_DONE)',
    ]);
    c.stop();
    expect(c.step({ type: 'measured', m })).toEqual([]);
  });
});
