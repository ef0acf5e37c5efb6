/**
 * The topology as step functions both clocks drive (docs/ARCHITECTURE.md "The topology's step"):
 * the learning side (`stepLearning`: a scored group into the step queue, a batch formed, an update
 * applied, a version published) and the sampling side (`stepSampling`: idle samplers handed the
 * planner's requests, a delivery into the ledger and on to verification) — each an event, each
 * answered with effects as data. No I/O, threads or clock in here: the real clock turns the
 * effects into machine events, thread and file calls (runtime/roles), the virtual clock into
 * scheduled completions (sim/sampling.ts, sim/learning.ts).
 *
 * The state they move is one `TopologyState` (the versions, the update's totals, the planner's
 * queues, the counters: plain data, JSON) that each clock holds — `TrainingRun.topo`,
 * `SimState.topo` — beside the ledger and the step queue (one class each, over the clock's own form
 * of a group). Each clock builds one `Topology` over them, with the run's rules (`topologyRules`)
 * and its own forms of a group and a request; `LearnContext` and `SampleContext` are the parts each
 * side reads.
 */
import type { Correction } from '../rl/loss.js';
import { backfillSlot, noFilterTotals, type DynamicSampling } from './dynamicSampling.js';
import { disposeStep, type BatchGroup, type DisposedStep } from './batch.js';
import type { StepQueue } from './stepQueue.js';
import { brokenInvariantMessage } from './faults.js';
import { publishViolation } from './invariants.js';
import type { AccountingCounts, RolloutLedger } from './ledger.js';
import type { SampleCounters } from './metrics.js';
import { applyUpdate, checkpointDue, evalDue, type UpdateBatch, type UpdateTotals } from './update.js';
import { nextRequest, type PlannerQueues, type PlanningView } from './admission.js';

/** The message of a `fail` effect (the clock aborts its run with it), or null for any other effect. */
export function failureOf(e: { type: string; message?: string }): string | null {
  return e.type === 'fail' ? e.message! : null;
}

/** The empty answer, shared (a step answers most events with nothing). */
const NOTHING: never[] = [];

// ── the state ─────────────────────────────────────────────────────────────────────────────

/**
 * The topology's state, one for both clocks: the versions, the last step formed and the update's
 * totals (the learning side's `LearnState`), the planner's queues (core/admission `PlannerQueues`,
 * over the clock's own form of a request) and the sampling side's counters (core/metrics
 * `SampleCounters`). Plain data: the virtual clock's checkpoint carries it whole, the real clock's
 * its versions, totals and tokens generated (`resumedTopology`: the real clock generates again
 * whatever its checkpoint did not train).
 */
export interface TopologyState<R extends { step: number }> extends LearnState, PlannerQueues<R>, SampleCounters {}

/** A run's state before its first step, or (`version`) resumed at a checkpoint taken between steps: nothing planned. */
export function resumedTopology<R extends { step: number }>(
  version = 0,
  totals: UpdateTotals = { stalenessMax: 0, tokensTrained: 0, filterTotals: noFilterTotals(), learnerTrained: 0 },
): TopologyState<R> {
  return {
    learnerVersion: version,
    published: version,
    formedThrough: version,
    ...totals,
    nextStep: version + 1,
    planned: [],
    reissue: [],
    tokensGenerated: 0,
    inflightSwaps: 0,
    inflightRecomputes: 0,
    inflightAborts: 0,
  };
}

/** The versions and totals of a topology's state, copied: what the real clock's checkpoint keeps of it. */
export function learnState(t: LearnState): Omit<LearnState, 'formedThrough'> {
  const { learnerVersion, published, stalenessMax, tokensTrained, filterTotals, learnerTrained } = t;
  return { learnerVersion, published, stalenessMax, tokensTrained, filterTotals: { ...filterTotals }, learnerTrained };
}

/** The fields of `TopologyState` an older virtual checkpoint held loose on its state (`liftTopology`). */
const TOPOLOGY_FIELDS = [
  'learnerVersion',
  'published',
  'stalenessMax',
  'tokensTrained',
  'filterTotals',
  'learnerTrained',
  'nextStep',
  'planned',
  'reissue',
  'tokensGenerated',
  'inflightSwaps',
  'inflightRecomputes',
  'inflightAborts',
] as const;

/**
 * An older virtual checkpoint's state, which held the topology's fields loose on itself: moves
 * them into `topo` (the same names and meanings; `filterTotals` zeros and `learnerTrained` the
 * run's trained count where a still older one lacks them). A state with `topo` is left as is.
 */
