/**
 * The curriculum on the virtual clock: the core's step (steps/curriculum.ts, the machine deciding)
 * interpreted. A measurement generates with the policy at the published version at once, as the
 * real clock's sampler thread would, and its result is taken when the cost model's time for that
 * generation is over (a `measured` event); meanwhile no step of the new stage is planned.
 */
import path from 'node:path';
import { CurriculumCore, type CurriculumEffect, type CurriculumEvent } from '../steps/curriculum.js';
import {
  CurriculumController,
  isDynamicCurriculum,
  type CurriculumHold,
  type StepPlan,
} from '../curriculum/controller.js';
import type { LadderMeasurement } from '../eval/countdown.js';
import type { TrainConfig } from '../runtime/config.js';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import type { SimEngine } from './engine.js';
import { pump } from './sampling.js';

/**
 * What the engine's state (and so every checkpoint) holds of the curriculum. The controller keeps
 * its stage state, the measurement under way and the buckets in this object (`holdIn`).
 */
export interface SimCurriculum extends CurriculumHold {
  /** A dynamic curriculum's plans of the steps planned and not yet formed into a batch (freed at batch forming). */
  plans: Record<string, StepPlan>;
  /** The measurement under way's result: computed when it began, taken when its time is over. */
  result?: LadderMeasurement | null;
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

/** The run's curriculum: its controller and the core's step over it, the published version read from `sim`. */
export function makeCurriculum(c: TrainConfig, sim: { s: { topo: { published: number } }; o: { maxSteps: number } }) {
  const controller = new CurriculumController(c, c.seed);
  return { controller, core: new CurriculumCore(controller, sim.o.maxSteps, () => sim.s.topo.published) };
}

/** A new run's curriculum state, held by the controller from now on. */
export function initialCurriculum(cur: CurriculumController): SimCurriculum {
  const s: SimCurriculum = { state: cur.state, measuring: false, measurement: null, buckets: null, plans: {} };
  cur.holdIn(s);
  return s;
}

/** A checkpoint's curriculum (a resume, or the state from before an abandoned event) back into the controller and the machine. */
export function restoreCurriculum(sim: SimEngine, s: SimCurriculum): void {
  const cur = sim.curriculum.cur;
  cur.holdIn(s);
  cur.buckets = null;
  if (s.buckets) cur.restoreBuckets(s.buckets);
  sim.curriculum.restore();
}

/** One event into the core's curriculum step, its effects carried out. */
export function stepCurriculum(sim: SimEngine, ev: CurriculumEvent): void {
  for (const e of sim.curriculum.step(ev)) carryOut(sim, e);
}

/** A measurement's time is over: the core takes its result (computed when it began). */
export function measuredEvent(sim: SimEngine): void {
  const hold = sim.s.curriculum!;
  const m = hold.result;
  if (!m) sim.fail('a measured event with no measurement result held');
  hold.result = null;
  stepCurriculum(sim, { type: 'measured', m });
}

function carryOut(sim: SimEngine, e: CurriculumEffect): void {
  switch (e.type) {
    case 'measure':
      measure(sim, e);
      break;
    case 'line':
      sim.metric(e.line);
      break;
    case 'log':
      sim.o.onLog?.(e.text);
      break;
    case 'bucketsFile':
      if (sim.o.dir) writeFileAtomic(path.join(sim.o.dir, 'buckets.json'), JSON.stringify(e.file, null, 2) + '\n');
      break;
    case 'pump':
      pump(sim);
      break;
    case 'transition':
      sim.transition('curriculum', 'curriculum', e.from, e.to, e.event);
      break;
    case 'fail':
      sim.fail(e.message);
  }
}

/**
 * J over the ladder with the policy at the published version, now; its result is held until the
 * generation's time on one sampler is over (the real clock runs it on sampler-0's thread).
 */
function measure(sim: SimEngine, e: Extract<CurriculumEffect, { type: 'measure' }>): void {
  const compute = sim.o.compute;
  if (!compute.measure) sim.fail('a dynamic curriculum needs compute that can measure (compute: real)');
  const r = compute.measure(sim.s.topo.published, e.problems, { ladder: e.ladder, samples: e.samples, k: e.k });
  sim.s.curriculum!.result = r.m;
  const dt = sim.cost.generateSeconds(r.promptTokens, r.maxLength, r.totalTokens) * sim.cost.samplerSpeed(0);
  sim.q.add(sim.s.t + dt, 'measured', -1, 0);
}
