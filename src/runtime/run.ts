/**
 * Assembles and runs a training topology from a config: sampler and learner worker threads
 * (comlink), a piscina verifier pool, and one xstate machine per role, wired by plain JSON-safe
 * messages (weights travel as transferred buffers). The machines decide; this file provides
 * their effects and routes their messages. See machines/README.md for the picture.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type * as Comlink from 'comlink';
import { createActor, type AnyActorRef, type InspectionEvent } from 'xstate';
import {
  samplerMachine,
  learnerMachine,
  verifierMachine,
  graderMachine,
  batcherMachine,
  weightStoreMachine,
  curriculumMachine,
  supervisorMachine,
  coordinatorMachine,
  evaluatorMachine,
} from '../../machines/index.js';
import type { VerifyJob } from '../../machines/verifier.js';
import type { TrainOutput } from '../../machines/learner.js';
import type { Failure } from '../../machines/supervisor.js';
import type { EvaluateResult } from '../../machines/evaluator.js';
import type { SamplerApi } from '../../actors/sampler.worker.js';
import type { LearnerApi } from '../../actors/learner.worker.js';
import type { VerifyTask } from '../../actors/verify.task.js';
import { loadCheckpoint } from '../policy/checkpoint.js';
import type { GptConfig } from '../policy/transformer/config.js';
import type { PackedWeights } from '../tensor/pack.js';
import { weightsSha256 } from '../tensor/pack.js';
import { gradeGroup } from './grade.js';
import type { LossConfig } from '../rl/loss.js';
import type { TrainRollout } from '../rl/gptStep.js';
import { VOCAB_SIZE } from '../tasks/countdown/tokenizer.js';
import { InputError, assert } from '../util/errors.js';
import type { Now } from './clock.js';
import { TransitionLog } from '../trace/transitions.js';
import { PerfettoTrace } from '../trace/perfetto.js';
import { lossConfigOf, stalenessBound, totalSteps, updateOf, type TrainConfig } from './config.js';
import { FaultPlan, parseFault } from '../core/faults.js';
import {
  GenerateSchema,
  RolloutsSchema,
  VerdictSchema,
  type Generate,
  type Rollouts,
  type ScoredGroup,
  type TrainBatch,
  type TrainStats,
} from './messages.js';
import { Accounting, unplanned } from '../core/ledger.js';
import { GroupQueue, formBatch, slotOf, type FormedBatch } from '../core/batch.js';
import {
  mayPlanStep,
  minVersionFor,
  problemsPerRequest,
  queueCapacityGroups,
  requestSlices,
} from '../core/admission.js';
import { accountingViolation, lostViolation, publishViolation, stalenessBoundViolation } from '../core/invariants.js';
import { TrainedDigest, evalLine, stepRow } from '../core/metrics.js';
import { ACTORS_DIR, WorkerHandle, postWeights } from './workers.js';
import { BUNDLE_DIR } from './bundle.js';
import { NatsCoordinator } from './nats/coordinator.js';
import { natsRunId, type RemoteRole } from './nats/protocol.js';
import { readRunCheckpoint, writeRunCheckpoint, type RunState } from './checkpointer.js';
import { truncateFile } from '../trace/transitions.js';
import { problemsOfStep, stageOfStep } from './stages.js';
import { CurriculumController, type ProblemSpec } from './curriculum.js';
import type { LadderMeasurement } from '../eval/countdown.js';

export interface StepProgress {
  step: number;
  maxSteps: number;
  stage: number;
  /** Number count, or the stage's buckets joined by '+'. */
  difficulty: number | string;
  budgetTokens: number;
  passRate: number;
  rewardMean: number;
  lengthMean: number;
  stalenessMean: number;
  stalenessMax: number;
  tokensPerSec: number;
  etaSeconds: number;
  loss: number;
}

export interface Summary {
  steps: number;
  /** `threads`, or `nats` with the work items published (re-issues included) and the duplicate results dropped. */
  transport:
    | { kind: 'threads' }
    | { kind: 'nats'; remote: string[]; published: number; redelivered: number; duplicatesDropped: number };
  rolloutsGenerated: number;
  rolloutsTrained: number;
  rolloutsDroppedStale: number;
  rolloutsDroppedInvalid: number;
  rolloutsLost: number;
  stalenessMax: number;
  stalenessBound: number;
  restarts: number;
  finalVersion: number;
  weightsSha256: string;
  policy: TrainConfig['staleness']['policy'];
  interrupted: boolean;
  /** Weight swaps between tokens (inflight). */
  inflightSwaps: number;
  /** Learner replays after a restart whose weights matched the published ones. */
  replayMismatches: number;
  wallMs: number;
  tokensGenerated: number;
  tokensPerSec: number;
  samplerComputeMs: number;
  learnerComputeMs: number;
  transferMs: number;
  /** Share of (samplers + learner) × wall time spent neither computing nor moving weights. */
  overheadFraction: number;
  transitions: number;
  faultsFired: string[];
  /** The last held-out evaluation (config `eval`), or null. */
  eval: { step: number; rows: unknown[] } | null;
}

export interface TrainOptions {
  config: TrainConfig;
  out: string;
  resume: boolean;
  /** Stop after this learner step (default: the curriculum's total). */
  maxSteps?: number;
  extraFaults?: string[];
  command: string;
  versions: Record<string, string>;
  now: Now;
  onStep?: (p: StepProgress) => void;
  onLog?: (line: string) => void;
  /** Receives every xstate inspection event of every actor (`--inspect`). */
  inspect?: (ev: InspectionEvent) => void;
  /** Run the config's remote roles (`topology.remote`) as separate processes over NATS JetStream. */
  nats?: { url: string; credsFile?: string };
}

/**
 * What a sampler slot talks to: a worker thread, or (NATS transport) whichever remote sampler process takes the work.
 */
type SamplerEndpoint = Pick<WorkerHandle<SamplerApi>, 'call' | 'terminate'>;

interface SamplerSlot {
  id: string;
  handle: SamplerEndpoint;
  port: MessagePort;
  actor: AnyActorRef;
  /** The newest weights version posted to this sampler's port (its thread starts at one). */
  posted: number;
  /** Versions its pending syncs wait for that were not yet available when they began. */
  needs: number[];
}

const WEIGHT_VERSIONS_KEPT = 2;

/** Why a stage ended, in words (the log line). */
const STAGE_REASONS = {
  steps: 'the stage ran all its steps',
  threshold: 'its pass rate reached curriculum passThreshold',
  plateau: 'its pass rate stopped rising (plateau)',
} as const;

