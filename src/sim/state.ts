/**
 * The virtual clock's state: the actors' records, everything that changes during a run (JSON-safe:
 * a checkpoint is this object), the engine's options, and the log sink.
 */
import fs from 'node:fs';
import type { BatchFigures, StepStage } from '../core/metrics.js';
import type { AccountingCounts } from '../core/ledger.js';
import { resumedTopology, type TopologyState } from '../core/topology.js';
import type { TrainConfig } from '../runtime/config.js';
import type { Profile } from './profile.js';
import type { SimFault } from '../core/faults.js';
import type { Compute, GeneratedGroup, Generation, Scored, VersionSchedule } from './compute.js';
import { writeToLog } from '../util/atomic.js';
import { thousandthsText } from '../util/decimal.js';
import type { SimCurriculum } from './curriculum.js';

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

export type SamplerState = 'idle' | 'syncingWeights' | 'generating' | 'delivering' | 'failed' | 'restarting';
export type VerifierState = 'idle' | 'verifying' | 'delivering' | 'failed';
export type LearnerState = 'waitingForBatch' | 'training' | 'publishing' | 'failed' | 'restarting';

export interface Request {
  step: number;
  /** Request number within its step. */
  index: number;
  slots: number[];
  attempt: number;
}

export interface SamplerS {
  state: SamplerState;
  version: number;
  /** The version being fetched while syncingWeights. */
  syncTo: number;
  epoch: number;
  req: Request | null;
  gen: Generation | null;
  schedule: VersionSchedule;
  genStart: number;
  /** When the current generation's decoding began: genStart, or the time of its last kv abort. */
  decodeFrom: number;
  /** Generations of the current request started over on a weight swap (rollout.kv abort). */
  aborts: number;
  factor: number;
  slow: number;
  /** Seconds added to each piece of its work (slow faults' `addSeconds`; absent: none). */
  slowAddS?: number;
  /** A fault waiting for the actor's next piece of work (it was idle when the fault came). */
  next: 'crash' | 'hang' | null;
  busySince: number;
  busy: number;
  restarts: number;
}

export interface VerifyJob {
  step: number;
  group: GeneratedGroup;
  attempts: number;
}

export interface VerifierS {
  state: VerifierState;
  epoch: number;
  job: VerifyJob | null;
  slow: number;
  slowAddS?: number;
  /** A fault waiting for the actor's next piece of work (it was idle when the fault came). */
  next: 'crash' | 'hang' | null;
  busySince: number;
  busy: number;
  restarts: number;
}

/** A scored group as the virtual clock's step queue holds it (core/stepQueue StepQueue, over `SimState.scored`). */
export type ScoredEntry = { slot: number; group: GeneratedGroup; scored: Scored };

export interface StepBatch {
  step: number;
  /** Each group's rollouts: which train, their disposition codes (core/staleness), its lag. */
  groups: { group: GeneratedGroup; slot: number; scored: Scored; trained: boolean[]; codes: number[]; lag: number }[];
  /** Tokens of the trained rollouts, and the largest lag among them (accounted when the update is applied). */
  tokens: number;
  lagMax: number;
  stage: StepStage;
  /** TrainedDigest of the trained rollouts. */
  trained: string;
  figures: BatchFigures;
}

