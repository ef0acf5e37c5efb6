/**
 * The virtual clock's verification, grading, batching and learner: scored groups wait by step, a
 * complete step forms its batch (core/ledger's disposition rule, slot order), trains, publishes.
 */
import { DISPOSITION_CODE, dispositionCodeOf, lagOf, stalenessViolation, swapsInFlight } from '../core/staleness.js';
import { LengthAudit, TrainedDigest, evalLine, stepRow } from '../core/metrics.js';
import { stageOfStep } from '../runtime/stages.js';
import { jitterFactor } from './profile.js';
import type { Scored } from './compute.js';
import type { SimEngine } from './engine.js';
import type { VerifyJob, StepBatch, SimState } from './state.js';
import {
  FilterTally,
  addFilterFigures,
  backfillSlot,
  isFiltered,
  outcomeOf as outcomeOfRewards,
  stepComplete,
  zeroAdvantage,
  type GroupOutcome,
} from '../core/dynamicSampling.js';
import { fired, scheduleWork } from './faultDriver.js';
import { pump } from './sampling.js';

const {
  trained: TRAINED,
  'dropped-stale': DROPPED_STALE,
  'dropped-invalid': DROPPED_INVALID,
  'dropped-filtered': DROPPED_FILTERED,
} = DISPOSITION_CODE;

export function dispatchVerifiers(sim: SimEngine): void {
  const s = sim.s;
  for (let i = 0; i < s.verifiers.length && s.verifyQueue.length > 0 && sim.verifiersIdle > 0; i++) {
    const v = s.verifiers[i]!;
    if (v.state !== 'idle') continue;
    startVerify(sim, i, s.verifyQueue.shift()!, 'VERIFY');
  }
}

export function startVerify(sim: SimEngine, i: number, job: VerifyJob, event: string): void {
  const v = sim.s.verifiers[i]!;
  v.job = job;
  v.epoch++;
  sim.setVerifier(i, 'verifying', event);
  const dur =
    sim.cost.verifySeconds(job.group.lengths.length) *
    v.slow *
    jitterFactor(sim.o.profile.verifier.jitter, sim.seed, 2, job.attempts, job.step, job.group.slot);
  scheduleWork(sim, 'verifier', i, v, job.step, dur, 'verified');
}

export function graded(sim: SimEngine, job: VerifyJob, scored: Scored): void {
  const s = sim.s;
  if (s.t < s.graderStalledUntil) {
    s.graderWaiting.push({ job, scored });
    return;
  }
  const list = (s.scored[job.step] ??= []);
  list.push({ slot: job.group.slot, group: job.group, scored });
  const ds = sim.o.config.rollout.dynamicSampling;
  const next = isFiltered(ds, outcomeOf(scored)) ? backfillSlot(job.group.slot, sim.perStep, ds) : null;
  if (next !== null) {
    // its replacement goes ahead of planned work (core/dynamicSampling); request numbers past the plan's
    s.reissue.push({ step: job.step, index: sim.perStep + next, slots: [next], attempt: 0 });
    pump(sim);
  }
  if (complete(sim, list)) tryTrain(sim);
}

function complete(sim: SimEngine, list: SimState['scored'][string]): boolean {
  const ds = sim.o.config.rollout.dynamicSampling;
  return stepComplete(
    list,
    sim.perStep,
    ds,
    (e) => e.slot,
    (e) => outcomeOf(e.scored),
  );
}

/** A scored group's rewards and verdicts (core/dynamicSampling `outcomeOf`). */
function outcomeOf(scored: Scored): GroupOutcome {
  const c = scored.correct;
  return outcomeOfRewards(scored.rewards, c ? (i) => c[i]! : undefined);
}