export class TrainingRun {
  readonly dir: string;
  readonly cfg: TrainConfig;
  readonly eta: number;
  readonly maxSteps: number;
  private readonly o: TrainOptions;
  private readonly faults: FaultPlan;
  private gptConfig!: GptConfig;
  private referenceWeights!: PackedWeights;
  private readonly weights = new Map<number, PackedWeights>();
  private version = 0;
  private accounting = new Accounting();
  private queue: GroupQueue;
  /** Groups planned and not yet formed into a batch may not exceed this (core/admission). */
  private readonly capacityGroups: number;
  /** The last step whose batch has formed (planned steps after it hold outstanding groups). */
  private formedThrough = 0;
  /** The newest weights version the samplers may be handed (a publication fault can hold it back). */
  private available = 0;
  private tokensTrained = 0;
  private nextStep = 1;
  private readonly planned: Generate[] = [];
  private readonly reissue: Generate[] = [];
  private readonly inflight = new Map<string, Generate>();
  private readonly samplers: SamplerSlot[] = [];
  private readonly idleSamplers = new Set<string>();
  private readonly verifyJobs: VerifyJob[] = [];
  private readonly verifiers: { id: string; actor: AnyActorRef }[] = [];
  private readonly idleVerifiers = new Set<string>();
  private readonly deliveryWaiters: (() => void)[] = [];
  private pool: Piscina | null = null;
  /** NATS transport (null: worker threads only). */
  private nats: NatsCoordinator | null = null;
  private readonly remote = new Set<RemoteRole>();
  /** With remote samplers, a local sampler thread for evaluations and curriculum measurements. */
  private evalSampler: { handle: WorkerHandle<SamplerApi>; port: MessagePort } | null = null;
  private learner: WorkerHandle<LearnerApi> | null = null;
  private learnerActor!: AnyActorRef;
  private batcher!: AnyActorRef;
  private grader!: AnyActorRef;
  private weightStore!: AnyActorRef;
  private curriculum!: AnyActorRef;
  private supervisor!: AnyActorRef;
  private coordinator!: AnyActorRef;
  private evaluator: AnyActorRef | null = null;
  private readonly evaluations: { step: number; rows: unknown[] }[] = [];
  /** Versions whose evaluation was requested and not yet written (a checkpoint records them). */
  private readonly evalsInFlight: number[] = [];
  private transitions!: TransitionLog;
  private trace!: PerfettoTrace;
  /** Milliseconds since the run opened its files (the clock of transitions.jsonl and trace.json). */
  private sinceOpen: () => number = () => 0;
  private metricsFd = -1;
  private paused = false;
  private retryBatch: TrainBatch | null = null;
  /** Batches trained since the last checkpoint (replayed after a learner restart). */
  private readonly sinceCheckpoint = new Map<number, TrainRollout[]>();
  private readonly formed = new Map<number, FormedBatch>();
  private snapshot: Awaited<ReturnType<LearnerApi['snapshot']>> | null = null;
  private restarts: Record<string, number> = {};
  private stalenessMax = 0;
  private inflightSwaps = 0;
  /** Live tensors per sampler thread after its last request. */
  private readonly samplerTensors = new Map<string, number>();
  private replayMismatches = 0;
  private tokensGenerated = 0;
  private samplerComputeMs = 0;
  private learnerComputeMs = 0;
  private transferMs = 0;
  private t0 = 0;
  private tokensAtStart = 0;
  private stepsAtStart = 0;
  private interrupted = false;
  private fatal: string | null = null;
  /** Bad input found while starting (a checkpoint, a backend that cannot start): rethrown as is. */
  startInputError: InputError | null = null;
  private finished!: Promise<'done' | 'failed'>;

  constructor(o: TrainOptions) {
    this.o = o;
    this.cfg = o.config;
    this.dir = o.out;
    this.eta = stalenessBound(this.cfg);
    this.maxSteps = o.maxSteps ?? totalSteps(this.cfg);
    this.faults = new FaultPlan([...this.cfg.faults, ...(o.extraFaults ?? [])].map(parseFault));
    const perStep = this.cfg.rollout.problemsPerStep;
    this.capacityGroups = queueCapacityGroups(this.cfg.limits, perStep);
    this.queue = new GroupQueue(perStep, this.capacityGroups);
    this.cur = new CurriculumController(this.cfg, this.cfg.seed);
  }

  /** One line of metrics.jsonl (measurements and decisions carry a `type`). */
  private writeLine(x: Record<string, unknown>): void {
    fs.writeSync(this.metricsFd, JSON.stringify(x) + '\n');
  }

  /** The sampler thread that evaluates and measures: sampler-0, or the local one beside remote samplers. */
  private evalHandle(): SamplerEndpoint {
    return this.evalSampler?.handle ?? this.samplers[0]!.handle;
  }

  /** A measurement of J over `ladder` on sampler-0's thread (or the local eval thread), at the current version. */
  private measureOnSampler(
    problems: ProblemSpec[],
    ladder: number[],
    samples: number,
    k: number,
    label: string,
  ): Promise<LadderMeasurement> {
    return this.onEvalThread(
      `measure ${label}`,
      this.version,
      (api) =>
        api.measure({
          version: this.version,
          problems,
          ladder,
          samples,
          k,
          temperature: this.cfg.rollout.temperature,
          seed: this.cfg.seed,
        }),
      this.cfg.limits.samplerTimeoutMs,
    );
  }

  /** Coupled curriculum, at a stage start: J over the ladder on the stage's data, then E3.md's rule. */
  private async measureStage(stage: number): Promise<void> {
    const c = this.cfg.curriculum;
    const problems = this.cur.stageProblems(stage, c.measure.problems, `measure-${this.version}`);
    const m = await this.measureOnSampler(problems, c.ladder!, c.measure.samples, c.k, `stage ${stage}`);
    const d = this.cur.decide(stage, m);
    this.writeLine({
      type: 'budget-choice',
      step: this.version,
      stage,
      minBudget: d.minBudget,
      ladder: m.ladder.map((p) => p.budget),
      scores: m.ladder.map((p) => p.J),
      meanLengths: m.ladder.map((p) => p.meanLength),
      ratios: d.ratios,
      budget: d.budget,
      reason: d.reason,
      k: c.k,
      problems: problems.length,
      samples: c.measure.samples,
      kappa: c.kappa,
    });
    this.log(
      `stage ${stage}: budget ${d.budget} tokens (${d.reason}; J ${m.ladder.map((p) => `${p.budget}:${p.J.toFixed(3)}`).join(' ')}; B0 ${d.minBudget.toFixed(1)})`,
    );
    this.cur.measuring = false;
    setImmediate(() => this.pump());
  }

  /** Difficulty buckets from the starting policy's pass rates (once per run; kept in buckets.json). */
  private async measureBuckets(): Promise<void> {
    const file = path.join(this.dir, 'buckets.json');
    const pool = this.cur.poolProblems();
    if (fs.existsSync(file)) {
      this.cur.restoreBuckets(
        pool,
        (JSON.parse(fs.readFileSync(file, 'utf8')) as { assignment: Record<string, 'easy' | 'medium' | 'hard'> })
          .assignment,
      );
      return;
    }
    const p = this.cfg.curriculum.pool!;
    const m = await this.measureOnSampler(pool, [p.budgetTokens], p.samples, p.k, 'difficulty pool');
    const b = this.cur.setBuckets(pool, m);
    const record = {
      measuredAtVersion: this.version,
      budgetTokens: p.budgetTokens,
      samples: p.samples,
      k: p.k,
      summary: b.summary,
      assignment: b.assignment,
      perProblem: m.perProblem,
    };
    writeFileAtomic(file, JSON.stringify(record, null, 2) + '\n');
    this.writeLine({ type: 'buckets', step: this.version, summary: b.summary });
    this.log(
      `difficulty buckets: ${b.summary.map((x) => `${x.bucket} ${x.problems} (pass ${x.meanPassRate.toFixed(2)})`).join(', ')}`,
    );
  }

  private log(s: string): void {
    this.o.onLog?.(s);
  }

  private get lossConfig(): LossConfig {
    return lossConfigOf(this.cfg);
  }

  // ── requests ────────────────────────────────────────────────────────────────────────────

  /** The stage, problems and budget of learner step k. */
  private planOf(k: number): { stage: number; budgetTokens: number; problems: ProblemSpec[] } {
    const n = this.cfg.rollout.problemsPerStep;
    if (!this.cur.dynamic) {
      // A fixed list by number count: step k's stage and problems are a pure function of (seed, k).
      const stage = stageOfStep(this.cfg.curriculum.stages, k);
      return {
        stage: stage.index,
        budgetTokens: stage.budgetTokens!,
        problems: problemsOfStep(this.cfg.curriculum.stages, this.cfg.seed, k, n),
      };
    }
    // Buckets, thresholds or the coupled rule: the stage current when step k is planned.
    const stage = this.cur.state.stage;
    return { stage, budgetTokens: this.cur.budgetOf(stage), problems: this.cur.problemsForStep(k, n) };
  }