export interface LearnerS {
  state: LearnerState;
  epoch: number;
  batch: StepBatch | null;
  slow: number;
  slowAddS?: number;
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
export type ActorS = SamplerS | VerifierS | LearnerS;

/** Everything that changes during a run, JSON-safe (the checkpoint is this object). */
export interface SimState {
  t: number;
  events: number;
  /** The topology's state (core/topology TopologyState): versions, last step formed, totals, planner's queues, counters. */
  topo: TopologyState<Request>;
  outstandingGroups: number;
  /**
   * Idle samplers in the order they became idle: `idle[idleHead…]`, taken from the front by index
   * (`takeIdle`; `shift` copies the whole array once it is long: 13% of a 16,384-sampler run).
   */
  idle: number[];
  idleHead: number;
  samplers: SamplerS[];
  verifiers: VerifierS[];
  verifyQueue: VerifyJob[];
  graderStalledUntil: number;
  graderWaiting: { job: VerifyJob; scored: Scored }[];
  scored: Record<string, ScoredEntry[]>;
  learner: LearnerS;
  /** The running counts of the rollouts' dispositions: a second record, compared with the ledger's. */
  counts: AccountingCounts;
  stalenessHist: number[];
  faultsFired: string[];
  stepFaults: number[];
  stormNext: number[];
  invariantChecks: number;
  /**
   * The curriculum's state (sim/curriculum.ts), every curriculum's since its core runs on this clock
   * too; null only in a checkpoint from before that (a fixed list's, loaded as a new one's).
   */
  curriculum: SimCurriculum | null;
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
  /**
   * A halt request shared with another thread (element 0 ≠ 0: stop). Read between events and, by
   * the compute, between its work items (decode steps, evaluation batches, before an update): a
   * request inside an event abandons that event and checkpoints the state from before it
   * (sim/engine.ts). Set by `train --clock virtual`, whose main thread stays free for signals.
   */
  halt?: Int32Array;
}

/**
 * Thrown by a compute between work items when a halt was requested (SimOptions.halt). Only where
 * the compute's own state is still as it was when the event began (before an optimizer update).
 */
export class Interrupted extends Error {
  override readonly name = 'Interrupted';
}

/** Throws Interrupted when `halt` says stop (the compute's check between work items). */
export function interruptPoint(halt: Int32Array | undefined): void {
  if (halt && Atomics.load(halt, 0) !== 0) throw new Interrupted('halt requested');
}

export interface SimResult {
  status: 'done' | 'halted' | 'event-budget';
  state: SimState;
}

export const SIM_STATE_FILE = 'sim-state.json';

/** Idle samplers waiting for work (`SimState.idle`). */
export function idleCount(s: SimState): number {
  return s.idle.length - s.idleHead;
}

/**
 * The sampler idle longest, taken off the list (throws when none is). The array is cut back once
 * the taken front is at least half of it and 64 long, so it stays within twice the idle count
 * plus 64 (amortized O(1)). Not emptied when the last is taken: `length = 0` drops the array's
 * storage, and the next push allocates it again (bench/idle-list.ts: 57 ns a take against 13
 * when one sampler at a time goes idle and back to work).
 */
export function takeIdle(s: SimState): number {
  if (s.idleHead >= s.idle.length)
    throw new Error('takeIdle: no sampler is idle (work handed out beyond the idle count)');
  const i = s.idle[s.idleHead++]!;
  if (s.idleHead >= 64 && 2 * s.idleHead >= s.idle.length) {
    s.idle.splice(0, s.idleHead);
    s.idleHead = 0;
  }
  return i;
}

/**
 * One transitions.jsonl line at simulated time `t` (seconds), as the real clock writes them
 * (trace/transitions.ts): t in milliseconds to three places. The names and states here are
 * identifiers, so the line needs no escaping.
 */
export function transitionLine(t: number, actor: string, role: string, from: string | null, to: string, event: string) {
  const ms = thousandthsText(Math.round(t * 1e6));
  return `{"t":${ms},"actor":"${actor}","role":"${role}","from":${from === null ? 'null' : `"${from}"`},"to":"${to}","event":"${event}"}`;
}

/** Lines appended to a file, with the byte count kept for checkpoints. */
export class LineSink {
  fd: number;
  buf: string[] = [];
  pendingBytes = 0;
  constructor(
    readonly file: string,
    truncateTo: number | null,
  ) {
    if (truncateTo === null) fs.writeFileSync(file, '');
    else fs.truncateSync(file, truncateTo);
    this.fd = fs.openSync(file, 'a');
  }
  /** Times the buffer went to the file (lets the engine drop what an abandoned event wrote). */
  flushes = 0;
  write(line: string): number {
    this.buf.push(line);
    const n = Buffer.byteLength(line) + 1;
    this.pendingBytes += n;
    if (this.buf.length >= 512) this.flush();
    return n;
  }
  flush(): void {
    if (this.buf.length === 0) return;
    writeToLog(this.fd, this.file, this.buf.join('\n') + '\n');
    this.flushes++;
    this.buf = [];
    this.pendingBytes = 0;
  }
  /** Where the buffer stands (for rewind). */
  mark(): { flushes: number; lines: number } {
    return { flushes: this.flushes, lines: this.buf.length };
  }
  /**
   * Drops the lines written since `m` that are still buffered (lines already flushed stay in the
   * file past the byte count the state records; a resume truncates them).
   */
  rewind(m: { flushes: number; lines: number }): void {
    this.buf.length = this.flushes === m.flushes ? m.lines : 0;
    this.pendingBytes = 0;
    for (const l of this.buf) this.pendingBytes += Buffer.byteLength(l) + 1;
  }
  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }
}

export function initialState(c: TrainConfig): SimState {
  const sampler = (): SamplerS => ({
    state: 'idle',
    version: 0,
    syncTo: 0,
    epoch: 0,
    req: null,
    gen: null,
    schedule: [],
    genStart: 0,
    decodeFrom: 0,
    aborts: 0,
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
    topo: resumedTopology(),
    outstandingGroups: 0,
    idle: Array.from({ length: c.topology.samplers }, (_, i) => i),
    idleHead: 0,
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
    counts: { generated: 0, trained: 0, droppedStale: 0, droppedInvalid: 0, droppedFiltered: 0, pending: 0 },
    stalenessHist: [],
    faultsFired: [],
    stepFaults: [],
    stormNext: [],
    invariantChecks: 0,
    curriculum: null, // set by the engine (sim/curriculum.ts initialCurriculum)
    metricsBytes: 0,
    transitionsBytes: 0,
    done: false,
  };
}
