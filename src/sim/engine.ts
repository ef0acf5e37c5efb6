import path from 'node:path';
import { outstandingGroupsOf, problemsPerRequest, queueCapacityGroups } from '../core/admission.js';
import { slotsPerStep } from '../core/dynamicSampling.js';
import { accountingViolation, capacityViolation, stalenessBoundViolation } from '../core/invariants.js';
import { stageOfStep } from '../curriculum/stages.js';
import { stalenessBound } from '../runtime/config.js';
import { CostModel } from './profile.js';
import { EventQueue, type SimEvent } from './queue.js';
import type { GeneratedGroup } from './compute.js';
import {
  SimInvariantError,
  Interrupted,
  type SamplerState,
  type VerifierState,
  type LearnerState,
  type SimState,
  type SimOptions,
  type SimResult,
  type ScoredEntry,
  type Request,
  LineSink,
  initialState,
  transitionLine,
} from './state.js';
import { readSimCheckpoint, simStateBody, writeSimCheckpoint } from './simCheckpoint.js';
import { RolloutLedger, type DenseLedger } from '../core/ledger.js';
import { handleEvent } from './events.js';
import { makeTopology } from './topology.js';
import type { Topology } from '../core/topology.js';
import {
  checkVirtualCurriculum,
  initialCurriculum,
  makeCurriculum,
  restoreCurriculum,
  stepCurriculum,
} from './curriculum.js';
import type { CurriculumController } from '../curriculum/controller.js';
import type { CurriculumCore } from '../steps/curriculum.js';
import { scheduleFaults } from './faultDriver.js';
import { machineEventType } from '../steps/restarts.js';
import type { SimRole } from '../core/roles.js';
import { actorName } from '../core/faults.js';
import { deliverGroup, pump } from './sampling.js';
export { SimInvariantError, type SimOptions, type SimResult, type SimState } from './state.js';

/** What a checkpoint holds of the engine (simCheckpoint.ts simStateBody). */
type SimBody = {
  state: SimState;
  queue: ReturnType<EventQueue['toJSON']>;
  /** The window of the ledger (core/ledger.ts); `accounting`, the whole run's bytes, in checkpoints before it. */
  ledger?: DenseLedger;
  accounting?: string;
};

export class SimEngine {
  readonly eta: number;
  readonly cost: CostModel;
  s!: SimState;
  q!: EventQueue;
  /** The rollout ledger (core/ledger.ts), as on the real clock. */
  ledger!: RolloutLedger;
  /** The topology both sides step (core/topology Topology, sim/topology.ts): over `s`, `ledger` and `s.scored`. */
  topology!: Topology<ScoredEntry, Request>;
  readonly perStep: number;
  /** Problem slots a step may use (core/dynamicSampling: the plan's, then backfill slots). */
  readonly slotsPerStep: number;
  readonly G: number;
  readonly perRequest: number;
  readonly seed: number;
  metrics: LineSink | null = null;
  transitions: LineSink | null = null;
  /** The last group delivered (for the planted-violation test hook). */
  lastDeliveredStep = 0;
  lastDeliveredGroup: GeneratedGroup | null = null;
  /** The actors' names (core/faults actorName), each built once: every state change names its actor. */
  private readonly names = { sampler: [] as string[], verifier: [] as string[] };
  private readonly nameOf = (role: 'sampler' | 'verifier', i: number) => (this.names[role][i] ??= actorName(role, i));
  haltRequested = false;
  checkpointEvery: number;
  /** Verifier threads in state idle (derived from the state; lets a dispatch with none idle stop at once). */
  verifiersIdle!: number;
  /** Budget of each step (index = step), from the fixed stage list. */
  readonly budgets: number[];
  /** Groups that may be planned and not yet trained (the batcher's bounded queue). */
  readonly capacity: number;
  /** A dynamic curriculum's controller (its state lives in `s.curriculum`); null for a fixed list (planning's fast path). */
  readonly cur: CurriculumController | null;
  /** The curriculum's step (steps/curriculum.ts) over the run's controller, dynamic or not. */
  readonly curriculum: CurriculumCore;

