import { createActor } from 'xstate';
import { batcherMachine } from '../../../machines/index.js';
import { assert } from '../../util/errors.js';
import { trainRollouts } from '../../core/batch.js';
import { failureOf, learnerNext, stepLearning } from '../../core/topology.js';
import type { TrainingRun } from '../run.js';
import { fromAsync } from './effects.js';
import { backfill, pump, topologyOf } from './planning.js';

export function makeBatcher(run: TrainingRun) {
  return createActor(
    batcherMachine.provide({
      actors: { dispatch: fromAsync(async () => sendBatch(run)) },
      actions: {
        broken: (_, p) => run.abort(`batcher: ${p.error}`),
        enqueue: (_, p) => {
          for (const e of stepLearning(topologyOf(run), { type: 'scored', step: p.group.step, group: p.group })) {
            assert(failureOf(e) === null, failureOf(e)!);
            // (stepComplete: the machine's guard looks again on every group)
            if (e.type === 'backfill') backfill(run, e.step, e.slot);
          }
          for (const r of p.group.rollouts) run.tokensUnqueued -= r.completion.length;
          run.groupsUnqueued--;
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
      guards: { batchReady: () => next(run) !== null },
    }),
    { inspect: run.transitions.inspector('batcher', 'batcher') },
  );
}

/**
 * The batcher's gate (core/topology `learnerNext`, as the virtual clock's `tryTrain` asks it): the
 * learner waiting — its machine's own state, nothing holding the run (a checkpoint, a failure) —
 * and a failed step's batch to train again, or its next step whole.
 */
function next(run: TrainingRun): 'again' | 'form' | null {
  return learnerNext(topologyOf(run), {
    waiting: !run.paused && !run.fatal && run.learnerActor.getSnapshot().matches('waitingForBatch'),
    holdsBatch: run.retryBatch !== null,
  });
}

/** The learner takes a failed step's batch again, or its next batch (core/topology `learnerWaiting`). */
export function sendBatch(run: TrainingRun): void {
  const gate = next(run);
  assert(gate !== null, `step ${run.topo.learnerVersion + 1}'s batch is not ready for the learner`);
  let batch = run.retryBatch;
  run.retryBatch = null;
  if (gate === 'form') {
    for (const e of stepLearning(topologyOf(run), { type: 'learnerWaiting' })) {
      assert(failureOf(e) === null, failureOf(e)!);
      if (e.type === 'pump') setImmediate(() => pump(run));
      if (e.type !== 'train') continue;
      const k = e.batch.step;
      run.formed.set(k, trainRollouts(e.batch, run.cfg.rollout));
      batch = {
        type: 'TrainBatch',
        step: k,
        learnerVersion: run.topo.learnerVersion,
        groups: e.batch.groups.map((g) => g.group),
      };
    }
  }
  run.learnerActor.send({ type: 'TRAIN', batch: batch! });
}
