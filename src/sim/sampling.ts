/**
 * The virtual clock's samplers: planning steps (core/admission), starting requests at the newest
 * published version, generation time from the cost model, in-flight swaps, delivery to the verifiers.
 */
import { requestSlices } from '../core/admission.js';
import { stepSampling, wholeGroup } from '../core/topology.js';
import { minVersionFor, requestVersion } from '../core/staleness.js';
import { jitterFactor } from './profile.js';
import type { GeneratedGroup, Generation, VersionSchedule } from './compute.js';
import type { SimEngine } from './engine.js';
import { idleCount, takeIdle, type Request } from './state.js';
import { scheduleWork } from './work.js';
import { dispatchVerifiers } from './verifying.js';
import type { StepPlan } from '../curriculum/controller.js';

/** Step k's requests (core/admission requestSlices), its plan fixed (curriculum), its groups outstanding. */
export function planStep(sim: SimEngine, k: number): Request[] {
  const out: Request[] = [];
  for (const r of requestSlices(sim.perStep, sim.perRequest)) {
    const slots = [r.first]; // (a literal: one element's room, the common case, where push would make 17)
    for (let p = r.first + 1; p < r.end; p++) slots.push(p);
    out.push({ step: k, index: r.index, slots, attempt: 0 });
  }
  planned(sim, k);
  sim.s.outstandingGroups += sim.perStep;
  return out;
}

/** The last step that may be planned now (a dynamic curriculum's plan limit). */
export function planLimit(sim: SimEngine): number {
  return sim.cur ? sim.cur.planLimit(sim.s.topo.published, sim.o.maxSteps) : sim.o.maxSteps;
}

/** Step k is planned: a dynamic curriculum fixes its stage, budget and problems now (the stage current now). */
function planned(sim: SimEngine, k: number): void {
  if (sim.cur) sim.s.curriculum!.plans[k] = sim.cur.planOf(k, sim.slotsPerStep);
}

/** A dynamic curriculum's plan of step k (planned, not yet formed into a batch). */
export function planOfStep(sim: SimEngine, k: number): StepPlan {
  const p = sim.s.curriculum!.plans[k];
  if (!p) sim.fail(`step ${k} has no curriculum plan`);
  return p;
}

/** Hands work to idle samplers while admission allows (core/topology `samplersIdle`, as on the real clock). */
export function pump(sim: SimEngine): void {
  const s = sim.s;
  const count = idleCount(s);
  if (count === 0) return;
  for (const e of stepSampling(sim.topology, { type: 'samplersIdle', count }))
    if (e.type === 'generate') startRequest(sim, takeIdle(s), e.request);
}

export function startRequest(sim: SimEngine, i: number, req: Request): void {
  const sm = sim.s.samplers[i]!;
  sm.req = req;
  sm.epoch++;
  sm.genStart = sim.s.t; // the work's start (a hang while syncing times out from here)
  sim.setSampler(i, 'syncingWeights', 'GENERATE');
  const at = requestVersion(sim.s.topo.published, req.step, sim.eta);
  if (at.violation) sim.fail(at.violation);
  if (sm.version < at.version) {
    sm.syncTo = at.version;
    sim.q.add(sim.s.t + sim.cost.transferSeconds(), 'synced', i, sm.epoch);
  } else beginGenerate(sim, i, 'WEIGHTS_CURRENT'); // up to date: no transfer, no time
}

export function budgetOf(sim: SimEngine, step: number): number {
  return sim.cur ? planOfStep(sim, step).budgetTokens : sim.budgets[step]!;
}

/**
 * The compute's generation of request `req` under the version schedule: the step's budget, and its
 * problems when a dynamic curriculum planned them (else the compute's fixed list).
 */
function generateRequest(sim: SimEngine, req: Request, schedule: VersionSchedule): Generation {
  const problems = sim.cur ? planOfStep(sim, req.step).problems : undefined;
  return sim.o.compute.generate(req.step, req.slots, budgetOf(sim, req.step), sim.G, schedule, problems);
}

export function generationSeconds(sim: SimEngine, gen: Generation, factor: number): number {
  let max = 0,
    total = 0;
  for (const l of gen.rowLengths) {
    total += l;
    if (l > max) max = l;
  }
  return sim.cost.generateSeconds(gen.promptTokens, max, total) * factor;
}

