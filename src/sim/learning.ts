/**
 * The virtual clock's verification, grading, batching and learner: scored groups wait by step, a
 * complete step forms its batch (core/ledger's disposition rule, slot order), trains, publishes.
 */
import { DISPOSITION_CODE, lagOf, swapsInFlight } from '../core/staleness.js';
import { BatchTally, StepQueue, disposeGroup, stepQueueCapacity, type BatchRules } from '../core/batch.js';
import { reissue } from '../core/admission.js';
import { applyUpdate, checkpointDue, evalDue } from '../core/update.js';
import { countDisposition } from '../core/ledger.js';
import { evalLine, stepRow, stepStageOf, type StepStage } from '../core/metrics.js';
import { stageOfStep } from '../curriculum/stages.js';
import type { GeneratedGroup, Scored } from './compute.js';
import type { SimEngine } from './engine.js';
import type { VerifyJob, StepBatch, SimState } from './state.js';
import { backfillSlot, outcomeOf as outcomeOfRewards, type GroupOutcome } from '../core/dynamicSampling.js';
import { fired, scheduleWork } from './work.js';
import { curriculumStepDone, planOfStep } from './curriculum.js';
import { jitterFactor } from './profile.js';
import { brokenInvariantMessage } from '../core/faults.js';
import { pump } from './sampling.js';

const { trained: TRAINED, 'dropped-stale': DROPPED_STALE } = DISPOSITION_CODE;

export function graded(sim: SimEngine, job: VerifyJob, scored: Scored): void {
  const s = sim.s;
  if (s.t < s.graderStalledUntil) {
    s.graderWaiting.push({ job, scored });
    return;
  }
  const queue = queueOf(sim);
  const entry = { slot: job.group.slot, group: job.group, scored };
  const bad = queue.add(job.step, entry);
  if (bad) sim.fail(bad);
  const ds = sim.o.config.rollout.dynamicSampling;
  const next = queue.filtered(entry) ? backfillSlot(job.group.slot, sim.perStep, ds) : null;
  if (next !== null) {
    // its replacement goes ahead of planned work (core/dynamicSampling); request numbers past the plan's
    reissue(s, { step: job.step, index: sim.perStep + next, slots: [next], attempt: 0 });
    pump(sim);
  }
  if (queue.complete(job.step)) tryTrain(sim);
}

type ScoredEntry = SimState['scored'][string][number];
/** Each state's queue (core/batch StepQueue) over its `scored` groups: rebuilt when a checkpoint or snapshot is loaded. */
const queues = new WeakMap<object, StepQueue<ScoredEntry>>();

function queueOf(sim: SimEngine): StepQueue<ScoredEntry> {
  const held = sim.s.scored;
  let q = queues.get(held);
  if (!q) {
    const ds = sim.o.config.rollout.dynamicSampling;
    const capacity = stepQueueCapacity(sim.capacity, ds);
    q = new StepQueue<ScoredEntry>(
      sim.perStep,
      capacity,
      ds,
      (e) => e.slot,
      (e) => outcomeOf(e.scored),
      held,
    );
    queues.set(held, q);
  }
  return q;
}

/** A scored group's rewards and verdicts (core/dynamicSampling `outcomeOf`). */
function outcomeOf(scored: Scored): GroupOutcome {
  const c = scored.correct;
  return outcomeOfRewards(scored.rewards, c ? (i) => c[i]! : undefined);
}

/**
 * One group of step k into the batch (core/batch.ts disposeGroup, the real clock's rule): each
 * rollout's disposition, decided here and written into the ledger when the update is applied
 * (core/update.ts `applyUpdate`), the bound checked, the figures tallied. Returns the batch's entry: which
 * rollouts train, their codes, the lag (a group's rows start and swap together: one per group).
 */