  /** The sampler requests of learner step k, minus groups already held. */
  private requestsForStep(k: number): Generate[] {
    const plan = this.planOf(k);
    for (const p of plan.problems) this.requestsProblem.set(`${k}/${p.id}`, { numbers: p.numbers, target: p.target });
    this.stageOfPlannedStep.set(k, { stage: plan.stage, budgetTokens: plan.budgetTokens });
    const problems = unplanned(k, plan.problems, this.accounting);
    const per = problemsPerRequest(this.cfg.rollout, this.cfg.topology.samplers);
    const out: Generate[] = [];
    for (const r of requestSlices(problems.length, per)) {
      out.push({
        type: 'Generate',
        requestId: `s${k}r${r.index}`,
        step: k,
        problems: problems.slice(r.first, r.end),
        groupSize: this.cfg.rollout.groupSize,
        budgetTokens: plan.budgetTokens,
        temperature: this.cfg.rollout.temperature,
        minVersion: minVersionFor(k, this.eta),
        inflight: this.cfg.staleness.policy === 'inflight',
        seed: this.cfg.seed,
        fault: null,
        slowFactor: this.faults.slowFactor('sampler'),
      });
    }
    return out;
  }

  /** The last step that may be planned now: with a dynamic curriculum, not past the current stage. */
  private planLimit(): number {
    if (!this.cur.dynamic) return this.maxSteps;
    if (this.cur.measuring) return this.version; // the stage's budget is being decided
    const st = this.cur.state;
    if (st.stage >= this.cfg.curriculum.stages.length - 1) return this.maxSteps;
    return Math.min(this.maxSteps, this.version - st.stepsInStage + this.cfg.curriculum.stages[st.stage]!.steps);
  }

  /** Hands work to idle samplers while admission allows (AReaL: start step k only at version ≥ k − 1 − η). */
  private pump(): void {
    if (this.fatal || this.interrupted) return;
    while (this.idleSamplers.size > 0) {
      let req = this.reissue.shift();
      if (!req) {
        while (
          this.planned.length === 0 &&
          mayPlanStep({
            step: this.nextStep,
            lastStep: this.planLimit(),
            publishedVersion: this.version,
            eta: this.eta,
            outstandingGroups: this.outstandingGroups(),
            groupsPerStep: this.cfg.rollout.problemsPerStep,
            capacityGroups: this.capacityGroups,
          })
        ) {
          this.planned.push(...this.requestsForStep(this.nextStep));
          this.nextStep++;
        }
        req = this.planned.shift();
      }
      if (!req) return;
      const id = this.idleSamplers.values().next().value!;
      this.idleSamplers.delete(id);
      const request = GenerateSchema.parse({ ...req, fault: this.faults.take('sampler', req.step) });
      this.inflight.set(request.requestId, request);
      this.slot(id).actor.send({ type: 'GENERATE', request });
    }
  }

  /**
   * Hands sampler `slot` the weights a piece of work needing version ≥ `min` runs at: the newest
   * available when it starts (core/admission requestVersion), posted now if its port lacks them;
   * if even that is older than `min` (a held-back publication), the publication posts it when it
   * comes. Weights reach a sampler only here (and in-flight swaps), never between two pieces of
   * work, so which weights sampled a step follows the order of events, as on the virtual clock.
   * Returns a release for the wait.
   */
  private handWeights(slot: SamplerSlot, min: number): () => void {
    if (this.remote.has('sampler') || this.cfg.staleness.policy === 'inflight') return () => {};
    this.postWeightsTo(slot, this.available);
    if (slot.posted >= min) return () => {};
    slot.needs.push(min);
    return () => slot.needs.splice(slot.needs.indexOf(min), 1);
  }

  /** Runs `f` on the evaluation thread once it can have weights ≥ `version`. */
  private async onEvalThread<R>(
    what: string,
    version: number,
    f: (api: Comlink.Remote<SamplerApi>) => Promise<R>,
    ms: number,
  ): Promise<R> {
    const slot = this.evalSlot();
    const release = slot ? this.handWeights(slot, version) : () => {};
    try {
      return await this.evalHandle().call(what, f, ms);
    } finally {
      release();
    }
  }

  /** The sampler slot evaluations and measurements run on (null: the separate eval thread, fed every version). */
  private evalSlot(): SamplerSlot | null {
    return this.evalSampler ? null : this.samplers[0]!;
  }

  /** Groups of the steps planned and not yet formed into a batch. */
  private outstandingGroups(): number {
    return (this.nextStep - 1 - this.formedThrough) * this.cfg.rollout.problemsPerStep;
  }

  private slot(id: string): SamplerSlot {
    const s = this.samplers.find((x) => x.id === id);
    assert(s, `no sampler '${id}'`);
    return s;
  }

  // ── workers ─────────────────────────────────────────────────────────────────────────────

  private async startSampler(id: string): Promise<SamplerSlot> {
    if (this.remote.has('sampler')) return this.remoteSampler(id);
    const { handle, port, version } = await this.spawnSamplerThread(id);
    const actor = this.samplers.find((s) => s.id === id)?.actor as AnyActorRef;
    return { id, handle, port, actor, posted: version, needs: [] };
  }

  /** A sampler worker thread at the newest available version, with the port its new weights arrive on. */
  private async spawnSamplerThread(
    id: string,
  ): Promise<{ handle: WorkerHandle<SamplerApi>; port: MessagePort; version: number }> {
    const handle = new WorkerHandle<SamplerApi>(id, 'sampler.worker.ts');
    const { port1, port2 } = new MessageChannel();
    const version = this.available;
    const w = this.weights.get(version)!;
    const data = w.data.slice();
    const { transfer } = await import('comlink');
    await handle
      .call(
        'init',
        (api) =>
          api.init(
            transfer(
              {
                backend: this.cfg.backend,
                config: this.gptConfig,
                weights: { manifest: w.manifest, data },
                version,
                weightsPort: port2,
                samplerId: id,
              },
              [data.buffer, port2 as unknown as Transferable],
            ),
          ),
        120_000,
      )
      .catch(asInputErrorIfBackend);
    return { handle, port: port1, version };
  }

  private async startLearner(from: {
    weights: PackedWeights;
    optimizer?: { state: PackedWeights; step: number };
    version: number;
  }): Promise<void> {
    const handle = new WorkerHandle<LearnerApi>('learner', 'learner.worker.ts');
    const l = this.cfg.learner;
    await handle
      .call(
        'init',
        (api) =>
          api.init({
            backend: this.cfg.backend,
            config: this.gptConfig,
            weights: from.weights,
            reference: this.referenceWeights,
            version: from.version,
            optimizer: from.optimizer,
            lr: l.lr,
            clipNorm: l.clipNorm,
            loss: this.lossConfig,
            temperature: this.cfg.rollout.temperature,
            update: updateOf(this.cfg),
          }),
        120_000,
      )
      .catch(asInputErrorIfBackend);
    this.learner = handle;
  }

  /** NATS transport: connect, create the run's queues, publish the current weights, start the local eval thread. */
  private async startNats(): Promise<void> {
    const n = this.o.nats!;
    for (const r of this.cfg.topology.remote) this.remote.add(r);
    const run = natsRunId(path.basename(path.resolve(this.dir)));
    this.nats = new NatsCoordinator({
      url: n.url,
      credsFile: n.credsFile,
      queueMax: this.cfg.limits.queueGroupsMax * 4,
      info: {
        run,
        gptConfig: this.gptConfig,
        remote: [...this.remote],
        ackWaitMs: this.cfg.limits.natsAckWaitMs,
        itemTimeoutMs: {
          generate: this.cfg.limits.samplerTimeoutMs,
          verify: this.cfg.limits.verifierTimeoutMs,
          grade: this.cfg.limits.verifierTimeoutMs,
        },
      },
      log: (line) => this.log(line),
      onFatal: (error) => this.abort(error),
    });
    await this.nats.start(this.o.now);
    this.log(`NATS transport on ${this.nats.display}: run id ${run}, remote roles ${[...this.remote].join(', ')}`);
    if (this.remote.has('sampler')) {
      await this.nats.publishWeights(this.version, this.weights.get(this.version)!);
      this.evalSampler = await this.spawnSamplerThread('sampler-eval');
    }
  }

