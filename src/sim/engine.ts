/**
 * The virtual clock: a discrete-event simulation of the training topology. One event queue
 * ordered by (simulated time, sequence number) owns time; every unit of work gets its duration
 * from the cost model (profile.ts); the computation itself (compute.ts: the real tiny GPT, or a
 * seeded surrogate) runs when the work's outcome is needed, and results are delivered in
 * simulated-time order. Nothing reads a wall clock, and every random draw comes from a stream
 * keyed by (seed, work item), so a run is a pure function of (seed, config, profile, faults):
 * metrics.jsonl, transitions.jsonl and the final weights are byte-identical on a rerun, and a run
 * resumed from a checkpoint continues exactly as if it had never stopped.
 *
 * The actors and their states follow machines/ (sampler idle → syncingWeights → generating →
 * delivering, failed → restarting; verifier idle → verifying; learner waitingForBatch → training →
 * publishing; grader idle/stalled); the staleness semantics are those of the real runtime
 * (admission: step k starts at version ≥ k − 1 − η; staleness = learner version − oldest token
 * version; corrections drop | none | tis | decoupled). After every event the invariants are
 * checked; a violation stops the run and names the seed and the event number.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  mayPlanStep,
  minVersionFor,
  problemsPerRequest,
  queueCapacityGroups,
  requestSlices,
} from '../core/admission.js';
import { DISPOSITION_CODE, dispositionOf } from '../core/ledger.js';
import { accountingViolation, capacityViolation, stalenessBoundViolation } from '../core/invariants.js';
import { afterFailure, afterVerifyFailure } from '../core/supervision.js';
import { commitCheckpoint, latestCheckpointDir } from '../runtime/checkpointer.js';
import { writeFileSynced } from '../util/atomic.js';
import { TrainedDigest, evalLine, stepRow, type BatchFigures, type StepStage } from '../core/metrics.js';
import { stageOfStep } from '../runtime/stages.js';
import { stalenessBound, type TrainConfig } from '../runtime/config.js';
import { CostModel, jitterFactor, type Profile } from './profile.js';
import { EventQueue, type SimEvent } from './queue.js';
import { Rng } from '../util/rng.js';
import { InputError } from '../util/errors.js';
import { actorOf, type SimFault, type SimRole } from '../core/faults.js';
import type { Compute, GeneratedGroup, Generation, Scored, VersionSchedule } from './compute.js';

export class SimInvariantError extends Error {
  override readonly name = 'SimInvariantError';
  constructor(
    readonly seed: number,
    readonly event: number,
    readonly t: number,
    what: string,
  ) {
    super(
      `invariant violated at event #${event} (t=${t.toFixed(6)} s, seed ${seed}): ${what} — the run is a pure function of its config.json and virtual.json: rerunning them replays it to this event`,
    );
  }
}

type SamplerState = 'idle' | 'syncingWeights' | 'generating' | 'delivering' | 'failed' | 'restarting';
type VerifierState = 'idle' | 'verifying' | 'delivering' | 'failed';
type LearnerState = 'waitingForBatch' | 'training' | 'publishing' | 'failed' | 'restarting';

interface Request {
  step: number;
  /** Request number within its step. */
  index: number;
  slots: number[];
  attempt: number;
}

interface SamplerS {
  state: SamplerState;
  version: number;
  /** The version being fetched while syncingWeights. */
  syncTo: number;
  epoch: number;
  req: Request | null;
  gen: Generation | null;
  schedule: VersionSchedule;
  genStart: number;
  factor: number;
  slow: number;
  /** A fault waiting for the actor's next piece of work (it was idle when the fault came). */
  next: 'crash' | 'hang' | null;
  busySince: number;
  busy: number;
  restarts: number;
}

interface VerifyJob {
  step: number;
  group: GeneratedGroup;
  attempts: number;
}

interface VerifierS {
  state: VerifierState;
  epoch: number;
  job: VerifyJob | null;
  slow: number;
  /** A fault waiting for the actor's next piece of work (it was idle when the fault came). */
  next: 'crash' | 'hang' | null;
  busySince: number;
  busy: number;
  restarts: number;
}

interface StepBatch {
  step: number;
  groups: { group: GeneratedGroup; scored: Scored; trained: boolean[] }[];
  tokens: number;
  stage: StepStage;
  /** TrainedDigest of the trained rollouts. */
  trained: string;
  figures: BatchFigures;
}

interface LearnerS {
  state: LearnerState;
  epoch: number;
  batch: StepBatch | null;
  slow: number;
  /** A fault waiting for the actor's next piece of work (it was idle when the fault came). */
  next: 'crash' | 'hang' | null;
  workStart: number;
  busySince: number;
  busy: number;
  restarts: number;
  publishAttempts: number;
  /** Crashed while publishing: the restarted learner replays the step (its time) to the same weights. */
  replay: boolean;
}

/** What every simulated actor has: its work epoch, speed factor and a fault waiting for its next work. */
type ActorS = SamplerS | VerifierS | LearnerS;

/** Everything that changes during a run, JSON-safe (the checkpoint is this object). */
interface SimState {
  t: number;
  events: number;
  published: number;
  learnerVersion: number;
  nextStep: number;
  outstandingGroups: number;
  planned: Request[];
  reissue: Request[];
  idle: number[];
  samplers: SamplerS[];
  verifiers: VerifierS[];
  verifyQueue: VerifyJob[];
  graderStalledUntil: number;
  graderWaiting: { job: VerifyJob; scored: Scored }[];
  scored: Record<string, { slot: number; group: GeneratedGroup; scored: Scored }[]>;
  learner: LearnerS;
  counts: { generated: number; trained: number; droppedStale: number; droppedInvalid: number; pending: number };
  tokensGenerated: number;
  tokensTrained: number;
  stalenessHist: number[];
  stalenessMax: number;
  inflightSwaps: number;
  faultsFired: string[];
  stepFaults: number[];
  stormNext: number[];
  invariantChecks: number;
  metricsBytes: number;
  transitionsBytes: number;
  done: boolean;
}

export interface SimOptions {
  config: TrainConfig;
  profile: Profile;
  compute: Compute;
  faults: SimFault[];
  maxSteps: number;
  /** Run directory; null = keep nothing on disk (benchmarks). */
  dir: string | null;
  /** Write transitions.jsonl (off for very large topologies). */
  transitions: boolean;
  /** Give up after this many events (a budget on every run). */
  maxEvents: number;
  /** Test hook: at this event number, deliver the last delivered group again (must be caught). */
  plantDuplicateAtEvent?: number;
  onStep?: (line: Record<string, unknown>) => void;
  onLog?: (s: string) => void;
}

