/**
 * The learner and the weight store on the real clock: the learner thread, a step's training and
 * publication, restarts replaying from the last checkpoint, checkpoints, and the weights' broadcast.
 */
import { createActor } from 'xstate';
import { learnerMachine, weightStoreMachine } from '../../../machines/index.js';
import type { TrainOutput } from '../../../machines/learner.js';
import type { LearnerApi } from '../../../actors/learner.worker.js';
import type { PackedWeights } from '../../tensor/pack.js';
import { weightsSha256 } from '../../tensor/pack.js';
import { assert, errnoLine } from '../../util/errors.js';
import { updateOf } from '../config.js';
import type { TrainBatch } from '../messages.js';
import { swapsInFlight } from '../../core/staleness.js';
import { learnState, stepLearning } from '../../core/topology.js';
import { slotOf } from '../../core/batch.js';
import { THREAD_START_MS, WorkerHandle, postWeights } from '../workers.js';
import { readRunCheckpoint, writeRunCheckpoint, type RunState } from '../checkpointer.js';
import type { TrainingRun } from '../run.js';
import { fromAsync, asInputErrorIfBackend } from './effects.js';
import { requestEval, stepCurriculum } from './evaluation.js';
import { logOffsets, writeMetrics } from './metrics.js';
import { pump, topologyOf } from './planning.js';
import { postWeightsTo } from './samplers.js';

/** Weight versions the store keeps (the newest and the one before: requests start at the published one while the learner's waits to go out). */
const WEIGHT_VERSIONS_KEPT = 2;

export async function startLearner(
  run: TrainingRun,
  from: {
    weights: PackedWeights;
    optimizer?: { state: PackedWeights; step: number };
    version: number;
  },
): Promise<void> {
  const handle = new WorkerHandle<LearnerApi>('learner', 'learner.worker.ts');
  const l = run.cfg.learner;
  await handle
    .call(
      'init',
      (api) =>
        api.init({
          backend: run.cfg.backend,
          config: run.gptConfig,
          weights: from.weights,
          reference: run.referenceWeights,
          version: from.version,
          optimizer: from.optimizer,
          lr: l.lr,
          clipNorm: l.clipNorm,
          loss: run.lossConfig,
          temperature: run.cfg.rollout.temperature,
          update: updateOf(run.cfg),
        }),
      THREAD_START_MS,
    )
    .catch(asInputErrorIfBackend);
  run.learner = handle;
}

export async function train(run: TrainingRun, batch: TrainBatch): Promise<TrainOutput> {
  const formed = run.formed.get(batch.step)!;
  for (const g of batch.groups)
    run.trace.flow(`g:${g.step}/${g.problemId}`, 'rollouts', 'learner', 'learner', 'f', run.sinceOpen());
  const out = await run.learner!.call(
    'train',
    (api) =>
      api.train({
        step: batch.step,
        rollouts: formed.rollouts,
        fault: run.faults.take('learner', batch.step),
        slowFactor: run.faults.slowFactor('learner'),
      }),
    run.cfg.limits.learnerTimeoutMs,
  );
  assert(out.version === batch.step, `learner returned version ${out.version} for step ${batch.step}`);
  storeWeights(run, out.version, out.weights);
  run.sinceCheckpoint.set(batch.step, formed.rollouts);
  run.learnerComputeMs += out.stats.computeMs;
  return { version: out.version, stats: out.stats };
}

/**
 * The trained step applied, then published (core/topology `updated`, then `published`): the ledger
 * folds the step, the version moves, its row, the weight store; then — once the store has the
 * version out, as on the virtual clock, where the learner waits in `publishing` too — evaluation,
 * curriculum and the coordinator (which checkpoints and ends the run by the same schedule,
 * core/update checkpointDue). A trainer that broadcasts its own weights is busy until they are out.
 */
export async function publish(run: TrainingRun, out: TrainOutput, batch: TrainBatch): Promise<void> {
  const formed = run.formed.get(batch.step)!;
  run.formed.delete(batch.step);
  const c = topologyOf(run);
  const update = {
    step: batch.step,
    groups: formed.groups,
    lagMax: formed.figures.stalenessMax,
    tokens: formed.tokens,
    filter: formed.figures.filter,
  };
  carryOut(
    run,
    stepLearning(c, { type: 'updated', batch: update, version: out.version, updateRollouts: out.stats.updateRollouts }),
    formed,
    out,
  );
  await publicationOut(run, out.version);
  carryOut(run, stepLearning(c, { type: 'published', version: out.version, passRate: formed.figures.passRate }));
}

