/**
 * The virtual clock's learning side: it feeds core/topology `stepLearning` its events (a group
 * graded, the learner waiting, an update ended, a version published) and carries out the effects
 * (`carryOut`) — the batch held and trained for the cost model's time, the row written, the
 * publication scheduled, a checkpoint or the end of the run.
 */
import { DISPOSITION_CODE, swapsInFlight } from '../core/staleness.js';
import type { DisposedStep } from '../core/batch.js';
import { reissue } from '../core/admission.js';
import { countDisposition } from '../core/ledger.js';
import { evalLine, stepRow, stepStageOf, type StepStage } from '../core/metrics.js';
import { learnerNext, stepLearning, type LearnEffect } from '../core/topology.js';
import { stageOfStep } from '../curriculum/stages.js';
import { firedName } from '../core/faults.js';
import type { SimEngine } from './engine.js';
import type { VerifyJob, StepBatch, ScoredEntry } from './state.js';
import type { Scored } from './compute.js';
import { fired, scheduleWork } from './work.js';
import { stepCurriculum } from './curriculum.js';
import { jitterFactor } from './profile.js';
import { planOfStep, pump } from './sampling.js';

const { trained: TRAINED, 'dropped-stale': DROPPED_STALE } = DISPOSITION_CODE;

export function graded(sim: SimEngine, job: VerifyJob, scored: Scored): void {
  const s = sim.s;
  if (s.t < s.graderStalledUntil) {
    s.graderWaiting.push({ job, scored });
    return;
  }
  const group = { slot: job.group.slot, group: job.group, scored };
  carryOut(sim, stepLearning(sim.topology, { type: 'scored', step: job.step, group }));
}

/**
 * The learning side's effects on the virtual clock (core/topology.ts LearnEffect): each becomes
 * state, scheduled work or a line. Returns what the engine does next: a checkpoint after the step,
 * or the end of the run.
 */
function carryOut(
  sim: SimEngine,
  effects: LearnEffect<ScoredEntry>[],
  /** The learner's statistics, when the event was its update (its row carries them). */
  stats?: Record<string, number>,
): 'continue' | 'done' | 'checkpoint' {
  let next: 'continue' | 'done' | 'checkpoint' = 'continue';
  for (const e of effects) {
    switch (e.type) {
      case 'fail':
        sim.fail(e.message);
        break;
      case 'backfill':
        // its replacement goes ahead of planned work (core/admission reissue); request numbers past the plan's
        reissue(sim.s.topo, { step: e.step, index: sim.perStep + e.slot, slots: [e.slot], attempt: 0 });
        pump(sim);
        break;
      case 'stepComplete':
      case 'learnerFree':
        tryTrain(sim);
        break;
      case 'train':
        holdBatch(sim, e.batch);
        startTraining(sim, 'BATCH');
        break;
      case 'pump':
        pump(sim);
        break;
      case 'row':
        writeRow(sim, stats!);
        break;
      case 'publish':
        sim.o.compute.publish(e.version);
        sim.s.learner.publishAttempts = 0;
        startPublishing(sim, 'TRAINED');
        break;
      case 'evaluate': {
        const r = sim.o.compute.evaluate!(e.version);
        const ev = sim.o.config.eval!;
        sim.metric(
          evalLine({ step: e.version, tSeconds: sim.s.t, evaluatedVersion: r.version, eval: ev, budgets: r.rows }),
        );
        break;
      }
      case 'curriculum':
        stepCurriculum(sim, { type: 'published', version: e.version, passRate: e.passRate });
        break;
      case 'stepDone':
        if (e.last) {
          sim.s.done = true;
          next = 'done';
        } else if (e.checkpoint) next = 'checkpoint';
        break;
    }
  }
  return next;
}

/**
 * A step's rollouts into the run's running counts and its lags into the histogram, when its update
 * is applied (the ledger's part is core/update.ts applyUpdate, as on the real clock). These counts
 * are the virtual clock's second record: each fold compares them with the ledger's.
 */
function countBatch(sim: SimEngine, b: StepBatch): void {
  const s = sim.s;
  for (const { codes, lag } of b.groups) {
    let valid = 0;
    for (const d of codes) {
      countDisposition(s.counts, d);
      s.counts.pending--;
      if (d === TRAINED || d === DROPPED_STALE) valid++;
    }
    if (valid > 0) s.stalenessHist[lag] = (s.stalenessHist[lag] ?? 0) + valid;
  }
  for (let lag = 0; lag < s.stalenessHist.length; lag++) s.stalenessHist[lag] ??= 0;
}

/**
 * The learner takes the batch it holds again (after a restart), or its next step when all its
 * groups are here: the gate both clocks ask (core/topology `learnerNext`).
 */
export function tryTrain(sim: SimEngine): void {
  const l = sim.s.learner;
  const next = learnerNext(sim.topology, {
    waiting: l.state === 'waitingForBatch' && !sim.s.done,
    holdsBatch: !!l.batch,
  });
  if (next === 'again') startTraining(sim, l.replay ? 'REPLAY' : 'BATCH');
  else if (next === 'form') carryOut(sim, stepLearning(sim.topology, { type: 'learnerWaiting' }));
}

