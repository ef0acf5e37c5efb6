/**
 * The curriculum actor on the virtual clock (issue #30): the same controller as the real clock
 * (curriculum/controller.ts: which stage, which problems and budget a planned step gets, when a stage
 * ends, the coupled budget rule), stepped from the engine's events. Its measurements — difficulty
 * buckets at the start, each coupled stage's ladder — generate with the policy at the published
 * version like the real clock's sampler thread does, and take the cost model's time for that
 * generation, during which no step of the new stage is planned.
 */
import path from 'node:path';
import {
  CurriculumController,
  budgetChoiceRecord,
  bucketsRecord,
  isDynamicCurriculum,
  stageLog,
  type CurriculumHold,
  type ProblemSpec,
  type StepPlan,
} from '../curriculum/controller.js';
import type { TrainConfig } from '../runtime/config.js';
import type { Bucket } from '../curriculum/buckets.js';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import type { SimEngine } from './engine.js';

/**
 * What the engine's state (and so every checkpoint) holds of the curriculum; null for a fixed stage
 * list. The controller keeps its stage state and `measuring` in this object (`holdIn`).
 */
export interface SimCurriculum extends CurriculumHold {
  /** Difficulty buckets by problem id, once measured (stages with `buckets`). */
  buckets: Record<string, Bucket> | null;
  /** Plans of the steps planned and not yet formed into a batch (freed at batch forming). */
  plans: Record<string, StepPlan>;
}

/**
 * A dynamic curriculum (coupled budgets, buckets, pass-rate ends) measures with the policy, so on
 * the virtual clock it needs `compute: real`; checked before a run directory is made.
 */
export function checkVirtualCurriculum(c: TrainConfig, compute: 'real' | 'none', source: string): void {
  if (isDynamicCurriculum(c.curriculum) && compute !== 'real')
    throw new InputError(
      `${source}: curriculum: a coupled curriculum, difficulty buckets or a pass-rate stage end needs compute 'real' on the virtual clock (its measurements generate with the policy, and its stage ends read the policy's pass rates), got compute '${compute}'`,
    );
}

/** The controller of a dynamic curriculum, or null (a fixed list: the engine's fast path, no state). */
export function makeCurriculum(c: TrainConfig): CurriculumController | null {
  return isDynamicCurriculum(c.curriculum) ? new CurriculumController(c, c.seed) : null;
}

/** A new run's curriculum state, held by the controller from now on. */
export function initialCurriculum(cur: CurriculumController | null): SimCurriculum | null {
  if (!cur) return null;
  const s: SimCurriculum = { state: cur.state, measuring: false, buckets: null, plans: {} };
  cur.holdIn(s);
  return s;
}

/** A checkpoint's curriculum (a resume, or the state from before an abandoned event) back into the controller. */
export function restoreCurriculum(cur: CurriculumController, s: SimCurriculum): void {
  cur.holdIn(s);
  if (s.buckets) cur.restoreBuckets(cur.poolProblems(), s.buckets);
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
  const cur = sim.cur;
  if (!cur) return false;
  if (cur.usesBuckets() && !sim.s.curriculum!.buckets) {
    measureBuckets(sim, cur);
    return true;
  }
  if (sim.o.config.curriculum.kind === 'coupled' && cur.state.budgets[String(cur.state.stage)] === undefined) {
    measureStage(sim, cur);
    return true;
  }
  return false;
}

/**
 * A measurement's time is over: the next one at the start; else the stage decision the machine
 * makes on entering `running` (steps published meanwhile were counted), and (true) planning goes on.
 */
export function measuredEvent(sim: SimEngine): boolean {
  const cur = sim.cur!;
  cur.measuring = false;
  if (startCurriculum(sim)) return false;
  changeStage(sim, cur, cur.decideStage(), sim.s.published);
  return !cur.measuring;
}

/** Step `version` was published with the batch's pass rate: counted, and the stage may end. */
export function curriculumStepDone(sim: SimEngine, version: number, passRate: number): void {
  if (sim.cur) changeStage(sim, sim.cur, sim.cur.stepDone(passRate), version);
}

/** The curriculum machine's `stageChanged` (a coupled stage starts with its measurement). */
function changeStage(sim: SimEngine, cur: CurriculumController, next: 'same' | 'next' | 'measure', version: number) {
  if (next === 'same') return;
  const reason = cur.stageDoneReason();
  cur.advance();
  if (next === 'measure') cur.measuring = true;
  // Past the run's last step no step of the new stage follows: no line, no measurement.
  if (version >= sim.o.maxSteps) return;
  sim.metric({ type: 'stage', step: version, stage: cur.state.stage, reason });
  sim.o.onLog?.(stageLog(cur.state.stage, version, reason));
  if (next === 'measure') measureStage(sim, cur);
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
function measureStage(sim: SimEngine, cur: CurriculumController): void {
  const c = sim.o.config.curriculum;
  const stage = cur.state.stage;
  cur.measuring = true;
  const problems = cur.stageProblems(stage, c.measure.problems, `measure-${sim.s.published}`);
  const r = measure(sim, problems, { ladder: c.ladder!, samples: c.measure.samples, k: c.k });
  const d = cur.decide(stage, r.m);
  const rec = budgetChoiceRecord(c, { step: sim.s.published, stage, problems: problems.length, m: r.m, d });
  sim.metric(rec.line);
  sim.o.onLog?.(rec.log);
  schedule(sim, r);
}

/** Difficulty buckets from the starting policy's pass rates (once per run; also in buckets.json, as the real clock). */
function measureBuckets(sim: SimEngine, cur: CurriculumController): void {
  const p = sim.o.config.curriculum.pool!;
  cur.measuring = true;
  const pool = cur.poolProblems();
  const r = measure(sim, pool, { ladder: [p.budgetTokens], samples: p.samples, k: p.k });
  const b = cur.setBuckets(pool, r.m);
  sim.s.curriculum!.buckets = b.assignment;
  const rec = bucketsRecord(sim.o.config.curriculum, { step: sim.s.published, m: r.m, b });
  if (sim.o.dir) writeFileAtomic(path.join(sim.o.dir, 'buckets.json'), JSON.stringify(rec.file, null, 2) + '\n');
  sim.metric(rec.line);
  sim.o.onLog?.(rec.log);
  schedule(sim, r);
}