/** The learning side's effects on the real clock (core/topology LearnEffect) after an update. */
function carryOut(
  run: TrainingRun,
  effects: ReturnType<typeof stepLearning>,
  formed?: ReturnType<TrainingRun['formed']['get']>,
  out?: TrainOutput,
): void {
  for (const e of effects) {
    switch (e.type) {
      case 'fail':
        assert(false, e.message);
        break;
      case 'row':
        writeMetrics(run, e.step, formed!, out!.stats);
        break;
      case 'publish':
        run.weightStore.send({ type: 'PUBLISHED', version: e.version });
        break;
      case 'evaluate':
        if (run.evaluator) requestEval(run, e.version);
        break;
      case 'curriculum':
        stepCurriculum(run, { type: 'published', version: e.version, passRate: e.passRate });
        break;
      case 'stepDone':
        run.coordinator.send({ type: 'STEP_DONE', step: e.version, checkpoint: e.checkpoint || e.last });
        break;
      case 'pump':
        setImmediate(() => pump(run));
        break;
      // learnerFree: the learner machine says so itself when this publication ends (LEARNER_READY)
    }
  }
}

/**
 * Resolves once version `v` is out to the samplers (`broadcastNow`). A run that stops meanwhile
 * leaves it pending: its actors are stopped, so nothing follows the publication.
 */
function publicationOut(run: TrainingRun, v: number): Promise<void> {
  if (run.topo.published >= v) return Promise.resolve();
  return new Promise((resolve) => {
    run.publicationWait = { version: v, resolve };
  });
}

export async function restartLearner(run: TrainingRun): Promise<void> {
  await run.learner?.terminate().catch(() => {});
  const ck = readRunCheckpoint(run.dir);
  assert(ck, 'learner restart: no checkpoint to restart from');
  await startLearner(run, { weights: ck.weights, optimizer: ck.optimizer, version: ck.state.version });
  // Replay the steps trained since that checkpoint (same batches, same order): the learner
  // catches up with the published version without rewinding anyone else.
  for (let k = ck.state.version + 1; k <= run.topo.learnerVersion; k++) {
    const rollouts = run.sinceCheckpoint.get(k);
    assert(rollouts, `learner restart: batch of step ${k} not kept`);
    const out = await run.learner!.call(
      'replay',
      (api) => api.train({ step: k, rollouts, fault: null, slowFactor: 1 }),
      run.cfg.limits.learnerTimeoutMs,
    );
    if (k === run.topo.learnerVersion && weightsSha256(out.weights.data) !== weightsSha256(run.weights.get(k)!.data))
      run.replayMismatches++;
  }
  run.log(
    `learner restarted from checkpoint step ${ck.state.version}, replayed ${run.topo.learnerVersion - ck.state.version} steps`,
  );
}

export async function checkpoint(run: TrainingRun): Promise<void> {
  run.paused = true;
  try {
    // The learner must be between steps; the batcher holds new batches while paused.
    const deadline = run.o.now() + run.cfg.limits.learnerTimeoutMs;
    while (!run.learnerActor.getSnapshot().matches('waitingForBatch')) {
      if (run.fatal) throw new Error(run.fatal);
      if (run.o.now() > deadline) throw new Error('learner did not come to rest for the checkpoint');
      await new Promise((r) => setTimeout(r, 5));
    }
    run.snapshot = null;
    run.learnerActor.send({ type: 'SNAPSHOT' });
    while (!run.snapshot || !run.learnerActor.getSnapshot().matches('waitingForBatch')) {
      if (run.learnerActor.getSnapshot().matches('failed')) throw new Error('learner failed while taking a snapshot');
      await new Promise((r) => setTimeout(r, 5));
    }
    const snap = run.snapshot as Awaited<ReturnType<LearnerApi['snapshot']>>;
    assert(
      snap.version === run.topo.learnerVersion,
      `snapshot at v${snap.version}, published v${run.topo.learnerVersion}`,
    );
    const held = new Set(run.queue.all().map((g) => `${g.step}/${slotOf(g.problemId)}`));
    const ledger = run.accounting.toEntries((step, slot) => held.has(`${step}/${slot}`));
    const state: RunState = {
      version: run.topo.learnerVersion,
      accounting: ledger.entries,
      accountingSettled: ledger.settled,
      queue: run.queue.all(),
      curriculum: { ...run.cur.state },
      faultsFired: run.faults.firedKeys(),
      restarts: { ...run.supervisor.getSnapshot().context.restarts },
      topology: learnState(run.topo),
      // the rollouts being verified are generated again on resume: their tokens are not kept either
      tokensGenerated: run.topo.tokensGenerated - run.tokensUnqueued,
      logs: logOffsets(run),
      evalsPending: run.evalsInFlight.filter((v) => v === run.topo.learnerVersion),
      wallMs: run.wallMsBefore + (run.o.now() - run.t0),
    };
    try {
      writeRunCheckpoint(run.dir, {
        gptConfig: run.gptConfig,
        seed: run.cfg.seed,
        command: run.o.command,
        versions: run.o.versions,
        weights: snap.weights,
        optimizer: { state: snap.optimizer, step: snap.adamStep },
        state,
        keep: run.cfg.checkpoint.keep,
        trainConfig: run.cfg,
      });
    } catch (e) {
      if (errnoLine(e)) run.envError ??= e as Error; // the run ends with it (one line naming the file)
      throw e;
    }
    for (const k of [...run.sinceCheckpoint.keys()]) if (k <= run.topo.learnerVersion) run.sinceCheckpoint.delete(k);
    run.log(`checkpoint step-${run.topo.learnerVersion}`);
  } finally {
    run.paused = false;
    run.batcher.send({ type: 'POKE' });
  }
}

