/**
 * Request planning — how a step's work is cut into sampler requests and how many groups may be
 * outstanding — written once for both clocks (the real clock in src/runtime/roles/samplers.ts, the
 * virtual one in src/sim/sampling.ts). Which version a step is admitted at is core/staleness.
 */
import { admissible } from './staleness.js';

/**
 * The most scored-or-in-flight groups the batcher may owe: steps are planned only while the groups
 * planned and not yet formed into a batch stay within this. One step always fits, so the bound
 * holds at η = ∞ too (where admission alone would plan without end).
 */
export function queueCapacityGroups(limits: { queueGroupsMax: number }, problemsPerStep: number): number {
  return Math.max(limits.queueGroupsMax, problemsPerStep);
}

/**
 * Groups the queue bound counts, on both clocks: those of the steps planned and not yet formed into
 * a batch, (planned through − formed through) × groups per step. The virtual clock also keeps a
 * running count of the same and checks the two agree after every event (sim/engine checkInvariants).
 */
export function outstandingGroupsOf(plannedThrough: number, formedThrough: number, groupsPerStep: number): number {
  return (plannedThrough - formedThrough) * groupsPerStep;
}

/**
 * Every queue `limits.queueGroupsMax` bounds, named once (the real clock has all four; the virtual
 * clock models the first).
 */
export function queueBounds(limits: { queueGroupsMax: number }, problemsPerStep: number) {
  return {
    /** Groups planned and not yet formed into a batch (planning waits beyond it). */
    plannedGroups: queueCapacityGroups(limits, problemsPerStep),
    /** Delivered groups waiting for a verifier (a sampler's delivery waits beyond it). */
    verifyJobs: limits.queueGroupsMax,
    /** Verified groups waiting for the grader (beyond it the grader reports an overflow: the run fails). */
    graderJobs: limits.queueGroupsMax,
    /** The run's NATS work items in flight, generate, verify and grade together. */
    natsItems: 4 * limits.queueGroupsMax,
  } as const;
}

/** Problems per sampler request: the config's, or the step spread evenly over the samplers. */
export function problemsPerRequest(
  rollout: { problemsPerStep: number; problemsPerRequest?: number | undefined },
  samplers: number,
): number {
  return rollout.problemsPerRequest ?? Math.max(1, Math.ceil(rollout.problemsPerStep / samplers));
}

/** Request `index` of a step covers the step's problem slots [first, end). */
export interface RequestSlice {
  index: number;
  first: number;
  end: number;
}

/** The requests of one step over `problems` problem slots, `per` to a request, in slot order. */
export function requestSlices(problems: number, per: number): RequestSlice[] {
  const out: RequestSlice[] = [];
  for (let first = 0, index = 0; first < problems; first += per, index++)
    out.push({ index, first, end: Math.min(problems, first + per) });
  return out;
}

/** Whether step `step` may be planned now: in the run, admitted, and within the queue's capacity. */
export function mayPlanStep(x: {
  step: number;
  lastStep: number;
  publishedVersion: number;
  eta: number;
  outstandingGroups: number;
  groupsPerStep: number;
  capacityGroups: number;
}): boolean {
  return (
    x.step <= x.lastStep &&
    admissible(x.step, x.publishedVersion, x.eta) &&
    x.outstandingGroups + x.groupsPerStep <= x.capacityGroups
  );
}

/**
 * The planner's queues, as both clocks hold them: the next step to plan, the planned requests not
 * yet handed out, and work given back (a crashed or hung sampler's request, a filtered group's
 * backfill), which goes first.
 */
export interface PlannerQueues<R extends { step: number }> {
  nextStep: number;
  planned: R[];
  reissue: R[];
}

/**
 * Work given back joins the reissue queue in step order (the oldest step's missing group is what
 * its batch waits for), after any of the same step — one rule for crashed work and backfills on
 * both clocks.
 */
export function reissue<R extends { step: number }>(q: { reissue: R[] }, req: R): void {
  let i = q.reissue.length;
  while (i > 0 && q.reissue[i - 1]!.step > req.step) i--;
  q.reissue.splice(i, 0, req);
}

/** What admission reads when a step is planned (each clock's own state, read at the moment). */
export interface PlanningView {
  /** The last step that may be planned now (the run's, or the curriculum's while it measures). */
  lastStep: number;
  publishedVersion: number;
  /** The last step whose batch has formed. */
  formedThrough: number;
}

/**
 * The next request for an idle sampler, once for both clocks: reissued work first, else the next
 * planned request, planning steps while admission and the queue's capacity allow (`plan(k)` gives
 * step k's requests — none when a resume finds them all generated — and the next step is tried).
 * undefined: nothing may start now.
 */
export function nextRequest<R extends { step: number }>(
  q: PlannerQueues<R>,
  limits: { eta: number; groupsPerStep: number; capacityGroups: number },
  view: () => PlanningView,
  plan: (k: number) => R[],
): R | undefined {
  const again = q.reissue.shift();
  if (again) return again;
  while (q.planned.length === 0) {
    const v = view();
    const may = mayPlanStep({
      step: q.nextStep,
      lastStep: v.lastStep,
      publishedVersion: v.publishedVersion,
      eta: limits.eta,
      outstandingGroups: outstandingGroupsOf(q.nextStep - 1, v.formedThrough, limits.groupsPerStep),
      groupsPerStep: limits.groupsPerStep,
      capacityGroups: limits.capacityGroups,
    });
    if (!may) break;
    q.planned.push(...plan(q.nextStep));
    q.nextStep++;
  }
  return q.planned.shift();
}