  constructor(
    readonly o: SimOptions,
    resume?: SimBody,
  ) {
    const c = o.config;
    this.seed = c.seed;
    this.eta = stalenessBound(c);
    this.perStep = c.rollout.problemsPerStep;
    this.slotsPerStep = slotsPerStep(this.perStep, c.rollout.dynamicSampling);
    this.G = c.rollout.groupSize;
    this.perRequest = problemsPerRequest(c.rollout, c.topology.samplers);
    this.cost = new CostModel(
      o.profile,
      o.profile.weights.bytes === 'model' ? o.compute.weightBytes() : o.profile.weights.bytes,
      c.seed,
    );
    this.checkpointEvery = c.checkpoint.every;
    this.capacity = queueCapacityGroups(c.limits, this.perStep);
    const curriculum = makeCurriculum(c, this);
    this.curriculum = curriculum.core;
    this.cur = curriculum.controller.dynamic ? curriculum.controller : null;
    checkVirtualCurriculum(c, o.compute.kind === 'real' ? 'real' : 'none', 'config');
    this.budgets = this.cur
      ? []
      : Array.from(
          { length: o.maxSteps + 1 },
          (_, k) => stageOfStep(c.curriculum.stages, Math.max(1, k)).budgetTokens!,
        );
    if (resume) this.load(resume);
    else {
      this.s = initialState(this.o.config);
      this.s.curriculum = initialCurriculum(this.curriculum.cur);
      this.q = new EventQueue();
      this.ledger = new RolloutLedger(this.ledgerShape());
      this.verifiersIdle = this.s.verifiers.filter((v) => v.state === 'idle').length;
      this.topology = makeTopology(this);
    }
    if (o.dir) {
      this.metrics = new LineSink(path.join(o.dir, 'metrics.jsonl'), resume ? resume.state.metricsBytes : null);
      if (o.transitions)
        this.transitions = new LineSink(
          path.join(o.dir, 'transitions.jsonl'),
          resume ? resume.state.transitionsBytes : null,
        );
    }
  }

  get state(): SimState {
    return this.s;
  }

  /** Stop at the next checkpoint (SIGINT): the run can be resumed from it. */
  requestHalt(): void {
    this.haltRequested = true;
  }

  // ── bookkeeping ───────────────────────────────────────────────────────────────────────

  fail(what: string): never {
    throw new SimInvariantError(this.seed, this.s.events, this.s.t, what);
  }

  /**
   * One transitions.jsonl line (state.ts transitionLine): a sampler's, verifier's or learner's event
   * is its machine's (steps/restarts machineEventType), the curriculum's comes from its machine.
   */
  transition(actor: string, role: string, from: string | null, to: string, happened: string): void {
    if (!this.transitions || from === to) return;
    const event = role === 'curriculum' ? happened : machineEventType(role as SimRole, from, happened);
    this.s.transitionsBytes += this.transitions.write(transitionLine(this.s.t, actor, role, from, to, event));
  }

  metric(line: Record<string, unknown>): void {
    if (this.metrics) this.s.metricsBytes += this.metrics.write(JSON.stringify(line));
  }

  setSampler(i: number, to: SamplerState, event: string): void {
    const sm = this.s.samplers[i]!;
    const busyBefore = sm.state === 'generating' || sm.state === 'syncingWeights';
    const busyAfter = to === 'generating' || to === 'syncingWeights';
    if (busyBefore && !busyAfter) sm.busy += this.s.t - sm.busySince;
    if (!busyBefore && busyAfter) sm.busySince = this.s.t;
    this.transition(this.nameOf('sampler', i), 'sampler', sm.state, to, event);
    sm.state = to;
  }

  setVerifier(i: number, to: VerifierState, event: string): void {
    const v = this.s.verifiers[i]!;
    if (v.state === 'idle') this.verifiersIdle--;
    if (to === 'idle') this.verifiersIdle++;
    if (v.state === 'verifying' && to !== 'verifying') v.busy += this.s.t - v.busySince;
    if (v.state !== 'verifying' && to === 'verifying') v.busySince = this.s.t;
    this.transition(this.nameOf('verifier', i), 'verifier', v.state, to, event);
    v.state = to;
  }

  setLearner(to: LearnerState, event: string): void {
    const l = this.s.learner;
    if (l.state === 'training' && to !== 'training') l.busy += this.s.t - l.busySince;
    if (l.state !== 'training' && to === 'training') l.busySince = this.s.t;
    this.transition('learner', 'learner', l.state, to, event);
    l.state = to;
  }

  ledgerShape() {
    return { slotsPerStep: this.slotsPerStep, groupSize: this.G, problemsPerStep: this.perStep };
  }

