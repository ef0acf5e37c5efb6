/**
 * The learner on the real clock: its thread, a step's training and publication (the topology's
 * `updated` and `published`), and restarts replaying from the last checkpoint.
 */
import { createActor } from 'xstate';
import { learnerMachine } from '../../../machines/index.js';
import type { TrainOutput } from '../../../machines/learner.js';
import type { LearnerApi } from '../../../actors/learner.worker.js';
import type { PackedWeights } from '../../tensor/pack.js';
import { weightsSha256 } from '../../tensor/pack.js';
import { assert } from '../../util/errors.js';
import { updateOf } from '../config.js';
import type { TrainBatch } from '../messages.js';
import { stepLearning } from '../../core/topology.js';
import { THREAD_START_MS, WorkerHandle } from '../workers.js';
import { readRunCheckpoint } from '../checkpointer.js';
import type { TrainingRun } from '../run.js';
import { fromAsync, asInputErrorIfBackend } from './effects.js';
import { requestEval } from './evaluation.js';
import { writeMetrics } from './metrics.js';
import { pump, topologyOf } from './planning.js';
import { storeWeights } from './weightStore.js';
import { stepCurriculum } from './curriculum.js';

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
        fault: run.faults.take('learner', batch.step, 'learner'),
        ...run.faults.slowness('learner'),
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
      (api) => api.train({ step: k, rollouts, fault: null, slowFactor: 1, slowMs: 0 }),
      run.cfg.limits.learnerTimeoutMs,
    );
    if (k === run.topo.learnerVersion && weightsSha256(out.weights.data) !== weightsSha256(run.weights.get(k)!.data))
      run.replayMismatches++;
  }
  run.log(
    `learner restarted from checkpoint step ${ck.state.version}, replayed ${run.topo.learnerVersion - ck.state.version} steps`,
  );
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
        busy: (_, p) =>
          run.abort(
            `learner: the batch of step ${p.step} arrived while it was ${JSON.stringify(run.learnerActor.getSnapshot().value)}, not waiting for one`,
          ),
        reportFailure: (_, p) => {
          if (p.batch) run.retryBatch = p.batch;
          run.supervisor.send({ type: 'FAILED', actor: 'learner', role: 'learner', error: p.error });
        },
      },
    }),
    { inspect: run.transitions.inspector('learner', 'learner') },
  );
}
