/**
 * The real clock's planner: each learner step's requests (core/admission, the curriculum's stage
 * and problems), backfills of filtered groups (core/dynamicSampling), and handing the next
 * request to an idle sampler.
 */
import { assert } from '../../util/errors.js';
import { GenerateSchema, type Generate, type ScoredGroup } from '../messages.js';
import { unplanned } from '../../core/ledger.js';
import { slotsPerStep } from '../../core/dynamicSampling.js';
import { backfillOf, stepSampling, type Topology } from '../../core/topology.js';
import { scoredGroupView } from '../../core/batch.js';
import { outstandingGroupsOf, problemsPerRequest, reissue, requestSlices } from '../../core/admission.js';
import { minVersionFor, swapsInFlight } from '../../core/staleness.js';
import type { ProblemSpec } from '../../curriculum/controller.js';
import type { TrainingRun, SamplerSlot } from '../run.js';

/**
 * The sampler requests of learner step k, minus groups already held: the plan's problems not yet
 * generated, and (after a resume) the backfills its held filtered groups are owed. A step's plan is
 * asked of the curriculum once, when the step is first planned; a resume's re-plan reads the plan
 * its checkpoint kept (a dynamic curriculum's stage may have moved on since).
 */
export function requestsForStep(run: TrainingRun, k: number): Generate[] {
  const plan =
    run.plans.get(k) ??
    run.cur.planOf(k, slotsPerStep(run.cfg.rollout.problemsPerStep, run.cfg.rollout.dynamicSampling));
  run.plans.set(k, plan);
  const problems = unplanned(k, plan.problems.slice(0, run.cfg.rollout.problemsPerStep), run.ledger);
  const per = problemsPerRequest(run.cfg.rollout, run.cfg.topology.samplers);
  const out = requestSlices(problems.length, per).map((r) =>
    generateRequest(run, k, `s${k}r${r.index}`, problems.slice(r.first, r.end), plan.budgetTokens),
  );
  // the backfills its held filtered groups are owed (core/topology backfillOf)
  for (const g of run.queue.all()) {
    const slot = g.step === k ? backfillOf(topologyOf(run), g) : null;
    const b = slot === null ? null : backfillRequest(run, k, slot);
    if (b) out.push(b);
  }
  return out;
}

function generateRequest(
  run: TrainingRun,
  k: number,
  requestId: string,
  problems: ProblemSpec[],
  budgetTokens: number,
): Generate {
  return {
    type: 'Generate',
    requestId,
    step: k,
    problems,
    groupSize: run.cfg.rollout.groupSize,
    budgetTokens,
    temperature: run.cfg.rollout.temperature,
    minVersion: minVersionFor(k, run.eta),
    inflight: swapsInFlight(run.cfg.staleness.policy),
    seed: run.cfg.seed,
    fault: null,
    ...run.faults.slowness('sampler'),
    mismatch: run.cfg.rollout.mismatch,
    kv: run.cfg.rollout.kv,
  };
}

/** The request for slot `slot` of step `step` (a filtered group's backfill), unless that slot is already generated. */
function backfillRequest(run: TrainingRun, step: number, slot: number): Generate | null {
  const plan = run.plans.get(step);
  const p = plan?.problems[slot];
  assert(p, `no problem planned for step ${step} slot ${slot}`);
  if (unplanned(step, [p], run.ledger).length === 0) return null;
  return generateRequest(run, step, `s${step}b${slot}`, [p], plan!.budgetTokens);
}

/** A filtered group's replacement (core/topology `backfill`) goes ahead of planned work. */
export function backfill(run: TrainingRun, step: number, slot: number): void {
  const req = backfillRequest(run, step, slot);
  if (!req) return;
  reissue(run.topo, req);
  setImmediate(() => pump(run));
}

/** The run's topology (core/topology Topology: both sides step it), built once per run. */
const topologies = new WeakMap<TrainingRun, Topology<ScoredGroup, Generate>>();

export function topologyOf(run: TrainingRun): Topology<ScoredGroup, Generate> {
  let t = topologies.get(run);
  if (!t) {
    t = {
      rules: run.rules,
      state: run.topo,
      ledger: run.ledger,
      queue: run.queue,
      viewOf: scoredGroupView,
      view: () => ({
        lastStep: run.cur.planLimit(run.topo.published, run.maxSteps),
        publishedVersion: run.topo.published,
        formedThrough: run.topo.formedThrough,
      }),
      plan: (k) => requestsForStep(run, k),
    };
    topologies.set(run, t);
  }
  // (a resume replaces the state and the ledger)
  t.state = run.topo;
  t.ledger = run.ledger;
  return t;
}

/**
 * Hands work to idle samplers while admission allows (AReaL: start step k only at version ≥ k − 1 − η;
 * core/topology `samplersIdle`, as on the virtual clock).
 */
export function pump(run: TrainingRun): void {
  if (run.fatal || run.interrupted || run.draining || run.idleSamplers.size === 0) return;
  for (const e of stepSampling(topologyOf(run), { type: 'samplersIdle', count: run.idleSamplers.size })) {
    if (e.type !== 'generate') continue;
    const id = run.idleSamplers.values().next().value!;
    run.idleSamplers.delete(id);
    const request = GenerateSchema.parse({ ...e.request, fault: run.faults.take('sampler', e.request.step, id) });
    run.inflight.set(request.requestId, request);
    samplerSlot(run, id).actor.send({ type: 'GENERATE', request });
  }
}

/** Groups of the steps planned and not yet formed into a batch. */
export function outstandingGroups(run: TrainingRun): number {
  return outstandingGroupsOf(run.topo.nextStep - 1, run.topo.formedThrough, run.cfg.rollout.problemsPerStep);
}

export function samplerSlot(run: TrainingRun, id: string): SamplerSlot {
  const s = run.samplers.find((x) => x.id === id);
  assert(s, `no sampler '${id}'`);
  return s;
}