  /**
   * The last step whose batch has formed, by the learner's record (the batch it holds, or the last
   * it trained): checked against the topology's `formedThrough` after every event.
   */
  formedByLearner(): number {
    const s = this.s;
    return s.learner.batch ? s.learner.batch.step : s.topo.learnerVersion;
  }

  /** Groups of the steps planned and not yet formed into a batch (core/admission outstandingGroupsOf). */
  outstandingGroups(): number {
    return outstandingGroupsOf(this.s.topo.nextStep - 1, this.s.topo.formedThrough, this.perStep);
  }

  /** O(1) checks after every event. */
  checkInvariants(lastPublished: number, lastLearner: number): void {
    const s = this.s;
    s.invariantChecks++;
    const bad = accountingViolation(s.counts) ?? stalenessBoundViolation(s.topo.stalenessMax, this.eta);
    if (bad) this.fail(bad);
    if (s.topo.published < lastPublished)
      this.fail(`published version went back from ${lastPublished} to ${s.topo.published}`);
    if (s.topo.learnerVersion < lastLearner)
      this.fail(`learner version went back from ${lastLearner} to ${s.topo.learnerVersion}`);
    if (s.topo.published > s.topo.learnerVersion)
      this.fail(`version ${s.topo.published} published before the learner trained it`);
    if (s.topo.formedThrough !== this.formedByLearner())
      this.fail(`the topology has steps formed through ${s.topo.formedThrough}, the learner ${this.formedByLearner()}`);
    const derived = this.outstandingGroups();
    if (s.outstandingGroups !== derived)
      this.fail(`${s.outstandingGroups} groups counted outstanding, ${derived} by the steps planned and formed`);
    const over = capacityViolation(derived, this.capacity);
    if (over) this.fail(over);
  }

  // ── the loop ──────────────────────────────────────────────────────────────────────────

  /** One event's effects on the state (sim/events.ts). */
  handle(ev: SimEvent): 'continue' | 'done' | 'checkpoint' {
    return handleEvent(this, ev);
  }

  /** Runs until the last step is published, a checkpoint after a halt request, or the event budget. */
  async run(): Promise<SimResult> {
    // With a shared halt flag and real compute, an event can be abandoned inside its compute: the
    // state from before it (what a checkpoint holds) is kept, and the sinks' positions with it.
    const abandonable = this.o.halt !== undefined && this.o.compute.kind === 'real' && this.o.dir !== null;
    if (this.s.events === 0 && this.q.size === 0 && !this.start(abandonable))
      return { status: 'halted', state: this.s };
    const status = await this.loop(abandonable);
    if (status === 'done') this.checkSettled();
    this.metrics?.flush();
    this.transitions?.flush();
    return { status, state: this.s };
  }

  /**
   * The run's first moment: its faults scheduled, every actor in its first state, the curriculum's
   * first measurement or the first requests. False when a halt abandoned it (the state restored).
   */
  private start(abandonable: boolean): boolean {
    const s = this.s;
    const before = abandonable ? this.snapshot() : null;
    try {
      scheduleFaults(this);
      for (let i = 0; i < s.samplers.length; i++)
        this.transition(this.nameOf('sampler', i), 'sampler', null, 'idle', 'START');
      for (let i = 0; i < s.verifiers.length; i++)
        this.transition(this.nameOf('verifier', i), 'verifier', null, 'idle', 'START');
      this.transition('learner', 'learner', null, 'waitingForBatch', 'START');
      stepCurriculum(this, { type: 'start' });
      pump(this);
    } catch (e) {
      if (this.abandoned(e, before, "the run's start")) return false;
      throw e;
    }
    return true;
  }

  /** Events one after another until the run is done, halts at a checkpoint, or spends its event budget. */
  private async loop(abandonable: boolean): Promise<SimResult['status']> {
    const s = this.s;
    const maxEvents = this.o.maxEvents,
      plant = this.o.plantDuplicateAtEvent ?? -1,
      halt = this.o.halt;
    let sinceYield = 0;
    const yieldEvery = this.o.compute.kind === 'real' ? 1 : 20_000;
    while (s.events < maxEvents) {
      if (halt && Atomics.load(halt, 0) !== 0) this.haltRequested = true;
      if (this.haltRequested && halt && this.o.dir) {
        writeSimCheckpoint(this); // at this event boundary, not the next step's
        return 'halted';
      }
      const r = this.next(abandonable, plant);
      if (r === 'done' || r === 'halted') return r;
      if (r === 'checkpoint') {
        writeSimCheckpoint(this);
        if (this.haltRequested) return 'halted';
      }
      // Yield to the host's event loop now and then (signals, progress output).
      if (++sinceYield >= yieldEvery) {
        sinceYield = 0;
        await new Promise((res) => setImmediate(res));
      }
    }
    return 'event-budget';
  }