export function tryTrain(sim: SimEngine): void {
  const s = sim.s;
  const l = s.learner;
  const k = s.learnerVersion + 1;
  if (l.state !== 'waitingForBatch' || l.batch || s.done) return;
  const list = s.scored[k];
  if (!list || !complete(sim, list)) return;
  delete s.scored[k];
  list.sort((a, b) => a.slot - b.slot);
  const correction = sim.o.config.learner.correction;
  const ds = sim.o.config.rollout.dynamicSampling;
  const tally = new FilterTally(sim.perStep);
  let n = 0,
    correct = 0,
    rewardSum = 0,
    lengthSum = 0,
    lengthCorrectSum = 0,
    lagSum = 0,
    lagMax = 0,
    tokens = 0,
    zero = 0;
  const groups: StepBatch['groups'] = [];
  const hist = s.stalenessHist;
  const acc = sim.accounting;
  const GENERATED = DISPOSITION_CODE.generated;
  const digest = new TrainedDigest(k);
  const audit = new LengthAudit(list.length * sim.G);
  let nTrained = 0,
    nStale = 0,
    nInvalid = 0,
    nFiltered = 0;
  for (const { group: g, scored } of list) {
    const r = scored.rewards;
    const inv = scored.invalid;
    const G = g.lengths.length;
    const trained = new Array<boolean>(G);
    // per rollout (core/staleness lagOf); a group's rows start and swap together, so each rollout's
    // oldest version is the group's
    const lag = lagOf(s.learnerVersion, g.minVersion);
    const base = sim.rolloutIndex(k, g.slot, 0);
    const outcome = outcomeOf(scored);
    const filtered = isFiltered(ds, outcome);
    tally.add(g.slot, filtered);
    let valid = 0,
      filteredHere = 0,
      stale = false;
    for (let j = 0; j < G; j++) {
      const len = g.lengths[j]!;
      rewardSum += r[j]!;
      if (outcome.correct(j)) {
        correct++;
        lengthCorrectSum += len;
      }
      lengthSum += len;
      if (acc[base + j] !== GENERATED)
        sim.fail(`rollout ${k}/${g.slot}/${j} accounted ${acc[base + j] === 0 ? 'before it was generated' : 'twice'}`);
      const d = dispositionCodeOf(inv[j]!, len, lag, correction, filtered);
      acc[base + j] = d;
      trained[j] = d === TRAINED;
      if (d === TRAINED) digest.add(g.slot, j);
      audit.add(len, d === TRAINED);
      if (d === DROPPED_INVALID) nInvalid++;
      else if (d === DROPPED_FILTERED) {
        nFiltered++;
        filteredHere++;
      } else {
        valid++;
        if (d === DROPPED_STALE) {
          nStale++;
          stale = true;
        } else {
          nTrained++;
          tokens += len;
        }
      }
    }
    n += G;
    // the bound holds for every rollout not dropped-invalid (core/staleness stalenessViolation)
    if (valid + filteredHere > 0) {
      const bad = stalenessViolation(`${k}/${g.slot}/*`, lag, sim.eta);
      if (bad !== null) sim.fail(bad);
    }
    if (zeroAdvantage(r)) zero++;
    if (valid > 0) hist[lag] = (hist[lag] ?? 0) + valid;
    if (!stale && valid > 0) {
      lagSum += lag * valid;
      if (lag > lagMax) lagMax = lag;
    }
    groups.push({ group: g, scored, trained });
  }
  s.counts.pending -= nTrained + nStale + nInvalid + nFiltered;
  s.counts.trained += nTrained;
  s.counts.droppedStale += nStale;
  s.counts.droppedInvalid += nInvalid;
  s.counts.droppedFiltered += nFiltered;
  for (let lag = 0; lag < s.stalenessHist.length; lag++) s.stalenessHist[lag] ??= 0;
  s.stalenessMax = Math.max(s.stalenessMax, lagMax);
  s.outstandingGroups -= sim.perStep;
  s.tokensTrained += tokens;
  const stage = stageOfStep(sim.o.config.curriculum.stages, k);
  l.batch = {
    step: k,
    groups,
    tokens,
    stage: {
      stage: stage.index,
      difficulty: stage.difficulty ?? null,
      buckets: null, // the virtual clock runs fixed stages (policyCompute checkVirtualCurriculum)
      budgetTokens: stage.budgetTokens!,
    },
    trained: digest.hex(),
    figures: {
      rewardMean: n ? rewardSum / n : 0,
      passRate: n ? correct / n : 0,
      lengthMean: n ? lengthSum / n : 0,
      lengthCorrect: correct ? lengthCorrectSum / correct : null,
      lengthIncorrect: n - correct ? (lengthSum - lengthCorrectSum) / (n - correct) : null,
      stalenessMean: nTrained ? lagSum / nTrained : 0,
      stalenessMax: lagMax,
      zeroAdvantageGroups: zero,
      lengths: audit.figures(),
      filter: tally.figures(),
    },
  };
  startTraining(sim, 'BATCH');
  pump(sim); // capacity freed
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
  s.learnerVersion = b.step;
  sim.o.compute.publish(b.step);
  addFilterFigures(s.filterTotals, b.figures.filter);
  const line = stepRow({
    step: b.step,
    tSeconds: s.t,
    stage: b.stage,
    batch: b.figures,
    counts: s.counts,
    tokensGenerated: s.tokensGenerated,
    tokensTrained: s.tokensTrained,
    tokensPerSec: s.t > 0 ? s.tokensGenerated / s.t : 0,
    queueGroups: s.outstandingGroups,
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
  if (ev && sim.o.compute.evaluate && ((ev.every && v % ev.every === 0) || v === sim.o.maxSteps)) {
    const r = sim.o.compute.evaluate(v);
    sim.metric(evalLine({ step: v, tSeconds: s.t, evaluatedVersion: r.version, eval: ev, budgets: r.rows }));
  }
  if (v >= sim.o.maxSteps) {
    s.done = true;
    return 'done';
  }
  tryTrain(sim);
  pump(sim);
  return sim.o.dir && v % sim.checkpointEvery === 0 ? 'checkpoint' : 'continue';
}