/** The formed step, as the learner holds it (in the state: a checkpoint keeps it). */
function holdBatch(sim: SimEngine, d: DisposedStep<ScoredEntry>): void {
  sim.s.outstandingGroups -= sim.perStep;
  sim.s.learner.batch = {
    step: d.step,
    groups: d.groups.map(({ group: { group, scored }, slot, codes, lag }) => ({
      group,
      slot,
      scored,
      trained: codes.map((c) => c === TRAINED),
      codes,
      lag,
    })),
    tokens: d.tokens,
    lagMax: d.lagMax,
    stage: stageOfBatch(sim, d.step),
    trained: d.trainedDigest,
    figures: d.figures,
  };
}

/** The stage a step's metrics row names: the plan's (core/metrics stepStageOf; a dynamic curriculum's plan is freed here). */
function stageOfBatch(sim: SimEngine, k: number): StepStage {
  const stages = sim.o.config.curriculum.stages;
  if (!sim.cur) {
    const st = stageOfStep(stages, k);
    return stepStageOf(stages, { stage: st.index, budgetTokens: st.budgetTokens! });
  }
  const plan = planOfStep(sim, k);
  delete sim.s.curriculum!.plans[k];
  return stepStageOf(stages, plan);
}

export function startTraining(sim: SimEngine, event: string): void {
  const l = sim.s.learner;
  const b = l.batch!;
  l.epoch++;
  l.workStart = sim.s.t;
  sim.setLearner('training', event);
  const dur =
    sim.cost.trainSeconds(b.tokens) *
    l.slow *
    jitterFactor(sim.o.profile.learner.jitter, sim.seed, 3, l.restarts, b.step, 0);
  scheduleWork(sim, 'learner', 0, l, b.step, dur, 'trained');
}

/** The learner's update ended: the compute trains, then the update is applied (core/topology `updated`). */
export function trained(sim: SimEngine): void {
  const s = sim.s;
  const l = s.learner;
  const b = l.batch!;
  if (l.replay) {
    l.replay = false; // the replayed step reproduced the weights it had before the crash
    return startPublishing(sim, 'TRAINED');
  }
  const stats = sim.o.compute.train({ step: b.step, learnerVersion: s.topo.learnerVersion, groups: b.groups });
  // a batch from a checkpoint written before accounting at the update (halted between forming and
  // the update) was accounted when it formed
  const legacy = b.groups.some((g) => g.codes === undefined);
  if (!legacy) countBatch(sim, b);
  carryOut(
    sim,
    stepLearning(sim.topology, {
      type: 'updated',
      batch: {
        step: b.step,
        groups: b.groups,
        lagMax: b.lagMax,
        tokens: legacy ? 0 : b.tokens,
        filter: b.figures.filter,
      },
      version: b.step,
      updateRollouts: stats.updateRollouts ?? 0,
      running: s.counts,
    }),
    stats,
  );
}

/** The metrics row of the step the learner just trained, with its statistics. */
function writeRow(sim: SimEngine, stats: Record<string, number>): void {
  const s = sim.s;
  const b = s.learner.batch!;
  const line = stepRow({
    step: b.step,
    tSeconds: s.t,
    stage: b.stage,
    batch: b.figures,
    counts: s.counts,
    totals: s.topo,
    tokensPerSec: s.t > 0 ? s.topo.tokensGenerated / s.t : 0,
    queueGroups: sim.outstandingGroups(),
    trained: b.trained,
    learner: stats,
  });
  sim.metric(line);
  sim.metrics?.flush(); // one write per step: metrics.jsonl can be followed while the run goes on
  sim.o.onStep?.(line);
}

export function startPublishing(sim: SimEngine, event: string): void {
  const l = sim.s.learner;
  const v = sim.s.topo.learnerVersion;
  l.epoch++;
  sim.setLearner('publishing', event);
  let dt = sim.cost.transferSeconds();
  for (const f of sim.o.faults) {
    if (f.kind === 'delay-publication' && f.version === v && l.publishAttempts === 0) {
      dt += f.by;
      fired(sim, firedName({ kind: 'delay-publication', version: v }));
    }
    if (f.kind === 'drop-publication' && f.version === v && l.publishAttempts === 0) {
      fired(sim, firedName({ kind: 'drop-publication', version: v }));
      l.publishAttempts++;
      sim.q.add(sim.s.t + f.retryAfter, 'republish', 0, l.epoch);
      return;
    }
  }
  l.publishAttempts++;
  sim.q.add(sim.s.t + dt, 'published', 0, l.epoch);
}

/** A version reached the weight store: in-flight swaps, then the learning side's effects (core/topology `published`). */
export function publishedEvent(sim: SimEngine): 'continue' | 'done' | 'checkpoint' {
  const s = sim.s;
  const v = s.topo.learnerVersion;
  const passRate = s.learner.batch!.figures.passRate;
  s.learner.batch = null;
  sim.setLearner('waitingForBatch', 'PUBLISHED');
  const effects = stepLearning(sim.topology, { type: 'published', version: v, passRate });
  // One pass over the samplers: in-flight swaps to v, and the oldest weights still in use.
  const inflight = swapsInFlight(sim.o.config.staleness.policy);
  const arrive = s.t + sim.cost.transferSeconds();
  let oldest = v;
  s.samplers.forEach((sm, i) => {
    if (sm.state === 'generating') {
      if (inflight && sm.version < v) sim.q.add(arrive, 'swap', i, sm.epoch, { version: v });
      if (sm.schedule.length) oldest = Math.min(oldest, sm.schedule[0]![1]);
    } else if (sm.state === 'syncingWeights') oldest = Math.min(oldest, sm.syncTo);
  });
  sim.o.compute.release(oldest);
  return carryOut(sim, effects);
}