export function liftTopology<R extends { step: number }>(
  state: { topo?: TopologyState<R> } & Record<string, unknown>,
  trained: number,
): void {
  if (state.topo) return;
  const loose = state as Record<string, unknown>;
  loose.filterTotals ??= noFilterTotals();
  loose.learnerTrained ??= trained;
  const topo: Record<string, unknown> = {};
  for (const k of TOPOLOGY_FIELDS) {
    topo[k] = loose[k];
    delete loose[k];
  }
  state.topo = topo as unknown as TopologyState<R>;
}

// ── the learning side ──────────────────────────────────────────────────────────────────────

/** The run's rules both sides read (fixed for a run; `topologyRules` builds them from a config, for both clocks). */
export interface TopologyRules {
  /** Problems per step (the plan's slots before backfills). */
  groupsPerStep: number;
  eta: number;
  maxSteps: number;
  /** Groups that may be planned and not yet formed into a batch (core/admission queueCapacityGroups). */
  capacityGroups: number;
  correction: Correction;
  dynamicSampling?: DynamicSampling | undefined;
  /** Periodic checkpoints every this many steps (core/update checkpointDue); null: none are taken. */
  checkpointEvery: number | null;
  /** The held-out evaluation's schedule (core/update evalDue); undefined: none. */
  eval?: { every?: number | undefined } | undefined;
  /** Steps whose batch forming an injected fault breaks (core/faults `break-invariant`). */
  brokenSteps: readonly number[];
}

/** What the learning side moves: the versions and the update's totals (each clock keeps them in its own state). */
export interface LearnState extends UpdateTotals {
  /** The newest version the learner trained. */
  learnerVersion: number;
  /** The newest version published to the samplers. */
  published: number;
  /**
   * The last step whose batch has formed (`learnerWaiting` → `train`): the learner's version, or one
   * more while it trains or publishes that step. Planned steps after it hold the outstanding groups
   * the queue bound counts (core/admission outstandingGroupsOf).
   */
  formedThrough: number;
}

/**
 * The rules a run's config gives (`rollout`, `learner.correction`, `checkpoint`, `eval`), with what
 * only a clock knows: whether it takes checkpoints (a virtual run without a directory does not)
 * and can evaluate (the virtual clock's surrogate compute cannot).
 */
export function topologyRules(
  c: {
    rollout: { problemsPerStep: number; dynamicSampling?: DynamicSampling | undefined };
    learner: { correction: Correction };
    checkpoint: { every: number };
    eval?: { every?: number | undefined } | undefined;
  },
  o: {
    eta: number;
    maxSteps: number;
    capacityGroups: number;
    brokenSteps: readonly number[];
    checkpoints: boolean;
    evaluates: boolean;
  },
): TopologyRules {
  return {
    groupsPerStep: c.rollout.problemsPerStep,
    eta: o.eta,
    maxSteps: o.maxSteps,
    capacityGroups: o.capacityGroups,
    correction: c.learner.correction,
    dynamicSampling: c.rollout.dynamicSampling,
    checkpointEvery: o.checkpoints ? c.checkpoint.every : null,
    eval: o.evaluates ? c.eval : undefined,
    brokenSteps: o.brokenSteps,
  };
}

/** One clock's learning side: its rules, state, ledger and queue, and how its form of a group reads. */
export interface LearnContext<G> {
  rules: TopologyRules;
  state: LearnState;
  ledger: RolloutLedger;
  queue: StepQueue<G>;
  viewOf: (g: G) => BatchGroup;
}

export type LearnEvent<G> =
  /** A group of `step` was verified and graded. */
  | { type: 'scored'; step: number; group: G }
  /** The learner waits for a batch: the gate (`learnerNext`) said `form`. */
  | { type: 'learnerWaiting' }
  /** The learner trained step `batch.step` into `version`, counting `updateRollouts` rollouts itself. */
  | {
      type: 'updated';
      batch: UpdateBatch;
      version: number;
      updateRollouts: number;
      /** A clock's own running counts of the same events, compared with the ledger's (the virtual clock). */
      running?: AccountingCounts | undefined;
    }
  /** Version `version` reached the weight store; `passRate` is its batch's. */
  | { type: 'published'; version: number; passRate: number };