  /**
   * A sampler slot served over NATS: `generate` becomes a work item for whichever sampler process
   * takes it, at the weights version current now (published before the item); there is no thread
   * to sync or restart.
   */
  private remoteSampler(id: string): SamplerSlot {
    const run = this;
    const api = {
      syncWeights: async (minVersion: number) => {
        await run.nats!.weightsReady(run.version);
        assert(run.version >= minVersion, `remote sampler at v${run.version} below v${minVersion}`);
        return run.version;
      },
      generate: async (req: Generate) =>
        run.nats!.call<Rollouts>(
          'generate',
          req.requestId,
          { ...req, weightsVersion: run.version },
          run.cfg.limits.samplerTimeoutMs,
        ),
    };
    const handle: SamplerEndpoint = {
      call: <R>(_what: string, f: (a: never) => Promise<R>) => f(api as never),
      terminate: async () => {},
    };
    const port = { postMessage: () => {}, close: () => {} } as unknown as MessagePort;
    return {
      id,
      handle,
      port,
      actor: this.samplers.find((s) => s.id === id)?.actor as AnyActorRef,
      posted: 0,
      needs: [],
    };
  }

  private storeWeights(version: number, w: PackedWeights): void {
    this.weights.set(version, w);
    for (const v of this.weights.keys()) if (v < version - WEIGHT_VERSIONS_KEPT + 1) this.weights.delete(v);
  }

  // ── machines ────────────────────────────────────────────────────────────────────────────

  private makeSamplerActor(id: string): AnyActorRef {
    const run = this;
    const timeout = this.cfg.limits.samplerTimeoutMs;
    const machine = samplerMachine.provide({
      actors: {
        syncWeights: fromAsync(async ({ input }) => {
          const slot = run.slot(input.id);
          const release = run.handWeights(slot, input.request.minVersion);
          const v = await slot.handle
            .call('syncWeights', (api) => api.syncWeights(input.request.minVersion, timeout), timeout)
            .finally(release);
          assert(
            v >= input.request.minVersion,
            `sampler ${input.id} at v${v} below the admitted v${input.request.minVersion}`,
          );
        }),
        generate: fromAsync(async ({ input }) => {
          const raw = await run.slot(input.id).handle.call('generate', (api) => api.generate(input.request), timeout);
          const r = RolloutsSchema.safeParse(raw);
          if (!r.success)
            throw new Error(
              `sampler ${input.id}: malformed Rollouts: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`,
            );
          return r.data;
        }),
        deliver: fromAsync(async ({ input }) => run.deliverRollouts(input.result)),
        restart: fromAsync(async ({ input }) => {
          const old = run.slot(input.id);
          await old.handle.terminate().catch(() => {});
          old.port.close();
          const fresh = await run.startSampler(input.id);
          old.handle = fresh.handle;
          old.port = fresh.port;
          old.posted = fresh.posted;
        }),
      },
      actions: {
        becameIdle: (_, p) => {
          run.idleSamplers.add(p.id);
          setImmediate(() => run.pump());
        },
        reportFailure: (_, p) => {
          if (p.request) {
            run.inflight.delete(p.request.requestId);
            run.reissue.unshift({ ...p.request, fault: null });
          }
          run.supervisor.send({ type: 'FAILED', actor: p.id, role: 'sampler', error: p.error });
        },
      },
    });
    return createActor(machine, { input: { id }, inspect: this.transitions.inspector(id, 'sampler') });
  }

  /** Sampler → verifiers: account the ids, split into groups, wait while the verify queue is full. */
  private async deliverRollouts(r: Rollouts): Promise<void> {
    assert(this.inflight.delete(r.requestId), `rollouts for unknown request ${r.requestId}`);
    for (const x of r.rollouts) this.accounting.generated(x.id);
    this.tokensGenerated += r.generatedTokens;
    this.samplerComputeMs += r.computeMs;
    this.inflightSwaps += r.swaps;
    this.samplerTensors.set(r.samplerId, r.numTensors);
    const byProblem = new Map<string, Rollouts['rollouts']>();
    for (const x of r.rollouts) byProblem.set(x.problemId, [...(byProblem.get(x.problemId) ?? []), x]);
    for (const [problemId, rollouts] of byProblem) {
      this.verifyJobs.push({ jobId: `${r.step}/${problemId}`, step: r.step, problemId, rollouts });
      this.trace.flow(`g:${r.step}/${problemId}`, 'rollouts', r.samplerId, 'sampler', 's', this.sinceOpen());
    }
    this.pumpVerifiers();
    while (this.verifyJobs.length > this.cfg.limits.queueGroupsMax && !this.fatal)
      await new Promise<void>((res) => this.deliveryWaiters.push(res));
  }

  private pumpVerifiers(): void {
    while (this.idleVerifiers.size > 0 && this.verifyJobs.length > 0) {
      const id = this.idleVerifiers.values().next().value!;
      this.idleVerifiers.delete(id);
      this.verifiers.find((v) => v.id === id)!.actor.send({ type: 'VERIFY', job: this.verifyJobs.shift()! });
    }
    if (this.verifyJobs.length <= this.cfg.limits.queueGroupsMax) for (const w of this.deliveryWaiters.splice(0)) w();
  }

  private problemOf(job: VerifyJob): { numbers: number[]; target: number } {
    // The prompt is `n1 n2 … → target :` (one token per integer); recover the problem from the planned step.
    const p = this.requestsProblem.get(`${job.step}/${job.problemId}`);
    assert(p, `no problem for ${job.step}/${job.problemId}`);
    return p;
  }

  private readonly requestsProblem = new Map<string, { numbers: number[]; target: number }>();
  /** Stage and budget each planned step was given (for metrics). */
  private readonly stageOfPlannedStep = new Map<number, { stage: number; budgetTokens: number }>();
  private cur!: CurriculumController;

  private makeVerifierActor(id: string): AnyActorRef {
    const run = this;
    const machine = verifierMachine.provide({
      actors: {
        verify: fromAsync(async ({ input }) => {
          run.trace.flow(`g:${input.job.jobId}`, 'rollouts', input.id, 'verifier', 't', run.sinceOpen());
          const problem = run.problemOf(input.job);
          const task: VerifyTask = {
            ...problem,
            completions: input.job.rollouts.map((r) => r.completion),
            fault: input.attempt === 1 ? run.faults.take('verifier', input.job.step) : null,
            slowFactor: run.faults.slowFactor('verifier'),
          };
          if (run.nats && run.remote.has('verifier')) {
            const out = await run.nats.call('verify', input.job.jobId, task, run.cfg.limits.verifierTimeoutMs);
            return VerdictSchema.array().length(input.job.rollouts.length).parse(out);
          }
          const ac = new AbortController();
          const timer = setTimeout(() => ac.abort(), run.cfg.limits.verifierTimeoutMs);
          try {
            const out = await run.pool!.run(task, { signal: ac.signal });
            return VerdictSchema.array().length(input.job.rollouts.length).parse(out);
          } catch (e) {
            if (ac.signal.aborted)
              throw new Error(
                `verification of ${input.job.jobId} took longer than ${run.cfg.limits.verifierTimeoutMs} ms`,
              );
            throw e;
          } finally {
            clearTimeout(timer);
          }
        }),
        deliver: fromAsync(async ({ input }) => {
          run.grader.send({ type: 'GRADE', job: { job: input.job, verdicts: input.verdicts } });
        }),
      },
      actions: {
        becameIdle: (_, p) => {
          run.idleVerifiers.add(p.id);
          setImmediate(() => run.pumpVerifiers());
        },
        reportFailure: (_, p) => run.supervisor.send({ type: 'FAILED', actor: p.id, role: 'verifier', error: p.error }),
      },
    });
    return createActor(machine, {
      input: { id, attemptsMax: this.cfg.limits.verifyAttemptsMax },
      inspect: this.transitions.inspector(id, 'verifier'),
    });
  }