export function storeWeights(run: TrainingRun, version: number, w: PackedWeights): void {
  run.weights.set(version, w);
  for (const v of run.weights.keys()) if (v < version - WEIGHT_VERSIONS_KEPT + 1) run.weights.delete(v);
}

export function makeLearnerActor(run: TrainingRun) {
  return createActor(
    learnerMachine.provide({
      actors: {
        train: fromAsync(async ({ input }) => train(run, input.batch)),
        publish: fromAsync(async ({ input }) => publish(run, input.output, input.batch)),
        snapshot: fromAsync(async () => {
          run.snapshot = await run.learner!.call('snapshot', (api) => api.snapshot(), run.cfg.limits.learnerTimeoutMs);
        }),
        restart: fromAsync(async () => restartLearner(run)),
      },
      actions: {
        ready: () => setImmediate(() => run.batcher.send({ type: 'LEARNER_READY' })),
        reportFailure: (_, p) => {
          if (p.batch) run.retryBatch = p.batch;
          run.supervisor.send({ type: 'FAILED', actor: 'learner', role: 'learner', error: p.error });
        },
      },
    }),
    { inspect: run.transitions.inspector('learner', 'learner') },
  );
}

export function makeWeightStore(run: TrainingRun) {
  return createActor(
    weightStoreMachine.provide({
      actions: {
        broadcast: (_, p) => broadcast(run, p.version),
        versionError: (_, p) => run.abort(`weight store: version ${p.got} published after ${p.have}`),
      },
    }),
    { input: { version: run.topo.learnerVersion }, inspect: run.transitions.inspector('weightStore', 'weightStore') },
  );
}

/** The weight store's broadcast of `version`, late or lost-then-resent when a fault says so. */
export function broadcast(run: TrainingRun, version: number): void {
  const pub = run.faults.publication(version);
  if (pub.delayMs === 0) return broadcastNow(run, version);
  run.log(
    `weights v${version}: publication ${pub.dropped ? `lost (injected); sent again in ${pub.delayMs} ms` : `delayed by ${pub.delayMs} ms (injected)`}`,
  );
  const t = setTimeout(() => {
    run.publicationTimers.delete(t);
    // (gone: a newer version went out first)
    if (!run.fatal && run.weights.has(version)) broadcastNow(run, version);
  }, pub.delayMs);
  run.publicationTimers.add(t);
}

export function broadcastNow(run: TrainingRun, version: number): void {
  const w = run.weights.get(version);
  assert(w, `weights v${version} not in the store`);
  const t = run.o.now();
  if (run.evalSampler) postWeights(run.evalSampler.port, version, w);
  if (run.nats && run.remote.has('sampler')) {
    // remote samplers fetch the version their next request names from the object store: out once it is there
    run.trace.flow(`w:${version}:nats`, `weights v${version}`, 'weightStore', 'weightStore', 's', run.sinceOpen());
    const nats = run.nats;
    nats.publishWeights(version, w).then(
      () => {
        if (!nats.isClosed) weightsOut(run, version);
      },
      (e: Error) => {
        if (!nats.isClosed) run.abort(`publishing weights v${version} to NATS: ${e.message}`);
      },
    );
  } else {
    // In-flight updates swap weights mid-generation: every sampler gets every version at once.
    // Otherwise a sampler is handed the published version when its next request starts (handWeights).
    if (swapsInFlight(run.cfg.staleness.policy)) for (const s of run.samplers) postWeightsTo(run, s, version, false);
    weightsOut(run, version);
  }
  run.transferMs += run.o.now() - t;
}

/** Version `version` is out to the samplers: admission and requests read it, the learner's wait ends (core/topology `published`). */
function weightsOut(run: TrainingRun, version: number): void {
  run.topo.published = Math.max(run.topo.published, version);
  const wait = run.publicationWait;
  if (wait && wait.version <= run.topo.published) {
    run.publicationWait = null;
    wait.resolve();
  }
}