export type LearnEffect<G> =
  /** An invariant broke: the run aborts with this message (its last checkpoint kept). */
  | { type: 'fail'; message: string }
  /** A filtered group's replacement: slot `slot` of step `step` is generated, ahead of planned work. */
  | { type: 'backfill'; step: number; slot: number }
  /** Step `step`'s groups are all here: if the learner waits, it can take a batch. */
  | { type: 'stepComplete'; step: number }
  /** Train this batch (its groups in slot order, each rollout's disposition decided). */
  | { type: 'train'; batch: DisposedStep<G> }
  /** The planner's capacity or the admission version moved: hand out work. */
  | { type: 'pump' }
  /** The metrics row of the step just trained. */
  | { type: 'row'; step: number }
  /** Send version `version` to the weight store. */
  | { type: 'publish'; version: number }
  /** Run the held-out evaluation of version `version`. */
  | { type: 'evaluate'; version: number }
  /** The curriculum sees step `version` end with its batch's pass rate. */
  | { type: 'curriculum'; version: number; passRate: number }
  /** Step `version` is done: a checkpoint is due after it, or it was the last. */
  | { type: 'stepDone'; version: number; checkpoint: boolean; last: boolean }
  /** The learner is free: form its next batch when the clock's gate allows. */
  | { type: 'learnerFree' };

/** The learning side's answer to one event: effects in the order they are carried out. */
export function stepLearning<G>(c: LearnContext<G>, ev: LearnEvent<G>): LearnEffect<G>[] {
  switch (ev.type) {
    case 'scored':
      return scored(c, ev.step, ev.group);
    case 'learnerWaiting':
      return form(c);
    case 'updated':
      return updated(c, ev);
    case 'published':
      return published(c, ev.version, ev.passRate);
  }
}

/** Queues the group (bounded), owes a filtered group its backfill, and says when its step is whole. */
function scored<G>(c: LearnContext<G>, step: number, g: G): LearnEffect<G>[] {
  const bad = c.queue.add(step, g);
  if (bad) return [{ type: 'fail', message: bad }];
  const slot = backfillOf(c, g);
  const complete = c.queue.complete(step);
  if (slot === null && !complete) return NOTHING; // the common answer: one per group, no allocation
  const out: LearnEffect<G>[] = [];
  if (slot !== null) out.push({ type: 'backfill', step, slot });
  if (complete) out.push({ type: 'stepComplete', step });
  return out;
}

/**
 * The slot a queued group's backfill generates (core/dynamicSampling backfillSlot): null when the
 * group is kept or its slot's rounds are used. (A resumed run asks it of the groups its checkpoint held.)
 */
export function backfillOf<G>(c: LearnContext<G>, g: G): number | null {
  if (!c.queue.filtered(g)) return null;
  return backfillSlot(c.viewOf(g).slot, c.rules.groupsPerStep, c.rules.dynamicSampling);
}

/**
 * The gate both clocks ask before the learner is given work (the real clock's batcher guard and
 * dispatch, the virtual clock's `tryTrain`). `waiting`: its machine is in `waitingForBatch` and
 * nothing holds the run (a checkpoint, a failure, the end); `holdsBatch`: it holds the batch of a
 * step it failed in. Answers `again` (train that batch), `form` (its next step is whole: then
 * `learnerWaiting` forms it) or null.
 */
export function learnerNext<G>(
  c: LearnContext<G>,
  l: { waiting: boolean; holdsBatch: boolean },
): 'again' | 'form' | null {
  if (!l.waiting) return null;
  if (l.holdsBatch) return 'again';
  return nextStepWhole(c) ? 'form' : null;
}

/** Whether the learner's next step is within the run and all its groups are here. */
function nextStepWhole<G>(c: LearnContext<G>): boolean {
  const k = c.state.learnerVersion + 1;
  return k <= c.rules.maxSteps && c.queue.complete(k);
}

/** The learner's next step, formed when all its groups are here (core/batch disposeStep); else nothing. */
function form<G>(c: LearnContext<G>): LearnEffect<G>[] {
  if (!nextStepWhole(c)) return [];
  const k = c.state.learnerVersion + 1;
  if (c.rules.brokenSteps.includes(k)) return [{ type: 'fail', message: brokenInvariantMessage(k) }];
  const rules = {
    learnerVersion: c.state.learnerVersion,
    eta: c.rules.eta,
    correction: c.rules.correction,
    dynamicSampling: c.rules.dynamicSampling,
  };
  const d = disposeStep(k, c.queue.take(k), c.viewOf, rules, c.rules.groupsPerStep);
  if ('violation' in d) return [{ type: 'fail', message: d.violation }];
  c.state.formedThrough = k;
  // its groups no longer count against the planner's capacity
  return [{ type: 'train', batch: d }, { type: 'pump' }];
}