export interface SimResult {
  status: 'done' | 'halted' | 'event-budget';
  state: SimState;
}

const FAULT_ROLES: SimRole[] = ['sampler', 'verifier', 'learner'];
const MAX_ROLLOUTS = 256 * 1024 * 1024;
const SIM_STATE_FILE = 'sim-state.json';

/** Lines appended to a file, with the byte count kept for checkpoints. */
class LineSink {
  private fd: number;
  private buf: string[] = [];
  private pendingBytes = 0;
  constructor(file: string, truncateTo: number | null) {
    if (truncateTo === null) fs.writeFileSync(file, '');
    else fs.truncateSync(file, truncateTo);
    this.fd = fs.openSync(file, 'a');
  }
  write(line: string): number {
    this.buf.push(line);
    const n = Buffer.byteLength(line) + 1;
    this.pendingBytes += n;
    if (this.buf.length >= 512) this.flush();
    return n;
  }
  flush(): void {
    if (this.buf.length === 0) return;
    fs.writeSync(this.fd, this.buf.join('\n') + '\n');
    this.buf = [];
    this.pendingBytes = 0;
  }
  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }
}

export class SimEngine {
  readonly eta: number;
  readonly cost: CostModel;
  private s: SimState;
  private q: EventQueue;
  private accounting: Uint8Array;
  private readonly perStep: number;
  private readonly G: number;
  private readonly perRequest: number;
  private readonly seed: number;
  private metrics: LineSink | null = null;
  private transitions: LineSink | null = null;
  /** The last group delivered (for the planted-violation test hook). */
  private lastDeliveredStep = 0;
  private lastDeliveredGroup: GeneratedGroup | null = null;
  private haltRequested = false;
  private checkpointEvery: number;
  /** Verifier threads in state idle (derived from the state; lets a dispatch with none idle stop at once). */
  private verifiersIdle: number;
  /** Budget of each step (index = step), from the fixed stage list. */
  private readonly budgets: number[];
  /** Groups that may be planned and not yet trained (the batcher's bounded queue). */
  private readonly capacity: number;

  constructor(
    readonly o: SimOptions,
    resume?: { state: SimState; queue: ReturnType<EventQueue['toJSON']>; accounting: string },
  ) {
    const c = o.config;
    this.seed = c.seed;
    this.eta = stalenessBound(c);
    this.perStep = c.rollout.problemsPerStep;
    this.G = c.rollout.groupSize;
    this.perRequest = problemsPerRequest(c.rollout, c.topology.samplers);
    this.cost = new CostModel(
      o.profile,
      o.profile.weights.bytes === 'model' ? o.compute.weightBytes() : o.profile.weights.bytes,
      c.seed,
    );
    this.checkpointEvery = c.checkpoint.every;
    this.capacity = queueCapacityGroups(c.limits, this.perStep);
    this.budgets = Array.from(
      { length: o.maxSteps + 1 },
      (_, k) => stageOfStep(c.curriculum.stages, Math.max(1, k)).budgetTokens!,
    );
    if (resume) {
      this.s = resume.state;
      this.q = EventQueue.fromJSON(resume.queue);
      this.accounting = new Uint8Array(Buffer.from(resume.accounting, 'base64'));
    } else {
      this.s = this.initialState();
      this.q = new EventQueue();
      const n = o.maxSteps * this.perStep * this.G;
      // One byte per rollout id (every id accounted once); a limit keeps memory and checkpoints bounded.
      if (n > MAX_ROLLOUTS)
        throw new InputError(
          `steps × rollout.problemsPerStep × rollout.groupSize = ${n} rollouts: the virtual clock accounts at most ${MAX_ROLLOUTS} per run; run fewer steps`,
        );
      this.accounting = new Uint8Array(n);
    }
    this.verifiersIdle = this.s.verifiers.filter((v) => v.state === 'idle').length;
    if (o.dir) {
      this.metrics = new LineSink(path.join(o.dir, 'metrics.jsonl'), resume ? resume.state.metricsBytes : null);
      if (o.transitions)
        this.transitions = new LineSink(
          path.join(o.dir, 'transitions.jsonl'),
          resume ? resume.state.transitionsBytes : null,
        );
    }
  }

  private initialState(): SimState {
    const c = this.o.config;
    const sampler = (): SamplerS => ({
      state: 'idle',
      version: 0,
      syncTo: 0,
      epoch: 0,
      req: null,
      gen: null,
      schedule: [],
      genStart: 0,
      factor: 1,
      slow: 1,
      next: null,
      busySince: 0,
      busy: 0,
      restarts: 0,
    });
    const verifier = (): VerifierS => ({
      state: 'idle',
      epoch: 0,
      job: null,
      slow: 1,
      next: null,
      busySince: 0,
      busy: 0,
      restarts: 0,
    });
    return {
      t: 0,
      events: 0,
      published: 0,
      learnerVersion: 0,
      nextStep: 1,
      outstandingGroups: 0,
      planned: [],
      reissue: [],
      idle: Array.from({ length: c.topology.samplers }, (_, i) => i),
      samplers: Array.from({ length: c.topology.samplers }, sampler),
      verifiers: Array.from({ length: c.topology.verifierThreads }, verifier),
      verifyQueue: [],
      graderStalledUntil: 0,
      graderWaiting: [],
      scored: {},
      learner: {
        state: 'waitingForBatch',
        epoch: 0,
        batch: null,
        slow: 1,
        next: null,
        workStart: 0,
        busySince: 0,
        busy: 0,
        restarts: 0,
        publishAttempts: 0,
        replay: false,
      },
      counts: { generated: 0, trained: 0, droppedStale: 0, droppedInvalid: 0, pending: 0 },
      tokensGenerated: 0,
      tokensTrained: 0,
      stalenessHist: [],
      stalenessMax: 0,
      inflightSwaps: 0,
      faultsFired: [],
      stepFaults: [],
      stormNext: [],
      invariantChecks: 0,
      metricsBytes: 0,
      transitionsBytes: 0,
      done: false,
    };
  }

  get state(): SimState {
    return this.s;
  }

  /** Stop at the next checkpoint (SIGINT): the run can be resumed from it. */
  requestHalt(): void {
    this.haltRequested = true;
  }

