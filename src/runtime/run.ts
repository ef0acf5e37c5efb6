/**
 * The real clock: assembles and runs a training topology from a config — sampler and learner
 * worker threads (comlink), a piscina verifier pool, and one xstate machine per role, wired by
 * plain JSON-safe messages (weights travel as transferred buffers). The machines decide; the
 * rules are src/core's; each role's effects are in its module of ./roles (the role table,
 * core/roles.ts, names it), the planner in roles/planning.ts. This file holds the run's state and
 * its lifecycle: prepare (inputs checked before anything starts), run, interrupt, abort.
 * docs/ARCHITECTURE.md has the picture.
 *
 * TrainingRun's fields are the run's state — the topology's (`topo`, core/topology TopologyState)
 * and this clock's threads, actors, files and queues — read and changed by the role modules;
 * nothing outside src/runtime uses them.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import { createActor, type ActorRefFrom } from 'xstate';
import type {
  batcherMachine,
  evaluatorMachine,
  graderMachine,
  learnerMachine,
  supervisorMachine,
  verifierMachine,
  weightStoreMachine,
} from '../../machines/index.js';
import { coordinatorMachine } from '../../machines/index.js';
import type { VerifyJob } from '../../machines/verifier.js';
import type { SamplerApi } from '../../actors/sampler.worker.js';
import type { LearnerApi } from '../../actors/learner.worker.js';
import { loadCheckpoint } from '../policy/checkpoint.js';
import type { GptConfig } from '../policy/transformer/config.js';
import type { PackedWeights } from '../tensor/pack.js';
import type { LossConfig } from '../rl/loss.js';
import type { TrainRollout } from '../rl/gptStep.js';
import { VOCAB_SIZE } from '../tasks/countdown/tokenizer.js';
import { InputError } from '../util/errors.js';
import { TransitionLog } from '../trace/transitions.js';
import { PerfettoTrace } from '../trace/perfetto.js';
import { lossConfigOf, stalenessBound, totalSteps, type TrainConfig } from './config.js';
import { FaultPlan, actorName, brokenSteps, parseFault, roleSize } from '../core/faults.js';
import type { Generate, TrainBatch } from './messages.js';
import { RolloutLedger, type LedgerShape } from '../core/ledger.js';
import { slotsPerStep } from '../core/dynamicSampling.js';
import type { FormedBatch } from '../core/batch.js';
import { GroupQueue, stepQueueCapacity } from '../core/stepQueue.js';
import { resumedTopology, topologyRules, type TopologyRules, type TopologyState } from '../core/topology.js';
import { queueBounds } from '../core/admission.js';
import type { WorkerHandle } from './workers.js';
import type { NatsCoordinator } from './nats/coordinator.js';
import type { FaultRole, RemoteRole } from '../core/roles.js';
import { readRunCheckpoint, topologyTotals } from './checkpointer.js';
import { RUN_FILES } from '../core/runDir.js';
import { truncateFile } from '../trace/transitions.js';
import { CurriculumController, type StepPlan } from '../curriculum/controller.js';
import { CurriculumCore } from '../steps/curriculum.js';

import { storeWeights } from './roles/weightStore.js';
import { checkLogsNotShort, writeSummary } from './roles/metrics.js';
import { faultLine } from '../core/metrics.js';
import { fromAsync } from './roles/effects.js';
import { checkpoint, start, stopAll } from './roles/lifecycle.js';

export type {
  StepProgress,
  Summary,
  TrainOptions,
  SamplerEndpoint,
  SamplerSlot,
  SamplerConnection,
} from './runTypes.js';
import type { Summary, TrainOptions, SamplerSlot } from './runTypes.js';
import { writeToLog } from '../util/atomic.js';

export class TrainingRun {
  readonly dir: string;
  readonly cfg: TrainConfig;
  readonly eta: number;
  readonly maxSteps: number;
  readonly o: TrainOptions;
  readonly faults: FaultPlan;
  /** The topology's rules (core/topology topologyRules), fixed for the run. */
  readonly rules: TopologyRules;
  gptConfig!: GptConfig;
  referenceWeights!: PackedWeights;
  readonly weights = new Map<number, PackedWeights>();
  /**
   * The topology's state (core/topology TopologyState): the learner's and the published version —
   * the learner's is ahead only while it waits for its publication to go out —, the last step
   * formed, the update's totals, the planner's queues and the sampling counters. The virtual clock
   * holds the same (`SimState.topo`).
   */
  topo: TopologyState<Generate> = resumedTopology();
  /** The rollout ledger (core/ledger.ts), as on the virtual clock. */
  ledger: RolloutLedger;
  readonly ledgerShape: LedgerShape;
  queue: GroupQueue;
  /** The bounds of the run's queues (core/admission queueBounds). */
  readonly bounds: ReturnType<typeof queueBounds>;
  /** The learner's wait for its version to go out (roles/learner.ts `publish`), resolved by the broadcast (roles/weightStore.ts). */
  publicationWait: { version: number; resolve: () => void } | null = null;
  readonly inflight = new Map<string, Generate>();
  readonly samplers: SamplerSlot[] = [];
  readonly idleSamplers = new Set<string>();
  readonly verifyJobs: VerifyJob[] = [];
  readonly verifiers: { id: string; actor: ActorRefFrom<typeof verifierMachine> }[] = [];
  readonly idleVerifiers = new Set<string>();
  readonly deliveryWaiters: (() => void)[] = [];
  pool: Piscina | null = null;
  /** NATS transport (null: worker threads only). */
  nats: NatsCoordinator | null = null;
  readonly remote = new Set<RemoteRole>();
  /** With remote samplers, a local sampler thread for evaluations and curriculum measurements. */
  evalSampler: { handle: WorkerHandle<SamplerApi>; port: MessagePort } | null = null;
  learner: WorkerHandle<LearnerApi> | null = null;
  learnerActor!: ActorRefFrom<typeof learnerMachine>;
  batcher!: ActorRefFrom<typeof batcherMachine>;
  grader!: ActorRefFrom<typeof graderMachine>;
  weightStore!: ActorRefFrom<typeof weightStoreMachine>;
  /** The curriculum's step (steps/curriculum.ts) over `cur`: its machine decides, roles/curriculum.ts carries out its effects. */
  readonly curriculum: CurriculumCore;
  supervisor!: ActorRefFrom<typeof supervisorMachine>;
  coordinator!: ActorRefFrom<typeof coordinatorMachine>;
  evaluator: ActorRefFrom<typeof evaluatorMachine> | null = null;
  readonly evaluations: { step: number; rows: unknown[] }[] = [];
  /** Versions whose evaluation was requested and not yet written (a checkpoint records them). */
  readonly evalsInFlight: number[] = [];
  transitions!: TransitionLog;
  trace!: PerfettoTrace;
  /** Milliseconds since the run opened its files (the clock of transitions.jsonl and trace.json). */
  sinceOpen: () => number = () => 0;
  metricsFd = -1;
  paused = false;
  retryBatch: TrainBatch | null = null;
  /** Batches trained since the last checkpoint (replayed after a learner restart). */
  readonly sinceCheckpoint = new Map<number, TrainRollout[]>();
  readonly formed = new Map<number, FormedBatch>();
  snapshot: Awaited<ReturnType<LearnerApi['snapshot']>> | null = null;
  restarts: Record<string, number> = {};
  /** Live tensors per sampler thread after its last request. */
  readonly samplerTensors = new Map<string, number>();
  replayMismatches = 0;
  /**
   * Completion tokens of rollouts delivered and not yet in the batcher's queue (being verified or
   * graded). A checkpoint does not keep such rollouts — the resume generates them again — so it
   * does not count their tokens either (every token once across the pieces of a run).
   */
  tokensUnqueued = 0;
  /** Groups delivered and not yet in the batcher's queue (what a checkpoint drains: roles/lifecycle.ts). */
  groupsUnqueued = 0;
  /** A one-step-off checkpoint, from its start: no new request goes out while it waits for the work in flight. */
  draining = false;
  samplerComputeMs = 0;
  learnerComputeMs = 0;
  transferMs = 0;
  t0 = 0;
  tokensAtStart = 0;
  /** Wall time of the earlier pieces of a resumed run, to its checkpoint (ms). */
  wallMsBefore = 0;
  stepsAtStart = 0;
  interrupted = false;
  fatal: string | null = null;
  /** A file-system error (ENOSPC, EROFS, …) that ended the run: what the command reports, as one line. */
  envError: Error | null = null;
  /** Bad input found while starting (a checkpoint, a backend that cannot start): rethrown as is. */
  startInputError: InputError | null = null;
  finished!: Promise<'done' | 'failed'>;

  constructor(o: TrainOptions) {
    this.o = o;
    this.cfg = o.config;
    this.dir = o.out;
    this.eta = stalenessBound(this.cfg);
    this.maxSteps = o.maxSteps ?? totalSteps(this.cfg);
    this.faults = new FaultPlan([...this.cfg.faults, ...(o.extraFaults ?? [])].map(parseFault));
    const perStep = this.cfg.rollout.problemsPerStep;
    this.bounds = queueBounds(this.cfg.limits, perStep);
    const ds = this.cfg.rollout.dynamicSampling;
    this.queue = new GroupQueue(perStep, stepQueueCapacity(this.bounds.plannedGroups, ds), ds);
    this.ledgerShape = {
      slotsPerStep: slotsPerStep(perStep, ds),
      groupSize: this.cfg.rollout.groupSize,
      problemsPerStep: perStep,
    };
    this.ledger = new RolloutLedger(this.ledgerShape);
    this.cur = new CurriculumController(this.cfg, this.cfg.seed);
    this.curriculum = new CurriculumCore(this.cur, this.maxSteps, () => this.topo.published);
    this.rules = topologyRules(this.cfg, {
      eta: this.eta,
      maxSteps: this.maxSteps,
      capacityGroups: this.bounds.plannedGroups,
      brokenSteps: brokenSteps(this.faults.faults),
      checkpoints: true,
      evaluates: true,
    });
  }

  /** One line of metrics.jsonl (measurements and decisions carry a `type`). */
  writeLine(x: Record<string, unknown>): void {
    writeToLog(this.metricsFd, path.join(this.dir, RUN_FILES.metrics), JSON.stringify(x) + '\n');
  }

  /** The actors of a role (core/faults actorName): `sampler-0` … by the topology, the one learner and grader. */
  actorNames(role: FaultRole): string[] {
    return Array.from({ length: roleSize(role, this.cfg.topology) }, (_, i) => actorName(role, i));
  }

  log(s: string): void {
    this.o.onLog?.(s);
  }

  get lossConfig(): LossConfig {
    return lossConfigOf(this.cfg);
  }

  /**
   * Each planned step's plan (curriculum planOf: its stage, budget and problems by slot, backfill
   * slots included), as the virtual clock holds a dynamic curriculum's; freed when its metrics row
   * is written, so no more than the planner's window of steps.
   */
  readonly plans = new Map<number, StepPlan>();
  cur!: CurriculumController;

  readonly publicationTimers = new Set<NodeJS.Timeout>();

  // ── lifecycle ───────────────────────────────────────────────────────────────────────────

  prepared = false;

  /**
   * Loads and checks every input (initial policy, resume checkpoint) before any actor starts:
   * bad input is exit 2. The CLI calls it before it creates the run directory; run() calls it
   * if nobody did.
   */
  prepare(): void {
    if (this.prepared) return;
    const resume = this.o.resume ? readRunCheckpoint(this.dir) : null;
    // Stopped before its step-0 checkpoint (nothing trained yet): the resume starts over, its logs cut to nothing.
    if (this.o.resume && !resume) this.log(`${this.dir} has no checkpoint yet: starting from step 0`);
    let init: ReturnType<typeof loadCheckpoint>;
    try {
      init = loadCheckpoint(this.cfg.model.checkpoint);
    } catch (e) {
      if (e instanceof InputError) throw e.as('model.checkpoint');
      throw e;
    }
    if (init.manifest.tokenizer.name !== 'countdown' || init.manifest.tokenizer.vocabSize !== VOCAB_SIZE) {
      throw new InputError(`model.checkpoint: '${this.cfg.model.checkpoint}' is not a countdown policy`);
    }
    this.gptConfig = init.manifest.config;
    this.referenceWeights = init.weights;
    let optimizer: { state: PackedWeights; step: number } | undefined;
    if (resume) {
      const s = resume.state;
      try {
        this.ledger = RolloutLedger.fromEntries(this.ledgerShape, s.accounting, s.accountingSettled);
      } catch (e) {
        // the entries parse, but do not fit this run (a slot or sample outside it, one listed twice)
        throw new InputError(
          `checkpoint ${resume.dir}: run state accounting: ${(e as Error).message.replace(/^invariant violated: /, '')}`,
        );
      }
      for (const g of s.queue) this.queue.push(g);
      this.faults.restoreFired(s.faultsFired);
      this.restarts = s.restarts;
      this.topo = resumedTopology(s.version, topologyTotals(resume, this.ledger.counts().trained));
      this.topo.tokensGenerated = s.tokensGenerated;
      this.wallMsBefore = s.wallMs ?? 0;
      storeWeights(this, s.version, resume.weights);
      optimizer = resume.optimizer;
      this.log(`resuming from checkpoint step-${s.version}`);
    } else {
      storeWeights(this, 0, init.weights);
    }
    this.tokensAtStart = this.topo.tokensGenerated;
    this.stepsAtStart = this.topo.learnerVersion;

    this.resumed = resume;
    this.optimizer = optimizer;
    this.initWeights = init.weights;
    this.prepared = true;
  }

  resumed: ReturnType<typeof readRunCheckpoint> = null;
  optimizer: { state: PackedWeights; step: number } | undefined;
  initWeights!: PackedWeights;

  abort(error: string): void {
    if (this.fatal) return;
    this.fatal = error;
    this.coordinator.send({ type: 'ABORT', error });
  }

  interrupt(): void {
    this.interrupted = true;
    this.coordinator.send({ type: 'INTERRUPT' });
  }

  async run(): Promise<Summary> {
    this.prepare();
    fs.mkdirSync(this.dir, { recursive: true });
    // A resume cuts each log back to where the checkpoint left it (what came after is redone), and
    // the run clock goes on from the checkpoint's time. No checkpoint yet: the logs start empty.
    // A checkpoint from before logs were recorded: appended to, as then.
    const at = this.o.resume
      ? this.resumed
        ? this.resumed.state.logs
        : { metrics: 0, transitions: 0, trace: 0, tMs: 0 }
      : undefined;
    if (at) checkLogsNotShort(this.dir, at);
    const tOpen = this.o.now();
    const tBase = at?.tMs ?? 0;
    this.sinceOpen = () => tBase + this.o.now() - tOpen;
    this.transitions = new TransitionLog(path.join(this.dir, 'transitions.jsonl'), this.sinceOpen, at?.transitions);
    this.transitions.extra = this.o.inspect;
    this.trace = new PerfettoTrace(path.join(this.dir, 'trace.json'), at?.trace);
    this.transitions.onTransition = (l) => this.trace.transition(l.actor, l.role, l.to, l.t);
    const metricsFile = path.join(this.dir, 'metrics.jsonl');
    if (at) truncateFile(metricsFile, at.metrics);
    this.metricsFd = fs.openSync(metricsFile, 'a');
    // a fired fault's line, as the virtual clock writes it (sim/work.ts fired)
    this.faults.onFired = (name) => {
      const t = this.sinceOpen() / 1000;
      this.writeLine(faultLine(t, name));
      this.log(`fault ${name} at t=${t.toFixed(3)} s`);
    };
    // (a resumed run's checkpoint holds them already)
    if (!this.resumed) this.faults.startSlowdowns((role) => this.actorNames(role));
    const run = this;
    this.coordinator = createActor(
      coordinatorMachine.provide({
        actors: {
          start: fromAsync(async () => {
            try {
              await start(run);
            } catch (e) {
              // bad input stays bad input (exit 2), not a failed run
              if (e instanceof InputError) run.startInputError = e;
              throw e;
            }
          }),
          checkpoint: fromAsync(async () => checkpoint(run)),
          stop: fromAsync(async () => stopAll(run)),
        },
      }),
      {
        input: { step: this.topo.learnerVersion, maxSteps: this.maxSteps },
        inspect: this.transitions.inspector('coordinator', 'coordinator'),
      },
    );
    this.finished = new Promise((resolve) => {
      this.coordinator.subscribe({
        next: (s) => {
          if (s.status === 'done') resolve(s.value === 'done' ? 'done' : 'failed');
        },
        error: (e) => {
          this.fatal ??= e instanceof Error ? e.message : String(e);
          resolve('failed');
        },
      });
    });
    this.coordinator.start();
    const end = await this.finished;
    const ctx = this.coordinator.getSnapshot().context;
    fs.closeSync(this.metricsFd);
    this.transitions.close();
    this.trace.close_(this.sinceOpen());
    if (end === 'failed' && this.startInputError) throw this.startInputError;
    if (end === 'failed') throw this.envError ?? new Error(this.fatal ?? ctx.error ?? 'run failed');
    return writeSummary(this);
  }
}