  private nextBatchReady(): boolean {
    if (this.paused || this.fatal) return false;
    if (this.retryBatch) return true;
    const k = this.version + 1;
    return k <= this.maxSteps && this.queue.complete(k);
  }

  private sendBatch(): void {
    let batch = this.retryBatch;
    this.retryBatch = null;
    if (!batch) {
      const k = this.version + 1;
      const groups = this.queue.take(k);
      const formed = formBatch(groups, this.version, this.eta, this.cfg.learner.correction);
      this.formed.set(k, formed);
      this.formedThrough = k;
      batch = { type: 'TrainBatch', step: k, learnerVersion: this.version, groups };
    }
    this.learnerActor.send({ type: 'TRAIN', batch });
  }

  private async train(batch: TrainBatch): Promise<TrainOutput> {
    const formed = this.formed.get(batch.step)!;
    for (const g of batch.groups)
      this.trace.flow(`g:${g.step}/${g.problemId}`, 'rollouts', 'learner', 'learner', 'f', this.sinceOpen());
    const out = await this.learner!.call(
      'train',
      (api) =>
        api.train({
          step: batch.step,
          rollouts: formed.rollouts,
          fault: this.faults.take('learner', batch.step),
          slowFactor: this.faults.slowFactor('learner'),
        }),
      this.cfg.limits.learnerTimeoutMs,
    );
    assert(out.version === batch.step, `learner returned version ${out.version} for step ${batch.step}`);
    this.storeWeights(out.version, out.weights);
    this.sinceCheckpoint.set(batch.step, formed.rollouts);
    this.learnerComputeMs += out.stats.computeMs;
    return { version: out.version, stats: out.stats };
  }

  private publish(out: TrainOutput, batch: TrainBatch): void {
    const formed = this.formed.get(batch.step)!;
    this.formed.delete(batch.step);
    for (const [id, d] of formed.dispositions) this.accounting.dispose(id, d);
    this.stalenessMax = Math.max(this.stalenessMax, formed.lagMax);
    for (const r of formed.rollouts) this.tokensTrained += r.completion.length;
    const bad = publishViolation(this.version, out.version) ?? accountingViolation(this.accounting.counts());
    assert(bad === null, bad!);
    this.version = out.version;
    this.weightStore.send({ type: 'PUBLISHED', version: out.version });
    this.writeMetrics(batch.step, formed, out.stats);
    const ev = this.cfg.eval;
    if (this.evaluator && ev && ((ev.every && out.version % ev.every === 0) || out.version === this.maxSteps)) {
      this.requestEval(out.version);
    }
    this.cur.recordStep(formed.passRate);
    this.curriculum.send({ type: 'STEP_DONE' });
    this.coordinator.send({ type: 'STEP_DONE', step: out.version });
    setImmediate(() => this.pump());
  }

  private requestEval(version: number): void {
    this.evalsInFlight.push(version);
    this.evaluator!.send({ type: 'EVALUATE', request: { version, budgets: this.cfg.eval!.budgets } });
  }

  private evalSettled(version: number): void {
    const i = this.evalsInFlight.indexOf(version);
    if (i >= 0) this.evalsInFlight.splice(i, 1);
  }

  /** Where the logs stand now (a checkpoint records it; a resume cuts the logs back to it). */
  private logOffsets(): NonNullable<RunState['logs']> {
    return {
      metrics: fs.fstatSync(this.metricsFd).size,
      transitions: this.transitions.bytes(),
      trace: this.trace.bytes(),
      tMs: this.sinceOpen(),
    };
  }

  private readonly publicationTimers = new Set<NodeJS.Timeout>();

  /** The weight store's broadcast of `version`, late or lost-then-resent when a fault says so. */
  private broadcast(version: number): void {
    const pub = this.faults.publication(version);
    if (pub.delayMs === 0) return this.broadcastNow(version);
    this.log(
      `weights v${version}: publication ${pub.dropped ? `lost (injected); sent again in ${pub.delayMs} ms` : `delayed by ${pub.delayMs} ms (injected)`}`,
    );
    const t = setTimeout(() => {
      this.publicationTimers.delete(t);
      // (gone: a newer version went out first)
      if (!this.fatal && this.weights.has(version)) this.broadcastNow(version);
    }, pub.delayMs);
    this.publicationTimers.add(t);
  }

  private broadcastNow(version: number): void {
    const w = this.weights.get(version);
    assert(w, `weights v${version} not in the store`);
    const t = this.o.now();
    this.available = Math.max(this.available, version);
    if (this.evalSampler) postWeights(this.evalSampler.port, version, w);
    if (this.nats && this.remote.has('sampler')) {
      // remote samplers fetch the version their next request names from the object store
      this.trace.flow(`w:${version}:nats`, `weights v${version}`, 'learner', 'learner', 's', this.sinceOpen());
      const nats = this.nats;
      nats.publishWeights(version, w).catch((e: Error) => {
        if (!nats.isClosed) this.abort(`publishing weights v${version} to NATS: ${e.message}`);
      });
    } else {
      // In-flight updates swap weights mid-generation: every sampler gets every version at once.
      // Otherwise only a sampler waiting for this version gets it now (handWeights).
      const inflight = this.cfg.staleness.policy === 'inflight';
      for (const s of this.samplers)
        if (inflight || s.needs.some((v) => v <= version)) this.postWeightsTo(s, version, false);
    }
    this.transferMs += this.o.now() - t;
  }

  /** Posts weights `version` to a sampler's port (once per version: `posted` only grows). */
  private postWeightsTo(s: SamplerSlot, version: number, timed = true): void {
    if (s.posted >= version) return;
    const t = this.o.now();
    this.trace.flow(`w:${version}:${s.id}`, `weights v${version}`, 'learner', 'learner', 's', this.sinceOpen());
    this.trace.flow(`w:${version}:${s.id}`, `weights v${version}`, s.id, 'sampler', 'f', this.sinceOpen());
    postWeights(s.port, version, this.weights.get(version)!);
    s.posted = version;
    if (timed) this.transferMs += this.o.now() - t;
  }