function formGroup(
  sim: SimEngine,
  k: number,
  g: GeneratedGroup,
  scored: Scored,
  rules: BatchRules,
  t: BatchTally,
): StepBatch['groups'][number] {
  const codes = new Array<number>(g.lengths.length);
  const view = {
    slot: g.slot,
    rewards: scored.rewards,
    invalid: scored.invalid,
    lengths: g.lengths,
    correct: scored.correct,
    oldest: g.minVersion,
  };
  const bad = disposeGroup(k, view, rules, t, codes);
  if (bad !== null) sim.fail(bad);
  const trained = new Array<boolean>(codes.length);
  for (let j = 0; j < codes.length; j++) trained[j] = codes[j] === TRAINED;
  return { group: g, slot: g.slot, scored, trained, codes, lag: lagOf(rules.learnerVersion, g.minVersion) };
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

export function tryTrain(sim: SimEngine): void {
  const s = sim.s;
  const l = s.learner;
  const k = s.learnerVersion + 1;
  if (l.state !== 'waitingForBatch' || l.batch || s.done) return;
  const queue = queueOf(sim);
  if (!queue.complete(k)) return;
  for (const f of sim.o.faults) if (f.kind === 'break-invariant' && f.step === k) sim.fail(brokenInvariantMessage(k));
  const list = queue.take(k);
  const t = new BatchTally(k, list.length * sim.G, sim.perStep);
  const c = sim.o.config;
  const rules: BatchRules = {
    learnerVersion: s.learnerVersion,
    eta: sim.eta,
    correction: c.learner.correction,
    dynamicSampling: c.rollout.dynamicSampling,
  };
  const groups = list.map(({ group, scored }) => formGroup(sim, k, group, scored, rules, t));
  s.outstandingGroups -= sim.perStep;
  l.batch = {
    step: k,
    groups,
    tokens: t.tokens,
    lagMax: t.lagMax,
    stage: stageOfBatch(sim, k),
    trained: t.digest.hex(),
    figures: t.figures(),
  };
  startTraining(sim, 'BATCH');
  pump(sim); // capacity freed
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

export function trained(sim: SimEngine): void {
  const s = sim.s;
  const l = s.learner;
  const b = l.batch!;
  if (l.replay) {
    l.replay = false; // the replayed step reproduced the weights it had before the crash
    return startPublishing(sim, 'TRAINED');
  }
  const stats = sim.o.compute.train({ step: b.step, learnerVersion: s.learnerVersion, groups: b.groups });
  // a batch from a checkpoint written before accounting at the update (halted between forming
  // and the update) was accounted when it formed
  const legacy = b.groups.some((g) => g.codes === undefined);
  if (!legacy) countBatch(sim, b);
  // the update applied (core/update.ts, as on the real clock); then the ledger's counts against the run's own
  const bad = applyUpdate(
    sim.ledger,
    s,
    {
      step: b.step,
      groups: b.groups,
      lagMax: b.lagMax,
      tokens: legacy ? 0 : b.tokens,
      filter: b.figures.filter,
    },
    stats.updateRollouts ?? 0,
    s.counts,
  );
  if (bad) sim.fail(bad);
  s.learnerVersion = b.step;
  sim.o.compute.publish(b.step);
  const line = stepRow({
    step: b.step,
    tSeconds: s.t,
    stage: b.stage,
    batch: b.figures,
    counts: s.counts,
    tokensGenerated: s.tokensGenerated,
    tokensTrained: s.tokensTrained,
    tokensPerSec: s.t > 0 ? s.tokensGenerated / s.t : 0,
    queueGroups: sim.outstandingGroups(),
    inflightSwaps: s.inflightSwaps,
    inflightRecomputes: s.inflightRecomputes,
    inflightAborts: s.inflightAborts,
    trained: b.trained,
    learner: stats,
  });
  sim.metric(line);
  sim.metrics?.flush(); // one write per step: metrics.jsonl can be followed while the run goes on
  sim.o.onStep?.(line);
  l.publishAttempts = 0;
  startPublishing(sim, 'TRAINED');
}

export function startPublishing(sim: SimEngine, event: string): void {
  const l = sim.s.learner;
  const v = sim.s.learnerVersion;
  l.epoch++;
  sim.setLearner('publishing', event);
  let dt = sim.cost.transferSeconds();
  for (const f of sim.o.faults) {
    if (f.kind === 'delay-publication' && f.version === v && l.publishAttempts === 0) {
      dt += f.by;
      fired(sim, `delay-publication:v${v}`);
    }
    if (f.kind === 'drop-publication' && f.version === v && l.publishAttempts === 0) {
      fired(sim, `drop-publication:v${v}`);
      l.publishAttempts++;
      sim.q.add(sim.s.t + f.retryAfter, 'republish', 0, l.epoch);
      return;
    }
  }
  l.publishAttempts++;
  sim.q.add(sim.s.t + dt, 'published', 0, l.epoch);
}

export function publishedEvent(sim: SimEngine): 'continue' | 'done' | 'checkpoint' {
  const s = sim.s;
  const v = s.learnerVersion;
  s.published = v;
  const passRate = s.learner.batch!.figures.passRate;
  s.learner.batch = null;
  sim.setLearner('waitingForBatch', 'PUBLISHED');
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
  const ev = sim.o.config.eval;
  if (ev && sim.o.compute.evaluate && evalDue(v, ev, sim.o.maxSteps)) {
    const r = sim.o.compute.evaluate(v);
    sim.metric(evalLine({ step: v, tSeconds: s.t, evaluatedVersion: r.version, eval: ev, budgets: r.rows }));
  }
  curriculumStepDone(sim, v, passRate);
  if (v >= sim.o.maxSteps) {
    s.done = true;
    return 'done';
  }
  tryTrain(sim);
  pump(sim);
  return sim.o.dir && checkpointDue(v, sim.checkpointEvery) ? 'checkpoint' : 'continue';
}