  // ── bookkeeping ───────────────────────────────────────────────────────────────────────

  private fail(what: string): never {
    throw new SimInvariantError(this.seed, this.s.events, this.s.t, what);
  }

  /** One transitions.jsonl line, as the real runtime writes them ({t (ms), actor, role, from, to, event}). */
  private transition(actor: string, role: string, from: string | null, to: string, event: string): void {
    if (!this.transitions || from === to) return;
    const line = `{"t":${Math.round(this.s.t * 1e6) / 1e3},"actor":"${actor}","role":"${role}","from":${from === null ? 'null' : `"${from}"`},"to":"${to}","event":"${event}"}`;
    this.s.transitionsBytes += this.transitions.write(line);
  }

  private metric(line: Record<string, unknown>): void {
    if (this.metrics) this.s.metricsBytes += this.metrics.write(JSON.stringify(line));
  }

  private setSampler(i: number, to: SamplerState, event: string): void {
    const sm = this.s.samplers[i]!;
    const busyBefore = sm.state === 'generating' || sm.state === 'syncingWeights';
    const busyAfter = to === 'generating' || to === 'syncingWeights';
    if (busyBefore && !busyAfter) sm.busy += this.s.t - sm.busySince;
    if (!busyBefore && busyAfter) sm.busySince = this.s.t;
    this.transition(`sampler-${i}`, 'sampler', sm.state, to, event);
    sm.state = to;
  }

  private setVerifier(i: number, to: VerifierState, event: string): void {
    const v = this.s.verifiers[i]!;
    if (v.state === 'idle') this.verifiersIdle--;
    if (to === 'idle') this.verifiersIdle++;
    if (v.state === 'verifying' && to !== 'verifying') v.busy += this.s.t - v.busySince;
    if (v.state !== 'verifying' && to === 'verifying') v.busySince = this.s.t;
    this.transition(`verifier-${i}`, 'verifier', v.state, to, event);
    v.state = to;
  }

  private setLearner(to: LearnerState, event: string): void {
    const l = this.s.learner;
    if (l.state === 'training' && to !== 'training') l.busy += this.s.t - l.busySince;
    if (l.state !== 'training' && to === 'training') l.busySince = this.s.t;
    this.transition('learner', 'learner', l.state, to, event);
    l.state = to;
  }

  private rolloutIndex(step: number, slot: number, j: number): number {
    return ((step - 1) * this.perStep + slot) * this.G + j;
  }

  /**
   * Accounts a delivered group's rollouts as generated (state 1; later 2 trained, 3 dropped-stale, 4
   * dropped-invalid).
   */
  private markGenerated(step: number, g: GeneratedGroup): void {
    const base = this.rolloutIndex(step, g.slot, 0);
    let tokens = 0;
    for (let j = 0; j < g.lengths.length; j++) {
      if (this.accounting[base + j] !== 0) this.fail(`rollout ${step}/${g.slot}/${j} generated twice`);
      this.accounting[base + j] = 1;
      tokens += g.lengths[j]!;
    }
    this.s.tokensGenerated += tokens;
    this.s.counts.generated += g.lengths.length;
    this.s.counts.pending += g.lengths.length;
  }

  /** O(1) checks after every event. */
  private checkInvariants(lastPublished: number, lastLearner: number): void {
    const s = this.s;
    s.invariantChecks++;
    const bad = accountingViolation(s.counts) ?? stalenessBoundViolation(s.stalenessMax, this.eta);
    if (bad) this.fail(bad);
    if (s.published < lastPublished) this.fail(`published version went back from ${lastPublished} to ${s.published}`);
    if (s.learnerVersion < lastLearner)
      this.fail(`learner version went back from ${lastLearner} to ${s.learnerVersion}`);
    if (s.published > s.learnerVersion) this.fail(`version ${s.published} published before the learner trained it`);
    const over = capacityViolation(s.outstandingGroups, this.capacity);
    if (over) this.fail(over);
  }

  // ── planning and sampling ─────────────────────────────────────────────────────────────

  private planStep(): boolean {
    const s = this.s;
    const k = s.nextStep;
    const may = mayPlanStep({
      step: k,
      lastStep: this.o.maxSteps,
      publishedVersion: s.published,
      eta: this.eta,
      outstandingGroups: s.outstandingGroups,
      groupsPerStep: this.perStep,
      capacityGroups: this.capacity,
    });
    if (!may) return false;
    for (const r of requestSlices(this.perStep, this.perRequest)) {
      const slots: number[] = [];
      for (let p = r.first; p < r.end; p++) slots.push(p);
      s.planned.push({ step: k, index: r.index, slots, attempt: 0 });
    }
    s.outstandingGroups += this.perStep;
    s.nextStep++;
    return true;
  }

  private pump(): void {
    const s = this.s;
    while (s.idle.length > 0) {
      let req = s.reissue.shift();
      if (!req) {
        if (s.planned.length === 0) this.planStep();
        req = s.planned.shift();
      }
      if (!req) return;
      this.startRequest(s.idle.shift()!, req);
    }
  }

  private startRequest(i: number, req: Request): void {
    const sm = this.s.samplers[i]!;
    sm.req = req;
    sm.epoch++;
    sm.genStart = this.s.t; // the work's start (a hang while syncing times out from here)
    this.setSampler(i, 'syncingWeights', 'GENERATE');
    if (sm.version < this.s.published) {
      sm.syncTo = this.s.published;
      this.q.add(this.s.t + this.cost.transferSeconds(), 'synced', i, sm.epoch);
    } else this.beginGenerate(i, 'WEIGHTS_CURRENT'); // up to date: no transfer, no time
  }

  private budgetOf(step: number): number {
    return this.budgets[step]!;
  }

  private generationSeconds(gen: Generation, factor: number): number {
    let max = 0,
      total = 0;
    for (const l of gen.rowLengths) {
      total += l;
      if (l > max) max = l;
    }
    return this.cost.generateSeconds(gen.promptTokens, max, total) * factor;
  }

  private beginGenerate(i: number, event: string): void {
    const sm = this.s.samplers[i]!;
    const req = sm.req!;
    if (sm.version < minVersionFor(req.step, this.eta))
      this.fail(
        `sampler-${i} at v${sm.version} started step ${req.step}, which needs v${minVersionFor(req.step, this.eta)}`,
      );
    sm.schedule = [[0, sm.version]];
    sm.gen = this.o.compute.generate(req.step, req.slots, this.budgetOf(req.step), this.G, sm.schedule);
    sm.factor =
      this.cost.samplerSpeed(i) *
      sm.slow *
      jitterFactor(this.o.profile.sampler.jitter, this.seed, 1, req.attempt, req.step, req.index);
    sm.genStart = this.s.t;
    this.setSampler(i, 'generating', event);
    const dur = this.generationSeconds(sm.gen, sm.factor);
    this.scheduleWork('sampler', i, sm, req.step, dur, 'generated');
  }