  private writeMetrics(step: number, f: FormedBatch, s: TrainStats): void {
    const planned = this.stageOfPlannedStep.get(step) ?? { stage: this.cur.state.stage, budgetTokens: 0 };
    this.stageOfPlannedStep.delete(step);
    const st = this.cfg.curriculum.stages[planned.stage]!;
    const stage = {
      index: planned.stage,
      difficulty: st.difficulty ?? null,
      buckets: st.buckets ?? null,
      budgetTokens: planned.budgetTokens,
    };
    const wallMs = this.o.now() - this.t0;
    const tokensPerSec = ((this.tokensGenerated - this.tokensAtStart) / Math.max(1, wallMs)) * 1000;
    const { computeMs, numTensors, ...learner } = s;
    const line = stepRow({
      step,
      tSeconds: this.sinceOpen() / 1000,
      stage: {
        stage: stage.index,
        difficulty: stage.difficulty,
        buckets: stage.buckets,
        budgetTokens: stage.budgetTokens,
      },
      batch: {
        rewardMean: f.rewardMean,
        passRate: f.passRate,
        lengthMean: f.lengthMean,
        lengthCorrect: f.lengthCorrect,
        lengthIncorrect: f.lengthIncorrect,
        stalenessMean: f.lagMean,
        stalenessMax: f.lagMax,
        zeroAdvantageGroups: f.zeroAdvantageGroups,
      },
      counts: this.accounting.counts(),
      tokensGenerated: this.tokensGenerated,
      tokensTrained: this.tokensTrained,
      tokensPerSec,
      queueGroups: this.outstandingGroups(),
      inflightSwaps: this.inflightSwaps,
      trained: trainedDigest(step, f),
      learner,
      extra: {
        wallMs,
        computeMs,
        numTensors,
        learnerNumTensors: numTensors,
        samplerNumTensors: Object.fromEntries(this.samplerTensors),
      },
    });
    fs.writeSync(this.metricsFd, JSON.stringify(line) + '\n');
    const t = this.sinceOpen();
    this.trace.counter('learning', t, { reward: f.rewardMean, passRate: f.passRate, lengthMean: f.lengthMean });
    this.trace.counter('staleness', t, { mean: f.lagMean, max: f.lagMax });
    this.trace.counter('queues', t, { verifyJobs: this.verifyJobs.length, batcherGroups: this.queue.size });
    const done = step - this.stepsAtStart;
    this.o.onStep?.({
      step,
      maxSteps: this.maxSteps,
      stage: stage.index,
      difficulty: stage.difficulty ?? stage.buckets?.join('+') ?? '?',
      budgetTokens: stage.budgetTokens,
      passRate: f.passRate,
      rewardMean: f.rewardMean,
      lengthMean: f.lengthMean,
      stalenessMean: f.lagMean,
      stalenessMax: f.lagMax,
      tokensPerSec,
      etaSeconds: done > 0 ? ((wallMs / done) * (this.maxSteps - step)) / 1000 : NaN,
      loss: s.loss,
    });
  }

  private async restartLearner(): Promise<void> {
    await this.learner?.terminate().catch(() => {});
    const ck = readRunCheckpoint(this.dir);
    assert(ck, 'learner restart: no checkpoint to restart from');
    await this.startLearner({ weights: ck.weights, optimizer: ck.optimizer, version: ck.state.version });
    // Replay the steps trained since that checkpoint (same batches, same order): the learner
    // catches up with the published version without rewinding anyone else.
    for (let k = ck.state.version + 1; k <= this.version; k++) {
      const rollouts = this.sinceCheckpoint.get(k);
      assert(rollouts, `learner restart: batch of step ${k} not kept`);
      const out = await this.learner!.call(
        'replay',
        (api) => api.train({ step: k, rollouts, fault: null, slowFactor: 1 }),
        this.cfg.limits.learnerTimeoutMs,
      );
      if (k === this.version && weightsSha256(out.weights.data) !== weightsSha256(this.weights.get(k)!.data))
        this.replayMismatches++;
    }
    this.log(
      `learner restarted from checkpoint step ${ck.state.version}, replayed ${this.version - ck.state.version} steps`,
    );
  }

  private async checkpoint(): Promise<void> {
    this.paused = true;
    try {
      // The learner must be between steps; the batcher holds new batches while paused.
      const deadline = this.o.now() + this.cfg.limits.learnerTimeoutMs;
      while (!this.learnerActor.getSnapshot().matches('waitingForBatch')) {
        if (this.fatal) throw new Error(this.fatal);
        if (this.o.now() > deadline) throw new Error('learner did not come to rest for the checkpoint');
        await new Promise((r) => setTimeout(r, 5));
      }
      this.snapshot = null;
      this.learnerActor.send({ type: 'SNAPSHOT' });
      while (!this.snapshot || !this.learnerActor.getSnapshot().matches('waitingForBatch')) {
        if (this.learnerActor.getSnapshot().matches('failed'))
          throw new Error('learner failed while taking a snapshot');
        await new Promise((r) => setTimeout(r, 5));
      }
      const snap = this.snapshot as Awaited<ReturnType<LearnerApi['snapshot']>>;
      assert(snap.version === this.version, `snapshot at v${snap.version}, published v${this.version}`);
      const held = new Set(this.queue.all().flatMap((g) => g.rollouts.map((r) => r.id)));
      const state: RunState = {
        version: this.version,
        accounting: this.accounting.toJSON(held),
        queue: this.queue.all(),
        curriculum: { ...this.cur.state },
        faultsFired: this.faults.firedKeys(),
        restarts: { ...(this.supervisor.getSnapshot().context as { restarts: Record<string, number> }).restarts },
        stalenessMax: this.stalenessMax,
        tokensGenerated: this.tokensGenerated,
        tokensTrained: this.tokensTrained,
        logs: this.logOffsets(),
        evalsPending: this.evalsInFlight.filter((v) => v === this.version),
      };
      writeRunCheckpoint(this.dir, {
        gptConfig: this.gptConfig,
        seed: this.cfg.seed,
        command: this.o.command,
        versions: this.o.versions,
        weights: snap.weights,
        optimizer: { state: snap.optimizer, step: snap.adamStep },
        state,
        keep: this.cfg.checkpoint.keep,
      });
      for (const k of [...this.sinceCheckpoint.keys()]) if (k <= this.version) this.sinceCheckpoint.delete(k);
      this.log(`checkpoint step-${this.version}`);
    } finally {
      this.paused = false;
      this.batcher.send({ type: 'POKE' });
    }
  }

  // ── lifecycle ───────────────────────────────────────────────────────────────────────────