export function beginGenerate(sim: SimEngine, i: number, event: string): void {
  const sm = sim.s.samplers[i]!;
  const req = sm.req!;
  if (sm.version < minVersionFor(req.step, sim.eta))
    sim.fail(
      `sampler-${i} at v${sm.version} started step ${req.step}, which needs v${minVersionFor(req.step, sim.eta)}`,
    );
  sm.schedule = [[0, sm.version]];
  sm.gen = generateRequest(sim, req, sm.schedule);
  sm.factor =
    sim.cost.samplerSpeed(i) *
    sm.slow *
    jitterFactor(sim.o.profile.sampler.jitter, sim.seed, 1, req.attempt, req.step, req.index);
  sm.genStart = sim.s.t;
  sm.decodeFrom = sim.s.t;
  sm.aborts = 0;
  sim.setSampler(i, 'generating', event);
  const dur = generationSeconds(sim, sm.gen, sm.factor);
  scheduleWork(sim, 'sampler', i, sm, req.step, dur, 'generated');
}

/** In-flight updates: version `v` reaches a generating sampler; tokens from the current position on use it. */
export function swap(sim: SimEngine, i: number, v: number): void {
  const sm = sim.s.samplers[i]!;
  if (sm.state !== 'generating' || sm.version >= v || !sm.gen) return;
  const elapsed = sim.s.t - sm.decodeFrom;
  const rows = sm.gen.rowLengths;
  const maxLen = Math.max(...rows);
  // lo = the last position whose logits exist at `elapsed` (0 while the prefill runs). As in the
  // real sampler, new weights apply from the next decode step on: position lo + 1.
  let lo = 0,
    hi = maxLen;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (sim.cost.decodeOffset(sm.gen.promptTokens, rows, mid) * sm.factor <= elapsed) lo = mid;
    else hi = mid - 1;
  }
  const from = lo + 1;
  sm.version = v;
  if (from >= maxLen) return; // every position already decoded: the result is on its way
  const kv = sim.o.config.rollout.kv;
  if (kv?.onSwap === 'abort' && sm.aborts < kv.abortsMax) {
    // start over at v: the whole generation again from now (policy/kvPolicy.ts)
    sm.aborts++;
    sim.s.topo.inflightAborts++;
    sm.schedule = [[0, v]];
    sm.decodeFrom = sim.s.t;
  } else {
    const last = sm.schedule.at(-1)!;
    if (last[0] === from) last[1] = v;
    else sm.schedule.push([from, v]);
    if (kv?.onSwap === 'recompute') sim.s.topo.inflightRecomputes++;
  }
  sim.s.topo.inflightSwaps++;
  const req = sm.req!;
  sm.gen = generateRequest(sim, req, sm.schedule);
  sm.epoch++;
  const end = sm.decodeFrom + generationSeconds(sim, sm.gen, sm.factor) + (sm.slowAddS ?? 0);
  sim.q.add(Math.max(sim.s.t, end), 'generated', i, sm.epoch);
}

/** A sampler's request delivered: each group into the ledger (core/topology `delivered`), then to the verifiers. */
export function delivered(sim: SimEngine, i: number): void {
  const sm = sim.s.samplers[i]!;
  const req = sm.req!;
  for (const g of sm.gen!.groups) {
    deliverGroup(sim, req.step, g);
    sim.lastDeliveredStep = req.step;
    sim.lastDeliveredGroup = g;
  }
  sm.req = null;
  sm.gen = null;
  sim.setSampler(i, 'idle', 'DELIVERED');
  sim.s.idle.push(i);
  dispatchVerifiers(sim);
}

/**
 * Group `g` of `step` delivered (core/topology `delivered`): written into the ledger, its tokens
 * and the run's running counts moved, queued for verification. (The test hook that plants a
 * duplicate delivers a group twice: the ledger's answer fails the run.)
 */
export function deliverGroup(sim: SimEngine, step: number, g: GeneratedGroup): void {
  const G = g.lengths.length;
  for (const e of stepSampling(sim.topology, { type: 'delivered', step, slot: g.slot, samples: wholeGroup(G) })) {
    if (e.type === 'fail') sim.fail(e.message);
    if (e.type !== 'verify') continue;
    let tokens = 0;
    for (let j = 0; j < G; j++) tokens += g.lengths[j]!;
    sim.s.topo.tokensGenerated += tokens;
    sim.s.counts.generated += G;
    sim.s.counts.pending += G;
    sim.s.verifyQueue.push({ step, group: g, attempts: 0 });
  }
}