  /** In-flight updates: version `v` reaches a generating sampler; tokens from the current position on use it. */
  private swap(i: number, v: number): void {
    const sm = this.s.samplers[i]!;
    if (sm.state !== 'generating' || sm.version >= v || !sm.gen) return;
    const elapsed = this.s.t - sm.genStart;
    const rows = sm.gen.rowLengths;
    const maxLen = Math.max(...rows);
    // lo = the last position whose logits exist at `elapsed` (0 while the prefill runs). As in the
    // real sampler, new weights apply from the next decode step on: position lo + 1.
    let lo = 0,
      hi = maxLen;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.cost.decodeOffset(sm.gen.promptTokens, rows, mid) * sm.factor <= elapsed) lo = mid;
      else hi = mid - 1;
    }
    const from = lo + 1;
    sm.version = v;
    if (from >= maxLen) return; // every position already decoded: the result is on its way
    const last = sm.schedule.at(-1)!;
    if (last[0] === from) last[1] = v;
    else sm.schedule.push([from, v]);
    this.s.inflightSwaps++;
    const req = sm.req!;
    sm.gen = this.o.compute.generate(req.step, req.slots, this.budgetOf(req.step), this.G, sm.schedule);
    sm.epoch++;
    const end = sm.genStart + this.generationSeconds(sm.gen, sm.factor);
    this.q.add(Math.max(this.s.t, end), 'generated', i, sm.epoch);
  }

  private delivered(i: number): void {
    const sm = this.s.samplers[i]!;
    const req = sm.req!;
    for (const g of sm.gen!.groups) {
      this.markGenerated(req.step, g);
      this.s.verifyQueue.push({ step: req.step, group: g, attempts: 0 });
      this.lastDeliveredStep = req.step;
      this.lastDeliveredGroup = g;
    }
    sm.req = null;
    sm.gen = null;
    this.setSampler(i, 'idle', 'DELIVERED');
    this.s.idle.push(i);
    this.dispatchVerifiers();
  }

  // ── verification, grading, batching ───────────────────────────────────────────────────

  private dispatchVerifiers(): void {
    const s = this.s;
    for (let i = 0; i < s.verifiers.length && s.verifyQueue.length > 0 && this.verifiersIdle > 0; i++) {
      const v = s.verifiers[i]!;
      if (v.state !== 'idle') continue;
      this.startVerify(i, s.verifyQueue.shift()!, 'VERIFY');
    }
  }

  private startVerify(i: number, job: VerifyJob, event: string): void {
    const v = this.s.verifiers[i]!;
    v.job = job;
    v.epoch++;
    this.setVerifier(i, 'verifying', event);
    const dur =
      this.cost.verifySeconds(job.group.lengths.length) *
      v.slow *
      jitterFactor(this.o.profile.verifier.jitter, this.seed, 2, job.attempts, job.step, job.group.slot);
    this.scheduleWork('verifier', i, v, job.step, dur, 'verified');
  }

  private graded(job: VerifyJob, scored: Scored): void {
    const s = this.s;
    if (s.t < s.graderStalledUntil) {
      s.graderWaiting.push({ job, scored });
      return;
    }
    const list = (s.scored[job.step] ??= []);
    list.push({ slot: job.group.slot, group: job.group, scored });
    if (list.length === this.perStep) this.tryTrain();
  }

  private tryTrain(): void {
    const s = this.s;
    const l = s.learner;
    const k = s.learnerVersion + 1;
    if (l.state !== 'waitingForBatch' || l.batch || s.done) return;
    const list = s.scored[k];
    if (!list || list.length < this.perStep) return;
    delete s.scored[k];
    list.sort((a, b) => a.slot - b.slot);
    const correction = this.o.config.learner.correction;
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
    const acc = this.accounting;
    const GENERATED = DISPOSITION_CODE.generated;
    const digest = new TrainedDigest(k);
    let nTrained = 0,
      nStale = 0,
      nInvalid = 0;
    for (const { group: g, scored } of list) {
      const r = scored.rewards;
      const inv = scored.invalid;
      const G = g.lengths.length;
      let same = true;
      const trained = new Array<boolean>(G);
      const lag = s.learnerVersion - g.minVersion; // one per group: its rows start together
      if (lag < 0 || lag > this.eta)
        this.fail(
          `group ${k}/${g.slot} sampled at v${g.minVersion} trained at v${s.learnerVersion}: ` +
            `staleness ${lag} outside [0, ${this.eta}]`,
        );
      const base = this.rolloutIndex(k, g.slot, 0);
      let valid = 0,
        stale = false;
      for (let j = 0; j < G; j++) {
        const len = g.lengths[j]!;
        const rj = r[j]!;
        if (rj !== r[0]) same = false;
        rewardSum += rj;
        if (rj > 0) {
          correct++;
          lengthCorrectSum += len;
        }
        lengthSum += len;
        if (acc[base + j] !== GENERATED)
          this.fail(
            `rollout ${k}/${g.slot}/${j} accounted ${acc[base + j] === 0 ? 'before it was generated' : 'twice'}`,
          );
        const d = dispositionOf(inv[j]!, len, lag, correction);
        acc[base + j] = DISPOSITION_CODE[d];
        trained[j] = d === 'trained';
        if (trained[j]) digest.add(g.slot, j);
        if (d === 'dropped-invalid') nInvalid++;
        else {
          valid++;
          if (d === 'dropped-stale') {
            nStale++;
            stale = true;
          } else {
            nTrained++;
            tokens += len;
          }
        }
      }
      n += G;
      if (same) zero++;
      if (valid > 0) hist[lag] = (hist[lag] ?? 0) + valid;
      if (!stale && valid > 0) {
        lagSum += lag * valid;
        if (lag > lagMax) lagMax = lag;
      }
      groups.push({ group: g, scored, trained });
    }
    s.counts.pending -= nTrained + nStale + nInvalid;
    s.counts.trained += nTrained;
    s.counts.droppedStale += nStale;
    s.counts.droppedInvalid += nInvalid;
    for (let lag = 0; lag < s.stalenessHist.length; lag++) s.stalenessHist[lag] ??= 0;
    s.stalenessMax = Math.max(s.stalenessMax, lagMax);
    s.outstandingGroups -= this.perStep;
    s.tokensTrained += tokens;
    const stage = stageOfStep(this.o.config.curriculum.stages, k);
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
      },
    };
    this.startTraining('BATCH');
    this.pump(); // capacity freed
  }

  private startTraining(event: string): void {
    const l = this.s.learner;
    const b = l.batch!;
    l.epoch++;
    l.workStart = this.s.t;
    this.setLearner('training', event);
    const dur =
      this.cost.trainSeconds(b.tokens) *
      l.slow *
      jitterFactor(this.o.profile.learner.jitter, this.seed, 3, l.restarts, b.step, 0);
    this.scheduleWork('learner', 0, l, b.step, dur, 'trained');
  }

  private trained(): void {
    const s = this.s;
    const l = s.learner;
    const b = l.batch!;
    if (l.replay) {
      l.replay = false; // the replayed step reproduced the weights it had before the crash
      return this.startPublishing('TRAINED');
    }
    const stats = this.o.compute.train({ step: b.step, learnerVersion: s.learnerVersion, groups: b.groups });
    s.learnerVersion = b.step;
    this.o.compute.publish(b.step);
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
      trained: b.trained,
      learner: stats,
    });
    this.metric(line);
    this.metrics?.flush(); // one write per step: metrics.jsonl can be followed while the run goes on
    this.o.onStep?.(line);
    l.publishAttempts = 0;
    this.startPublishing('TRAINED');
  }

  private startPublishing(event: string): void {
    const l = this.s.learner;
    const v = this.s.learnerVersion;
    l.epoch++;
    this.setLearner('publishing', event);
    let dt = this.cost.transferSeconds();
    for (const f of this.o.faults) {
      if (f.kind === 'delay-publication' && f.version === v && l.publishAttempts === 0) {
        dt += f.by;
        this.fired(`delay-publication:v${v}`);
      }
      if (f.kind === 'drop-publication' && f.version === v && l.publishAttempts === 0) {
        this.fired(`drop-publication:v${v}`);
        l.publishAttempts++;
        this.q.add(this.s.t + f.retryAfter, 'republish', 0, l.epoch);
        return;
      }
    }
    l.publishAttempts++;
    this.q.add(this.s.t + dt, 'published', 0, l.epoch);
  }

  private publishedEvent(): 'continue' | 'done' | 'checkpoint' {
    const s = this.s;
    const v = s.learnerVersion;
    s.published = v;
    s.learner.batch = null;
    this.setLearner('waitingForBatch', 'PUBLISHED');
    // One pass over the samplers: in-flight swaps to v, and the oldest weights still in use.
    const inflight = this.o.config.staleness.policy === 'inflight';
    const arrive = s.t + this.cost.transferSeconds();
    let oldest = v;
    s.samplers.forEach((sm, i) => {
      if (sm.state === 'generating') {
        if (inflight && sm.version < v) this.q.add(arrive, 'swap', i, sm.epoch, { version: v });
        if (sm.schedule.length) oldest = Math.min(oldest, sm.schedule[0]![1]);
      } else if (sm.state === 'syncingWeights') oldest = Math.min(oldest, sm.syncTo);
    });
    this.o.compute.release(oldest);
    const ev = this.o.config.eval;
    if (ev && this.o.compute.evaluate && ((ev.every && v % ev.every === 0) || v === this.o.maxSteps)) {
      const r = this.o.compute.evaluate(v);
      this.metric(evalLine({ step: v, tSeconds: s.t, evaluatedVersion: r.version, eval: ev, budgets: r.rows }));
    }
    if (v >= this.o.maxSteps) {
      s.done = true;
      return 'done';
    }
    this.tryTrain();
    this.pump();
    return this.o.dir && v % this.checkpointEvery === 0 ? 'checkpoint' : 'continue';
  }

  // ── faults ────────────────────────────────────────────────────────────────────────────

  private fired(key: string): void {
    this.s.faultsFired.push(key);
    this.metric({ type: 'fault', t: this.s.t, event: this.s.events, fault: key });
    this.o.onLog?.(`fault ${key} at t=${this.s.t.toFixed(3)} s`);
  }

  /**
   * The end of a piece of work that takes `dur` seconds: its completion event `done`, or — when a
   * fault is planned for it (for its step, or waiting since the actor was idle) — a crash halfway
   * through, or a hang the supervisor notices at the role's timeout.
   */
  private scheduleWork(role: SimRole, i: number, a: ActorS, step: number, dur: number, done: string): void {
    const fault = this.stepFault(role, i, step) ?? a.next;
    a.next = null;
    if (fault === 'crash') this.q.add(this.s.t + dur / 2, 'crash', i, a.epoch, { role });
    else if (fault === 'hang') this.q.add(this.s.t + this.timeoutSeconds(role), 'timeout', i, a.epoch, { role });
    else this.q.add(this.s.t + dur, done, i, a.epoch);
  }

  private timeoutSeconds(role: SimRole): number {
    return this.o.config.limits[`${role}TimeoutMs`] / 1000;
  }

  private actor(role: SimRole, i: number): ActorS {
    return role === 'sampler' ? this.s.samplers[i]! : role === 'verifier' ? this.s.verifiers[i]! : this.s.learner;
  }

  /** A crash or hang planned for `role`'s first work of `step` (fires once). */
  private stepFault(role: SimRole, index: number, step: number): 'crash' | 'hang' | null {
    const faults = this.o.faults;
    for (let fi = 0; fi < faults.length; fi++) {
      const f = faults[fi]!;
      if ((f.kind !== 'crash' && f.kind !== 'hang') || !('step' in f.at) || f.at.step !== step) continue;
      const a = actorOf(f.actor);
      if (a.role !== role || (a.index !== null && a.index !== index) || this.s.stepFaults.includes(fi)) continue;
      this.s.stepFaults.push(fi);
      this.fired(`${f.kind}:${role}-${index}@step=${step}`);
      return f.kind;
    }
    return null;
  }

  private scheduleFaults(): void {
    this.o.faults.forEach((f, fi) => {
      if ((f.kind === 'crash' || f.kind === 'hang' || f.kind === 'slow') && 'time' in f.at)
        this.q.push(f.at.time, { kind: 'fault', actor: -1, epoch: 0, data: { index: fi } });
      if (f.kind === 'stall') this.q.push(f.at.time, { kind: 'fault', actor: -1, epoch: 0, data: { index: fi } });
      if (f.kind === 'storm') {
        this.s.stormNext[fi] = 0;
        this.scheduleStorm(fi, f.from);
      }
    });
  }

  private scheduleStorm(fi: number, from: number): void {
    const f = this.o.faults[fi]!;
    if (f.kind !== 'storm') return;
    const n = this.s.stormNext[fi]!;
    if (n >= f.max) return;
    const rng = new Rng(`storm/${this.seed}/${fi}/${n}`);
    const t = from + -Math.log(1 - rng.float()) / f.rate;
    if (t > f.until) return;
    this.q.push(t, { kind: 'storm', actor: -1, epoch: 0, data: { index: fi, n } });
  }

  private actorsOf(role: SimRole, index: number | null): number[] {
    const n = role === 'sampler' ? this.s.samplers.length : role === 'verifier' ? this.s.verifiers.length : 1;
    if (index !== null && index >= n) return [];
    return index === null ? Array.from({ length: n }, (_, i) => i) : [index];
  }

  private applyFault(
    kind: 'crash' | 'hang' | 'slow',
    role: SimRole,
    i: number,
    factor: number,
    duration: number | undefined,
  ): void {
    const name = role === 'learner' ? 'learner' : `${role}-${i}`;
    this.fired(`${kind}:${name}@t=${Math.round(this.s.t * 1e6) / 1e6}`);
    if (kind === 'slow') {
      this.actor(role, i).slow *= factor;
      if (duration !== undefined) this.q.add(this.s.t + duration, 'slow-end', i, 0, { role, factor });
      return;
    }
    if (kind === 'crash') return this.crash(role, i, 'CRASH');
    // hang: work in progress stops; the supervisor notices at the timeout
    const timeout = this.timeoutSeconds(role);
    if (role === 'sampler') {
      const sm = this.s.samplers[i]!;
      if (sm.state === 'generating' || sm.state === 'syncingWeights') {
        sm.epoch++;
        this.q.push(Math.max(this.s.t, sm.genStart + timeout), {
          kind: 'timeout',
          actor: i,
          epoch: sm.epoch,
          data: { role },
        });
      } else if (sm.state === 'idle' || sm.state === 'delivering') sm.next = 'hang';
    } else if (role === 'verifier') {
      const v = this.s.verifiers[i]!;
      if (v.state === 'verifying') {
        v.epoch++;
        this.q.push(Math.max(this.s.t, v.busySince + timeout), {
          kind: 'timeout',
          actor: i,
          epoch: v.epoch,
          data: { role },
        });
      } else if (v.state === 'idle') v.next = 'hang';
    } else {
      const l = this.s.learner;
      if (l.state === 'training' || l.state === 'publishing') {
        l.epoch++;
        this.q.push(Math.max(this.s.t, l.workStart + timeout), {
          kind: 'timeout',
          actor: 0,
          epoch: l.epoch,
          data: { role },
        });
      } else if (l.state === 'waitingForBatch') l.next = 'hang';
    }
  }

  /**
   * A crash (or a hang's timeout). Busy actors fail and come back after their restart time, along
   * the edges of their machines (machines/): a sampler's request is re-issued; a verifier retries its
   * job (or, out of attempts, delivers it as invalid); the learner redoes its step. An idle actor's
   * process is dead but nobody knows yet: its next piece of work fails.
   */
  private crash(role: SimRole, i: number, event: string): void {
    const p = this.o.profile;
    const limit = this.o.config.limits.restartsMax;
    if (role === 'sampler') {
      const sm = this.s.samplers[i]!;
      if (sm.state === 'idle' || sm.state === 'delivering') return void (sm.next = 'crash');
      if (sm.state !== 'syncingWeights' && sm.state !== 'generating') return; // already failed or restarting
      this.s.reissue.push({ ...sm.req!, attempt: sm.req!.attempt + 1 });
      sm.req = null;
      sm.gen = null;
      sm.epoch++;
      if (afterFailure(++sm.restarts, limit) === 'give-up')
        this.runFailed(`sampler-${i} failed ${sm.restarts} times (limits.restartsMax ${limit})`);
      this.setSampler(i, 'failed', event);
      this.setSampler(i, 'restarting', 'RESTART');
      this.q.add(this.s.t + p.sampler.restartS, 'restarted', i, sm.epoch, { role });
    } else if (role === 'verifier') {
      const v = this.s.verifiers[i]!;
      if (v.state === 'idle') return void (v.next = 'crash');
      if (v.state !== 'verifying') return;
      v.job!.attempts++;
      v.epoch++;
      if (afterFailure(++v.restarts, limit) === 'give-up')
        this.runFailed(`verifier-${i} failed ${v.restarts} times (limits.restartsMax ${limit})`);
      this.setVerifier(i, 'failed', event);
      this.q.add(this.s.t + p.verifier.restartS, 'restarted', i, v.epoch, { role });
    } else {
      const l = this.s.learner;
      if (l.state === 'waitingForBatch') return void (l.next = 'crash');
      if (l.state !== 'training' && l.state !== 'publishing') return;
      if (l.state === 'publishing') l.replay = true; // its weights were computed: the restart replays to them
      l.epoch++;
      if (afterFailure(++l.restarts, limit) === 'give-up')
        this.runFailed(`learner failed ${l.restarts} times (limits.restartsMax ${limit})`);
      this.setLearner('failed', event);
      this.setLearner('restarting', 'RESTART');
      this.q.add(this.s.t + p.learner.restartS, 'restarted', 0, l.epoch, { role });
    }
  }

  private restarted(role: SimRole, i: number): void {
    if (role === 'sampler') {
      const sm = this.s.samplers[i]!;
      sm.version = -1; // a fresh process: it loads the newest weights with its next request
      this.setSampler(i, 'idle', 'RESTARTED');
      this.s.idle.push(i);
      this.pump();
    } else if (role === 'verifier') {
      const v = this.s.verifiers[i]!;
      const job = v.job!;
      if (afterVerifyFailure(job.attempts, this.o.config.limits.verifyAttemptsMax) === 'hand-on-invalid') {
        // Out of attempts: the group is handed on as invalid (its rollouts are dropped-invalid).
        v.job = null;
        this.setVerifier(i, 'delivering', 'GIVE_UP');
        const n = job.group.lengths.length;
        this.graded(job, { rewards: new Array(n).fill(0), invalid: new Array(n).fill(true) });
        this.setVerifier(i, 'idle', 'DELIVERED');
        this.dispatchVerifiers();
      } else this.startVerify(i, job, 'RETRY');
    } else {
      const l = this.s.learner;
      this.setLearner('waitingForBatch', 'RESTARTED');
      if (l.batch) this.startTraining(l.replay ? 'REPLAY' : 'BATCH');
      else this.tryTrain();
    }
  }

  private runFailed(why: string): never {
    throw new Error(`run failed at t=${this.s.t.toFixed(3)} s (event #${this.s.events}, seed ${this.seed}): ${why}`);
  }

  // ── the loop ──────────────────────────────────────────────────────────────────────────

  private handle(ev: SimEvent): 'continue' | 'done' | 'checkpoint' {
    const s = this.s;
    switch (ev.kind) {
      case 'synced': {
        const sm = s.samplers[ev.actor]!;
        if (sm.epoch !== ev.epoch || sm.state !== 'syncingWeights') break;
        sm.version = sm.syncTo;
        this.beginGenerate(ev.actor, 'WEIGHTS_SYNCED');
        break;
      }
      case 'generated': {
        const sm = s.samplers[ev.actor]!;
        if (sm.epoch !== ev.epoch || sm.state !== 'generating') break;
        this.setSampler(ev.actor, 'delivering', 'GENERATED');
        this.q.add(this.s.t + this.o.profile.messageLatencyS, 'delivered', ev.actor, sm.epoch);
        break;
      }
      case 'delivered': {
        const sm = s.samplers[ev.actor]!;
        if (sm.epoch !== ev.epoch || sm.state !== 'delivering') break;
        this.delivered(ev.actor);
        this.pump();
        break;
      }
      case 'swap': {
        const sm = s.samplers[ev.actor]!;
        if (sm.epoch === ev.epoch) this.swap(ev.actor, ev.data!.version as number);
        break;
      }
      case 'verified': {
        const v = s.verifiers[ev.actor]!;
        if (v.epoch !== ev.epoch || v.state !== 'verifying') break;
        const job = v.job!;
        v.job = null;
        this.setVerifier(ev.actor, 'delivering', 'VERIFIED');
        this.graded(job, this.o.compute.score(job.step, job.group));
        this.setVerifier(ev.actor, 'idle', 'DELIVERED');
        this.dispatchVerifiers();
        break;
      }
      case 'trained':
        if (s.learner.epoch === ev.epoch && s.learner.state === 'training') this.trained();
        break;
      case 'published':
        if (s.learner.epoch === ev.epoch && s.learner.state === 'publishing') return this.publishedEvent();
        break;
      case 'republish':
        if (s.learner.epoch === ev.epoch && s.learner.state === 'publishing') {
          s.learner.publishAttempts++;
          this.q.add(this.s.t + this.cost.transferSeconds(), 'published', 0, s.learner.epoch);
        }
        break;
      case 'crash':
      case 'timeout': {
        const role = ev.data!.role as SimRole;
        if (this.actor(role, ev.actor).epoch === ev.epoch)
          this.crash(role, ev.actor, ev.kind === 'crash' ? 'CRASH' : 'TIMEOUT');
        break;
      }
      case 'restarted': {
        const role = ev.data!.role as SimRole;
        if (this.actor(role, ev.actor).epoch === ev.epoch) this.restarted(role, ev.actor);
        break;
      }
      case 'slow-end': {
        this.actor(ev.data!.role as SimRole, ev.actor).slow /= ev.data!.factor as number;
        break;
      }
      case 'grader-resume': {
        if (s.t < s.graderStalledUntil) break;
        const waiting = s.graderWaiting.splice(0);
        for (const w of waiting) this.graded(w.job, w.scored);
        break;
      }
      case 'fault': {
        const f = this.o.faults[ev.data!.index as number]!;
        if (f.kind === 'stall') {
          this.fired(`stall:graders@t=${Math.round(s.t * 1e6) / 1e6}`);
          s.graderStalledUntil = Math.max(s.graderStalledUntil, s.t + f.for);
          this.q.push(s.graderStalledUntil, { kind: 'grader-resume', actor: -1, epoch: 0 });
        } else if (f.kind === 'crash' || f.kind === 'hang' || f.kind === 'slow') {
          const a = actorOf(f.actor);
          // 'sampler' with no index: crash/hang one (chosen by the seeded stream), slow all.
          let targets = this.actorsOf(a.role, a.index);
          if (a.index === null && f.kind !== 'slow' && targets.length > 0)
            targets = [new Rng(`fault-target/${this.seed}/${ev.data!.index}`).int(targets.length)];
          for (const i of targets)
            this.applyFault(f.kind, a.role, i, f.kind === 'slow' ? f.factor : 1, f.kind === 'slow' ? f.for : undefined);
        }
        break;
      }
      case 'storm': {
        const fi = ev.data!.index as number;
        const f = this.o.faults[fi]!;
        if (f.kind !== 'storm' || s.done) break;
        const rng = new Rng(`storm-pick/${this.seed}/${fi}/${ev.data!.n}`);
        const kind = rng.pick(f.kinds);
        const role = rng.pick(f.roles.filter((r) => FAULT_ROLES.includes(r)));
        const targets = this.actorsOf(role, null);
        this.applyFault(kind, role, targets[rng.int(targets.length)]!, f.slowFactor, f.slowFor);
        s.stormNext[fi] = (ev.data!.n as number) + 1;
        this.scheduleStorm(fi, s.t);
        break;
      }
      default:
        this.fail(`unknown event '${ev.kind}'`);
    }
    return 'continue';
  }

  /** Runs until the last step is published, a checkpoint after a halt request, or the event budget. */
  async run(): Promise<SimResult> {
    const s = this.s;
    if (s.events === 0 && this.q.size === 0) {
      this.scheduleFaults();
      for (let i = 0; i < s.samplers.length; i++) this.transition(`sampler-${i}`, 'sampler', null, 'idle', 'START');
      for (let i = 0; i < s.verifiers.length; i++) this.transition(`verifier-${i}`, 'verifier', null, 'idle', 'START');
      this.transition('learner', 'learner', null, 'waitingForBatch', 'START');
      this.pump();
    }
    let status: SimResult['status'] = 'event-budget';
    let sinceYield = 0;
    const q = this.q,
      maxEvents = this.o.maxEvents,
      plant = this.o.plantDuplicateAtEvent ?? -1;
    const yieldEvery = this.o.compute.kind === 'real' ? 1 : 20_000;
    while (s.events < maxEvents) {
      const item = q.pop();
      if (!item)
        this.fail(
          `no events pending before the run finished (learner at v${s.learnerVersion} of ${this.o.maxSteps}; samplers ${s.samplers.map((x) => x.state).join(',')}) — a deadlock`,
        );
      if (item.t < s.t) this.fail(`event '${item.kind}' at t=${item.t} before the clock's ${s.t}`);
      s.t = item.t;
      s.events++;
      const lastPublished = s.published;
      const lastLearner = s.learnerVersion;
      if (plant === s.events && this.lastDeliveredGroup)
        this.markGenerated(this.lastDeliveredStep, this.lastDeliveredGroup);
      const r = this.handle(item);
      q.release(item); // handlers keep no reference to the event
      this.checkInvariants(lastPublished, lastLearner);
      if (r === 'done') {
        status = 'done';
        break;
      }
      if (r === 'checkpoint') {
        this.checkpoint();
        if (this.haltRequested) {
          status = 'halted';
          break;
        }
      }
      // Yield to the host's event loop now and then (signals, progress output).
      if (++sinceYield >= yieldEvery) {
        sinceYield = 0;
        await new Promise((res) => setImmediate(res));
      }
    }
    if (status === 'done') this.finalCheck();
    this.metrics?.flush();
    this.transitions?.flush();
    return { status, state: s };
  }

  /** At the end: every rollout of every step accounted exactly once (a full scan). */
  private finalCheck(): void {
    const n = this.o.maxSteps * this.perStep * this.G;
    for (let i = 0; i < n; i++) {
      const a = this.accounting[i]!;
      if (a < 2)
        this.fail(
          `rollout #${i} (step ${Math.floor(i / (this.perStep * this.G)) + 1}) ${a === 0 ? 'never generated' : 'generated but never trained or dropped'}`,
        );
    }
  }

  close(): void {
    this.metrics?.close();
    this.transitions?.close();
  }

  // ── checkpoints ───────────────────────────────────────────────────────────────────────

  private checkpoint(): void {
    this.metrics?.flush();
    this.transitions?.flush();
    const v = this.s.learnerVersion;
    const body = {
      format: 'e3sim-sim-checkpoint',
      formatVersion: 1,
      state: this.s,
      queue: this.q.toJSON(),
      accounting: Buffer.from(this.accounting).toString('base64'),
    };
    commitCheckpoint(this.o.dir!, v, this.o.config.checkpoint.keep, (tmp) => {
      this.o.compute.save(tmp);
      writeFileSynced(path.join(tmp, SIM_STATE_FILE), JSON.stringify(body));
    });
    this.o.onLog?.(`checkpoint step-${v} (t=${this.s.t.toFixed(3)} s)`);
  }

  /** Reads the checkpoint `DIR/checkpoints/latest` names; null when there is none. */
  static readCheckpoint(
    dir: string,
  ): { ckDir: string; state: SimState; queue: ReturnType<EventQueue['toJSON']>; accounting: string } | null {
    const ckDir = latestCheckpointDir(dir);
    if (!ckDir) return null;
    const file = path.join(ckDir, SIM_STATE_FILE);
    if (!fs.existsSync(file)) return null;
    const body = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      format: string;
      state: SimState;
      queue: ReturnType<EventQueue['toJSON']>;
      accounting: string;
    };
    if (body.format !== 'e3sim-sim-checkpoint') return null;
    return { ckDir, state: body.state, queue: body.queue, accounting: body.accounting };
  }

  /** The figures of a finished run (deterministic; wall-clock figures are added by the caller). */
  summary(): Record<string, unknown> {
    const s = this.s;
    const hist = s.stalenessHist.map((x) => x ?? 0);
    const n = hist.reduce((a, b) => a + b, 0);
    const T = Math.max(s.t, 1e-12);
    const samplersBusy = s.samplers.reduce(
      (a, x) => a + x.busy + (x.state === 'generating' || x.state === 'syncingWeights' ? s.t - x.busySince : 0),
      0,
    );
    const verifiersBusy = s.verifiers.reduce(
      (a, x) => a + x.busy + (x.state === 'verifying' ? s.t - x.busySince : 0),
      0,
    );
    const learnerBusy = s.learner.busy + (s.learner.state === 'training' ? s.t - s.learner.busySince : 0);
    return {
      clock: 'virtual',
      compute: this.o.compute.kind,
      profile: this.o.profile.name,
      seed: this.seed,
      policy: this.o.config.staleness.policy,
      stalenessBound: Number.isFinite(this.eta) ? this.eta : 'inf',
      correction: this.o.config.learner.correction.kind,
      samplers: s.samplers.length,
      verifierThreads: s.verifiers.length,
      steps: s.learnerVersion,
      finalVersion: s.published,
      simSeconds: s.t,
      events: s.events,
      invariantChecks: s.invariantChecks,
      rolloutsGenerated: s.counts.generated,
      rolloutsTrained: s.counts.trained,
      rolloutsDroppedStale: s.counts.droppedStale,
      rolloutsDroppedInvalid: s.counts.droppedInvalid,
      rolloutsLost: s.done ? s.counts.pending : 0,
      tokensGenerated: s.tokensGenerated,
      tokensTrained: s.tokensTrained,
      tokensPerSimSecond: s.tokensGenerated / T,
      stepsPerSimHour: (s.learnerVersion / T) * 3600,
      utilisation: {
        samplers: samplersBusy / (T * s.samplers.length),
        verifiers: verifiersBusy / (T * s.verifiers.length),
        learner: learnerBusy / T,
      },
      // Over every valid rollout when its batch formed (trained and dropped-stale); trainedMax: trained ones only.
      staleness: {
        mean: n ? hist.reduce((a, c, lag) => a + c * lag, 0) / n : 0,
        max: hist.reduce((m, c, lag) => (c > 0 ? lag : m), 0),
        histogram: hist,
        trainedMax: s.stalenessMax,
      },
      inflightSwaps: s.inflightSwaps,
      restarts:
        s.samplers.reduce((a, x) => a + x.restarts, 0) +
        s.verifiers.reduce((a, x) => a + x.restarts, 0) +
        s.learner.restarts,
      faultsFired: s.faultsFired,
    };
  }
}
