/**
 * The curriculum actor on the virtual clock (issue #30): the same controller as the real clock
 * (curriculum/controller.ts: which stage, which problems and budget a planned step gets, when a stage
 * ends, the coupled budget rule), stepped from the engine's events. Its measurements — difficulty
 * buckets at the start, each coupled stage's ladder — generate with the policy at the published
 * version like the real clock's sampler thread does, and take the cost model's time for that
 * generation, during which no step of the new stage is planned.
 */
import path from 'node:path';
import { CurriculumController, type ProblemSpec, type StepPlan } from '../curriculum/controller.js';
import type { TrainConfig } from '../runtime/config.js';
import type { Bucket } from '../curriculum/buckets.js';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import type { SimEngine } from './engine.js';

/** What the engine's state (and so every checkpoint) holds of the curriculum; null for a fixed stage list. */
export interface SimCurriculum {
  state: CurriculumController['state'];
  /** A measurement is under way: no step of the current stage may be planned (core of planLimit). */
  measuring: boolean;
  /** Difficulty buckets by problem id, once measured (stages with `buckets`). */
  buckets: Record<string, Bucket> | null;
  /** Plans of the steps planned and not yet formed into a batch (freed at batch forming). */
  plans: Record<string, StepPlan>;
}

/** Why a stage ended, in words (as the real clock logs it). */
const STAGE_REASONS = {
  steps: 'the stage ran all its steps',
  threshold: 'its pass rate reached curriculum passThreshold',
  plateau: 'its pass rate stopped rising (plateau)',
} as const;

/**
 * A dynamic curriculum (coupled budgets, buckets, pass-rate ends) measures with the policy, so on
 * the virtual clock it needs `compute: real`; checked before a run directory is made.
 */
export function checkVirtualCurriculum(c: TrainConfig, compute: 'real' | 'none', source: string): void {
  const cur = new CurriculumController(c, c.seed);
  if (cur.dynamic && compute !== 'real')
    throw new InputError(
      `${source}: curriculum: a coupled curriculum, difficulty buckets or a pass-rate stage end needs compute 'real' on the virtual clock (its measurements generate with the policy, and its stage ends read the policy's pass rates), got compute '${compute}'`,
    );
}

/** The controller of a dynamic curriculum, or null (a fixed list: the engine's fast path, no state). */
export function makeCurriculum(c: TrainConfig): CurriculumController | null {
  const cur = new CurriculumController(c, c.seed);
  return cur.dynamic ? cur : null;
}

export function initialCurriculum(cur: CurriculumController | null): SimCurriculum | null {
  return cur ? { state: cur.state, measuring: false, buckets: null, plans: {} } : null;
}

/** A checkpoint's curriculum back into the controller. */
export function restoreCurriculum(cur: CurriculumController, s: SimCurriculum): void {
  cur.state = s.state;
  cur.measuring = s.measuring;
  if (s.buckets) cur.restoreBuckets(cur.poolProblems(), s.buckets);
}

function curOf(sim: SimEngine): { cur: CurriculumController; s: SimCurriculum } {
  return { cur: sim.cur!, s: sim.s.curriculum! };
}

/** The last step that may be planned now. */
export function planLimit(sim: SimEngine): number {
  return sim.cur ? sim.cur.planLimit(sim.s.published, sim.o.maxSteps) : sim.o.maxSteps;
}

/** Step k is planned: its stage, budget and problems are fixed now (the stage current now). */
export function planned(sim: SimEngine, k: number): void {
  if (sim.cur) sim.s.curriculum!.plans[k] = sim.cur.planOf(k, sim.slotsPerStep);
}

export function planOfStep(sim: SimEngine, k: number): StepPlan {
  const p = sim.s.curriculum!.plans[k];
  if (!p) sim.fail(`step ${k} has no curriculum plan`);
  return p;
}

/**
 * The run's start: difficulty buckets measured on the starting policy, then (coupled) the first
 * stage's budget — each a `measured` event after its generation time. False: nothing to measure.
 */
export function startCurriculum(sim: SimEngine): boolean {
  if (!sim.cur) return false;
  const { cur, s } = curOf(sim);
  if (cur.usesBuckets() && !s.buckets) {
    measureBuckets(sim);
    return true;
  }
  if (sim.o.config.curriculum.kind === 'coupled' && s.state.budgets[String(s.state.stage)] === undefined) {
    measureStage(sim);
    return true;
  }
  return false;
}

/**
 * A measurement's time is over: the next one at the start; else the stage decision the machine
 * makes on entering `running` (steps published meanwhile were counted), and (true) planning goes on.
 */
export function measuredEvent(sim: SimEngine): boolean {
  const { cur, s } = curOf(sim);
  cur.measuring = s.measuring = false;
  if (startCurriculum(sim)) return false;
  changeStage(sim, cur.decideStage(), sim.s.published);
  return !cur.measuring;
}