  /** The next event popped and handled, then the invariants: its answer, or 'halted' when a halt abandoned it. */
  private next(abandonable: boolean, plant: number): ReturnType<SimEngine['handle']> | 'halted' {
    const s = this.s;
    const before = abandonable ? this.snapshot() : null;
    const q = this.q;
    const item = q.pop();
    if (!item)
      this.fail(
        `no events pending before the run finished (learner at v${s.topo.learnerVersion} of ${this.o.maxSteps}; samplers ${s.samplers.map((x) => x.state).join(',')}) — a deadlock`,
      );
    if (item.t < s.t) this.fail(`event '${item.kind}' at t=${item.t} before the clock's ${s.t}`);
    s.t = item.t;
    s.events++;
    const lastPublished = s.topo.published;
    const lastLearner = s.topo.learnerVersion;
    if (plant === s.events && this.lastDeliveredGroup)
      deliverGroup(this, this.lastDeliveredStep, this.lastDeliveredGroup);
    let r: ReturnType<SimEngine['handle']>;
    try {
      r = this.handle(item);
    } catch (e) {
      if (!this.abandoned(e, before, `event #${s.events}`)) throw e;
      return 'halted';
    }
    q.release(item); // handlers keep no reference to the event
    this.checkInvariants(lastPublished, lastLearner);
    return r;
  }

  /** Whether `e` abandons the work since `before` (an interrupt inside real compute): then the state from before it is restored and checkpointed. */
  private abandoned(e: unknown, before: ReturnType<SimEngine['snapshot']> | null, what: string): boolean {
    if (!(e instanceof Interrupted) || !before) return false;
    this.restore(before);
    writeSimCheckpoint(this);
    this.o.onLog?.(`halted inside ${what}; it runs again on --resume`);
    return true;
  }

  /** A finished run: every step folded out of the ledger, each checked whole when its update was applied. */
  private checkSettled(): void {
    const c = this.ledger.counts();
    if (this.ledger.settledThrough !== this.o.maxSteps || c.pending !== 0)
      this.fail(`run done with the ledger settled through step ${this.ledger.settledThrough}, ${c.pending} pending`);
  }

  /** The state before an event: engine state as a checkpoint writes it, and the logs' buffers. */
  private snapshot(): {
    body: string;
    metrics: ReturnType<LineSink['mark']> | null;
    transitions: ReturnType<LineSink['mark']> | null;
  } {
    return {
      body: simStateBody(this),
      metrics: this.metrics?.mark() ?? null,
      transitions: this.transitions?.mark() ?? null,
    };
  }

  /** Takes the state, queue and accounting of a checkpoint's body (a resume, or a snapshot restored). */
  private load(body: SimBody): void {
    this.s = body.state;
    this.q = EventQueue.fromJSON(body.queue);
    this.ledger = body.ledger
      ? RolloutLedger.fromDense(this.ledgerShape(), body.ledger)
      : RolloutLedger.fromDense(this.ledgerShape(), {
          settled: { through: 0, trained: 0, droppedStale: 0, droppedInvalid: 0, droppedFiltered: 0 },
          window: body.accounting!,
        });
    this.verifiersIdle = this.s.verifiers.filter((v) => v.state === 'idle').length;
    this.topology = makeTopology(this);
    // (a checkpoint from before fixed stage lists had a curriculum state: from their start)
    this.s.curriculum ??= initialCurriculum(this.curriculum.cur);
    restoreCurriculum(this, this.s.curriculum);
  }

  /** Back to a snapshot (an abandoned event: its state changes and its buffered log lines are dropped). */
  private restore(b: ReturnType<SimEngine['snapshot']>): void {
    this.load(JSON.parse(b.body) as SimBody);
    if (b.metrics) this.metrics?.rewind(b.metrics);
    if (b.transitions) this.transitions?.rewind(b.transitions);
  }

  close(): void {
    this.metrics?.close();
    this.transitions?.close();
  }

  // ── checkpoints ───────────────────────────────────────────────────────────────────────

  /** Reads the checkpoint `DIR/checkpoints/latest` names; null when there is none. */
  static readCheckpoint(dir: string) {
    return readSimCheckpoint(dir);
  }
}