  private prepared = false;

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
      if (e instanceof InputError)
        throw new InputError(`model.checkpoint: ${e.message.replace(/^--checkpoint: /, '')}`);
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
      this.version = s.version;
      this.accounting = Accounting.fromJSON(s.accounting);
      for (const g of s.queue) this.queue.add(g);
      this.faults.restoreFired(s.faultsFired);
      this.restarts = s.restarts;
      this.stalenessMax = s.stalenessMax;
      this.tokensGenerated = s.tokensGenerated;
      this.tokensTrained = s.tokensTrained ?? 0;
      this.storeWeights(s.version, resume.weights);
      optimizer = resume.optimizer;
      this.log(`resuming from checkpoint step-${s.version}`);
    } else {
      this.storeWeights(0, init.weights);
    }
    this.nextStep = this.version + 1;
    this.formedThrough = this.version;
    this.available = this.version;
    this.tokensAtStart = this.tokensGenerated;
    this.stepsAtStart = this.version;

    this.resumed = resume;
    this.optimizer = optimizer;
    this.initWeights = init.weights;
    this.prepared = true;
  }

  private resumed: ReturnType<typeof readRunCheckpoint> = null;
  private optimizer: { state: PackedWeights; step: number } | undefined;
  private initWeights!: PackedWeights;

  private async start(): Promise<void> {
    const run = this;
    const resume = this.resumed;
    const optimizer = this.optimizer;
    if (resume) this.cur.state = { ...resume.state.curriculum };
    const coupled = this.cfg.curriculum.kind === 'coupled';
    // A coupled stage starts by measuring, unless a resumed run already decided its budget.
    this.cur.measuring = coupled && this.cur.state.budgets[String(this.cur.state.stage)] === undefined;
    this.curriculum = createActor(
      curriculumMachine.provide({
        actors: { measure: fromAsync(async ({ input }) => run.measureStage(input.stage)) },
        actions: {
          stageChanged: (_, p) => {
            const reason = run.cur.stageDoneReason();
            run.cur.advance();
            if (coupled) run.cur.measuring = true;
            // Past the run's last step (--max-steps cut it) no step of the new stage follows: no line.
            if (run.version >= run.maxSteps) return;
            run.writeLine({ type: 'stage', step: run.version, stage: p.stage, reason });
            run.log(`stage ${p.stage} begins after step ${run.version} (${STAGE_REASONS[reason ?? 'steps']})`);
            setImmediate(() => run.pump());
          },
          reportFailure: (_, p) => run.abort(`curriculum: measuring stage ${run.cur.state.stage} failed: ${p.error}`),
        },
        guards: {
          stageDone: () => run.cur.stageDoneReason() !== null,
          measuresStages: () => coupled,
        },
      }),
      {
        input: {
          stages: this.cfg.curriculum.stages,
          stage: this.cur.state.stage,
          stepsInStage: this.cur.state.stepsInStage,
          measureFirst: this.cur.measuring,
        },
        inspect: this.transitions.inspector('curriculum', 'curriculum'),
      },
    );
    this.supervisor = createActor(
      supervisorMachine.provide({
        actions: {
          restart: (_, f: Failure) => {
            if (f.role === 'sampler') run.slot(f.actor).actor.send({ type: 'RESTART' });
            else if (f.role === 'learner') run.learnerActor.send({ type: 'RESTART' });
            else if (f.role === 'grader') run.grader.send({ type: 'RESTART' });
            run.log(`${f.actor} failed (${f.error}); restarting`);
          },
          giveUp: (_, f) =>
            run.abort(
              `${f.actor} failed ${f.restarts + 1} times, over limits.restartsMax = ${run.cfg.limits.restartsMax}; last error: ${f.error}`,
            ),
        },
      }),
      {
        input: { restartsMax: this.cfg.limits.restartsMax, restarts: this.restarts },
        inspect: this.transitions.inspector('supervisor', 'supervisor'),
      },
    );
    this.weightStore = createActor(
      weightStoreMachine.provide({
        actions: {
          broadcast: (_, p) => run.broadcast(p.version),
          versionError: (_, p) => run.abort(`weight store: version ${p.got} published after ${p.have}`),
        },
      }),
      { input: { version: this.version }, inspect: this.transitions.inspector('weightStore', 'weightStore') },
    );
    this.batcher = createActor(
      batcherMachine.provide({
        actors: { dispatch: fromAsync(async () => run.sendBatch()) },
        actions: {
          enqueue: (_, p) => {
            run.queue.add(p.group);
            run.trace.flow(
              `g:${p.group.step}/${p.group.problemId}`,
              'rollouts',
              'batcher',
              'batcher',
              't',
              run.sinceOpen(),
            );
          },
        },
        guards: { batchComplete: () => run.nextBatchReady() },
      }),
      { inspect: this.transitions.inspector('batcher', 'batcher') },
    );
    this.grader = createActor(
      graderMachine.provide({
        actors: {
          grade: fromAsync(async ({ input }) => {
            run.trace.flow(`g:${input.job.job.jobId}`, 'rollouts', 'grader', 'grader', 't', run.sinceOpen());
            // injected faults: once, on the first group of the step (a hang answers at the grader's timeout, as a
            // failure)
            const fault = run.faults.take('grader', input.job.job.step);
            if (fault === 'crash') throw new Error(`grader crashed (injected) grading ${input.job.job.jobId}`);
            if (fault === 'hang') {
              await new Promise((r) => setTimeout(r, run.cfg.limits.verifierTimeoutMs));
              throw new Error(
                `grader: grading ${input.job.job.jobId} took longer than ${run.cfg.limits.verifierTimeoutMs} ms (injected hang)`,
              );
            }
            const t0 = run.o.now();
            const out =
              run.nats && run.remote.has('grader')
                ? await run.nats.call<ScoredGroup>(
                    'grade',
                    input.job.job.jobId,
                    input.job,
                    run.cfg.limits.verifierTimeoutMs,
                  )
                : gradeGroup(input.job);
            const slow = run.faults.slowFactor('grader');
            if (slow > 1) await new Promise((r) => setTimeout(r, (run.o.now() - t0) * (slow - 1)));
            return out;
          }),
          deliver: fromAsync(async ({ input }) => {
            run.batcher.send({ type: 'GROUP', group: input.group });
          }),
        },
        actions: {
          overflow: () => run.abort('grader queue overflow'),
          reportFailure: (_, p) =>
            run.supervisor.send({ type: 'FAILED', actor: 'grader', role: 'grader', error: p.error }),
        },
      }),
      { input: { queueMax: this.cfg.limits.queueGroupsMax }, inspect: this.transitions.inspector('grader', 'grader') },
    );
    this.learnerActor = createActor(
      learnerMachine.provide({
        actors: {
          train: fromAsync(async ({ input }) => run.train(input.batch)),
          publish: fromAsync(async ({ input }) => run.publish(input.output, input.batch)),
          snapshot: fromAsync(async () => {
            run.snapshot = await run.learner!.call(
              'snapshot',
              (api) => api.snapshot(),
              run.cfg.limits.learnerTimeoutMs,
            );
          }),
          restart: fromAsync(async () => run.restartLearner()),
        },
        actions: {
          ready: () => setImmediate(() => run.batcher.send({ type: 'LEARNER_READY' })),
          reportFailure: (_, p) => {
            if (p.batch) run.retryBatch = p.batch;
            run.supervisor.send({ type: 'FAILED', actor: 'learner', role: 'learner', error: p.error });
          },
        },
      }),
      { inspect: this.transitions.inspector('learner', 'learner') },
    );

    if (this.cfg.eval) {
      const ev = this.cfg.eval;
      this.evaluator = createActor(
        evaluatorMachine.provide({
          actors: {
            evaluate: fromAsync(async ({ input }) => {
              const r: EvaluateResult = await run.onEvalThread(
                'evaluate',
                input.request.version,
                (api) =>
                  api.evaluate({
                    version: input.request.version,
                    difficulty: ev.difficulty,
                    problems: ev.problems,
                    samples: ev.samples,
                    budgets: input.request.budgets,
                    ks: ev.ks,
                    temperature: run.cfg.rollout.temperature,
                    seed: run.cfg.seed,
                  }),
                run.cfg.limits.samplerTimeoutMs,
              );
              return r;
            }),
          },
          actions: {
            report: (_, p) => {
              const r = p.result;
              run.evaluations.push({ step: p.request.version, rows: r.rows });
              run.writeLine(
                evalLine({
                  step: p.request.version,
                  tSeconds: run.sinceOpen() / 1000,
                  evaluatedVersion: r.version,
                  eval: ev,
                  budgets: r.rows,
                }),
              );
              run.log(
                `eval step ${p.request.version}: ${r.rows.map((x) => `pass@1 ${x.passAt['1']!.toFixed(3)} at ${x.budget}`).join(', ')}`,
              );
              run.evalSettled(p.request.version);
            },
            reportFailure: (_, p) => {
              run.log(`evaluation failed: ${p.error}`);
              run.evalSettled(p.request.version);
            },
          },
        }),
        { inspect: this.transitions.inspector('evaluator', 'evaluator') },
      );
    }
    for (const a of [this.supervisor, this.weightStore, this.batcher, this.grader, this.evaluator]) a?.start();

    if (this.o.nats) await this.startNats();
    if (!this.remote.has('verifier')) {
      this.pool = new Piscina({
        filename: BUNDLE_DIR ? path.join(BUNDLE_DIR, 'verify-task.mjs') : path.join(ACTORS_DIR, 'verify.task.mjs'),
        minThreads: this.cfg.topology.verifierThreads,
        maxThreads: this.cfg.topology.verifierThreads,
      });
      this.pool.on('error', (e: Error) => run.log(`verifier pool: ${e.message}`));
    }
    await this.startLearner({ weights: this.weights.get(this.version)!, optimizer, version: this.version });
    for (let i = 0; i < this.cfg.topology.samplers; i++) {
      const id = `sampler-${i}`;
      this.samplers.push({
        id,
        handle: null as unknown as WorkerHandle<SamplerApi>,
        port: null as unknown as MessagePort,
        actor: null as unknown as AnyActorRef,
        posted: this.available,
        needs: [],
      });
      const s = await this.startSampler(id);
      Object.assign(this.samplers[i]!, {
        handle: s.handle,
        port: s.port,
        posted: s.posted,
        actor: this.makeSamplerActor(id),
      });
    }
    for (let i = 0; i < this.cfg.topology.verifierThreads; i++) {
      const id = `verifier-${i}`;
      this.verifiers.push({ id, actor: this.makeVerifierActor(id) });
    }
    if (!resume) {
      // A step-0 checkpoint: a learner that crashes before the first periodic one restarts from it.
      writeRunCheckpoint(this.dir, {
        gptConfig: this.gptConfig,
        seed: this.cfg.seed,
        command: this.o.command,
        versions: this.o.versions,
        weights: this.initWeights,
        state: {
          version: 0,
          accounting: [],
          queue: [],
          curriculum: { ...this.cur.state },
          faultsFired: [],
          restarts: {},
          stalenessMax: 0,
          tokensGenerated: 0,
          logs: this.logOffsets(),
          evalsPending: [],
        },
        keep: this.cfg.checkpoint.keep,
      });
    }
    if (this.cur.usesBuckets()) await this.measureBuckets();
    this.curriculum.start();
    this.t0 = this.o.now();
    this.learnerActor.start();
    for (const v of this.verifiers) v.actor.start();
    for (const s of this.samplers) s.actor.start();
    // Evaluations that were running when the checkpoint was taken: their lines were cut with the log.
    for (const v of resume?.state.evalsPending ?? []) if (this.evaluator) this.requestEval(v);
  }

  abort(error: string): void {
    if (this.fatal) return;
    this.fatal = error;
    this.coordinator.send({ type: 'ABORT', error });
  }

  interrupt(): void {
    this.interrupted = true;
    this.coordinator.send({ type: 'INTERRUPT' });
  }

  private async stopAll(): Promise<void> {
    // The final evaluation runs on a sampler thread: let it finish (bounded by the sampler timeout).
    const deadline = this.o.now() + this.cfg.limits.samplerTimeoutMs;
    while (this.evalsInFlight.length > 0 && !this.fatal && !this.interrupted && this.o.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    for (const w of this.deliveryWaiters.splice(0)) w();
    for (const t of this.publicationTimers) clearTimeout(t);
    this.publicationTimers.clear();
    for (const a of [
      ...this.samplers.map((s) => s.actor),
      ...this.verifiers.map((v) => v.actor),
      this.learnerActor,
      this.batcher,
      this.grader,
      this.weightStore,
      this.curriculum,
      this.supervisor,
      this.evaluator,
    ]) {
      a?.stop();
    }
    await Promise.all(this.samplers.map((s) => s.handle?.terminate().catch(() => {})));
    await this.evalSampler?.handle.terminate().catch(() => {});
    await this.learner?.terminate().catch(() => {});
    await this.pool?.destroy().catch(() => {});
    // The run's queues and weights on NATS are deleted, also after an interruption: --resume
    // re-plans its in-flight work and creates them afresh.
    await this.nats?.close();
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
    const run = this;
    this.coordinator = createActor(
      coordinatorMachine.provide({
        actors: {
          start: fromAsync(async () => {
            try {
              await run.start();
            } catch (e) {
              // bad input stays bad input (exit 2), not a failed run
              if (e instanceof InputError) run.startInputError = e;
              throw e;
            }
          }),
          checkpoint: fromAsync(async () => run.checkpoint()),
          stop: fromAsync(async () => run.stopAll()),
        },
      }),
      {
        input: { step: this.version, maxSteps: this.maxSteps, checkpointEvery: this.cfg.checkpoint.every },
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
    const ctx = this.coordinator.getSnapshot().context as { error: string | null };
    fs.closeSync(this.metricsFd);
    this.transitions.close();
    this.trace.close_(this.sinceOpen());
    if (end === 'failed' && this.startInputError) throw this.startInputError;
    if (end === 'failed') throw new Error(this.fatal ?? ctx.error ?? 'run failed');
    return this.writeSummary();
  }

  private writeSummary(): Summary {
    const c = this.accounting.counts();
    // At a normal end every generated rollout was trained or dropped (pending = lost); after an
    // interrupt the pending ones are in the checkpoint's queue or are sampled again on --resume.
    const lost = this.interrupted ? 0 : c.pending;
    const wallMs = this.o.now() - this.t0;
    const actors = this.cfg.topology.samplers + 1;
    const busy = this.samplerComputeMs + this.learnerComputeMs + this.transferMs;
    const restarts = Object.values(
      (this.supervisor.getSnapshot().context as { restarts: Record<string, number> }).restarts,
    ).reduce((a, b) => a + b, 0);
    const w = this.weights.get(this.version)!;
    const summary: Summary = {
      steps: this.version,
      rolloutsGenerated: c.generated,
      rolloutsTrained: c.trained,
      rolloutsDroppedStale: c.droppedStale,
      rolloutsDroppedInvalid: c.droppedInvalid,
      rolloutsLost: lost,
      stalenessMax: this.stalenessMax,
      stalenessBound: this.eta,
      restarts,
      finalVersion: this.version,
      weightsSha256: weightsSha256(w.data),
      policy: this.cfg.staleness.policy,
      interrupted: this.interrupted,
      inflightSwaps: this.inflightSwaps,
      replayMismatches: this.replayMismatches,
      wallMs,
      tokensGenerated: this.tokensGenerated - this.tokensAtStart,
      tokensPerSec: ((this.tokensGenerated - this.tokensAtStart) / Math.max(1, wallMs)) * 1000,
      samplerComputeMs: this.samplerComputeMs,
      learnerComputeMs: this.learnerComputeMs,
      transferMs: this.transferMs,
      overheadFraction: Math.max(0, 1 - busy / Math.max(1, wallMs * actors)),
      transitions: this.transitions.count,
      faultsFired: this.faults.firedKeys(),
      transport: this.nats
        ? {
            kind: 'nats',
            remote: [...this.remote],
            published: this.nats.published,
            redelivered: this.nats.redelivered,
            duplicatesDropped: this.nats.duplicates,
          }
        : { kind: 'threads' },
      eval: this.evaluations.at(-1) ?? null,
    };
    const bad =
      lostViolation(c, this.interrupted) ??
      accountingViolation(c) ??
      stalenessBoundViolation(summary.stalenessMax, summary.stalenessBound);
    assert(bad === null, bad!);
    writeFileAtomic(path.join(this.dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    return summary;
  }
}

/** The TrainedDigest of a formed batch (rollout ids are `step/slot:problem/sample`). */
function trainedDigest(step: number, f: FormedBatch): string {
  const d = new TrainedDigest(step);
  for (const [id, disposition] of f.dispositions) {
    if (disposition !== 'trained') continue;
    const first = id.indexOf('/');
    const last = id.lastIndexOf('/');
    d.add(slotOf(id.slice(first + 1, last)), Number(id.slice(last + 1)));
  }
  return d.hex();
}

/** A promise actor from an async function of its input (the machines' injected effects). */
import { fromPromise } from 'xstate';
import { writeFileAtomic } from '../util/atomic.js';
function fromAsync<O, I>(f: (a: { input: I }) => Promise<O>) {
  return fromPromise<O, I>(({ input }) => f({ input }));
}

/**
 * A backend that cannot start in a worker (`--backend webgpu` without a GPU, …) is bad input, not
 * a crash: the worker's InputError arrives as a plain Error (comlink keeps only the message).
 */
function asInputErrorIfBackend(e: unknown): never {
  if (e instanceof Error && e.message.startsWith('--backend '))
    throw new InputError(`backend (config or --backend): ${e.message.replace(/^--backend /, '')}`);
  throw e;
}