/** Step `version` was published with the batch's pass rate: counted, and the stage may end. */
export function curriculumStepDone(sim: SimEngine, version: number, passRate: number): void {
  if (!sim.cur) return;
  const { cur, s } = curOf(sim);
  const next = cur.stepDone(passRate);
  s.state = cur.state;
  changeStage(sim, next, version);
}

/** The curriculum machine's `stageChanged` (a coupled stage starts with its measurement). */
function changeStage(sim: SimEngine, next: 'same' | 'next' | 'measure', version: number): void {
  if (next === 'same') return;
  const { cur, s } = curOf(sim);
  const reason = cur.stageDoneReason();
  cur.advance();
  s.state = cur.state;
  if (next === 'measure') cur.measuring = s.measuring = true;
  // Past the run's last step no step of the new stage follows: no line, no measurement.
  if (version >= sim.o.maxSteps) return;
  sim.metric({ type: 'stage', step: version, stage: s.state.stage, reason });
  sim.o.onLog?.(`stage ${s.state.stage} begins after step ${version} (${STAGE_REASONS[reason ?? 'steps']})`);
  if (next === 'measure') measureStage(sim);
}

/** Generation seconds of a measurement on one sampler (the real clock runs it on sampler-0's thread). */
function schedule(sim: SimEngine, size: { promptTokens: number; maxLength: number; totalTokens: number }): void {
  const dt = sim.cost.generateSeconds(size.promptTokens, size.maxLength, size.totalTokens) * sim.cost.samplerSpeed(0);
  sim.q.add(sim.s.t + dt, 'measured', -1, 0);
}

function measure(sim: SimEngine, problems: ProblemSpec[], o: { ladder: number[]; samples: number; k: number }) {
  const compute = sim.o.compute;
  if (!compute.measure) sim.fail('a dynamic curriculum needs compute that can measure (compute: real)');
  return compute.measure(sim.s.published, problems, o);
}

/** Coupled curriculum, at a stage start: J over the ladder on the stage's data, then E3.md's rule. */
function measureStage(sim: SimEngine): void {
  const { cur, s } = curOf(sim);
  const c = sim.o.config.curriculum;
  const stage = s.state.stage;
  cur.measuring = s.measuring = true;
  const problems = cur.stageProblems(stage, c.measure.problems, `measure-${sim.s.published}`);
  const r = measure(sim, problems, { ladder: c.ladder!, samples: c.measure.samples, k: c.k });
  const m = r.m;
  const d = cur.decide(stage, m);
  s.state = cur.state;
  sim.metric({
    type: 'budget-choice',
    step: sim.s.published,
    stage,
    minBudget: d.minBudget,
    ladder: m.ladder.map((p) => p.budget),
    scores: m.ladder.map((p) => p.J),
    meanLengths: m.ladder.map((p) => p.meanLength),
    ratios: d.ratios,
    budget: d.budget,
    reason: d.reason,
    k: c.k,
    problems: problems.length,
    samples: c.measure.samples,
    kappa: c.kappa,
  });
  sim.o.onLog?.(
    `stage ${stage}: budget ${d.budget} tokens (${d.reason}; J ${m.ladder.map((p) => `${p.budget}:${p.J.toFixed(3)}`).join(' ')}; B0 ${d.minBudget.toFixed(1)})`,
  );
  schedule(sim, r);
}

/** Difficulty buckets from the starting policy's pass rates (once per run; also in buckets.json, as the real clock). */
function measureBuckets(sim: SimEngine): void {
  const { cur, s } = curOf(sim);
  const p = sim.o.config.curriculum.pool!;
  cur.measuring = s.measuring = true;
  const pool = cur.poolProblems();
  const r = measure(sim, pool, { ladder: [p.budgetTokens], samples: p.samples, k: p.k });
  const b = cur.setBuckets(pool, r.m);
  s.buckets = b.assignment;
  if (sim.o.dir) {
    const record = {
      measuredAtVersion: sim.s.published,
      budgetTokens: p.budgetTokens,
      samples: p.samples,
      k: p.k,
      summary: b.summary,
      assignment: b.assignment,
      perProblem: r.m.perProblem,
    };
    writeFileAtomic(path.join(sim.o.dir, 'buckets.json'), JSON.stringify(record, null, 2) + '\n');
  }
  sim.metric({ type: 'buckets', step: sim.s.published, summary: b.summary });
  sim.o.onLog?.(
    `difficulty buckets: ${b.summary.map((x) => `${x.bucket} ${x.problems} (pass ${x.meanPassRate.toFixed(2)})`).join(', ')}`,
  );
  schedule(sim, r);
}