/** The update applied (core/update applyUpdate): the ledger folds the step, the version moves, the row, the publication. */
function updated<G>(c: LearnContext<G>, ev: Extract<LearnEvent<G>, { type: 'updated' }>): LearnEffect<G>[] {
  const bad =
    applyUpdate(c.ledger, c.state, ev.batch, ev.updateRollouts, ev.running) ??
    publishViolation(c.state.learnerVersion, ev.version);
  if (bad) return [{ type: 'fail', message: bad }];
  c.state.learnerVersion = ev.version;
  return [
    { type: 'row', step: ev.batch.step },
    { type: 'publish', version: ev.version },
  ];
}

/** A version out: evaluation and curriculum when due, the step done (checkpoint, last), the learner free. */
function published<G>(c: LearnContext<G>, v: number, passRate: number): LearnEffect<G>[] {
  c.state.published = v;
  const out: LearnEffect<G>[] = [];
  if (evalDue(v, c.rules.eval, c.rules.maxSteps)) out.push({ type: 'evaluate', version: v });
  out.push({ type: 'curriculum', version: v, passRate });
  const last = v >= c.rules.maxSteps;
  const every = c.rules.checkpointEvery;
  out.push({ type: 'stepDone', version: v, checkpoint: every !== null && checkpointDue(v, every), last });
  if (!last) out.push({ type: 'learnerFree' }, { type: 'pump' });
  return out;
}

// ── the sampling side ─────────────────────────────────────────────────────────────────────

/** One clock's sampling side: the planner's queues and limits, what admission reads, how a step is planned, the ledger. */
export interface SampleContext<R extends { step: number }> {
  state: PlannerQueues<R>;
  rules: { eta: number; groupsPerStep: number; capacityGroups: number };
  /** What admission reads, at the moment it plans (core/admission PlanningView). */
  view: () => PlanningView;
  /** Step k's requests in the clock's own form (none when a resume finds them all generated). */
  plan: (k: number) => R[];
  ledger: RolloutLedger;
}

/**
 * The topology one clock drives: its rules, its state (`TopologyState`), ledger and step queue, and
 * the clock's own forms — of a group (`viewOf`), of a step's requests (`plan`) — and admission's
 * view. Both sides step it (`stepLearning`, `stepSampling`); each clock builds one.
 */
export interface Topology<G, R extends { step: number }> extends LearnContext<G>, SampleContext<R> {
  rules: TopologyRules;
  state: TopologyState<R>;
}

export type SampleEvent =
  /** `count` samplers wait for work. */
  | { type: 'samplersIdle'; count: number }
  /** Samples `samples` (indices within the group) of slot `slot` of step `step` were delivered. */
  | { type: 'delivered'; step: number; slot: number; samples: ArrayLike<number> };

export type SampleEffect<R> =
  | { type: 'fail'; message: string }
  /** Give this request to an idle sampler. */
  | { type: 'generate'; request: R }
  /** Slot `slot` of step `step` is delivered: verify it. */
  | { type: 'verify'; step: number; slot: number };

const ranges: number[][] = [];
/** Samples 0 … n − 1 (a whole group), one shared array per n. */
export function wholeGroup(n: number): readonly number[] {
  return (ranges[n] ??= Array.from({ length: n }, (_, i) => i));
}

/**
 * The sampling side's answer to one event: idle samplers get the planner's next requests
 * (core/admission nextRequest: reissued work first, steps planned while admitted and within
 * capacity); a delivery is written into the ledger (each rollout once) and goes to verification.
 * Work given back (a failed sampler's request, a backfill) joins the planner by core/admission
 * `reissue`, and is handed out at the next `samplersIdle`.
 */
export function stepSampling<R extends { step: number }>(c: SampleContext<R>, ev: SampleEvent): SampleEffect<R>[] {
  switch (ev.type) {
    case 'samplersIdle': {
      let out: SampleEffect<R>[] = NOTHING; // (allocated only when work goes out: a pump follows most events)
      while (out.length < ev.count) {
        const request = nextRequest(c.state, c.rules, c.view, c.plan);
        if (!request) break;
        if (out === NOTHING) out = [];
        out.push({ type: 'generate', request });
      }
      return out;
    }
    case 'delivered':
      for (let i = 0; i < ev.samples.length; i++) {
        const bad = c.ledger.generated(ev.step, ev.slot, ev.samples[i]!);
        if (bad) return [{ type: 'fail', message: bad }];
      }
      return [{ type: 'verify', step: ev.step, slot: ev.slot }];
  }
}
