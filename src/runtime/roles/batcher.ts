import { createActor } from 'xstate';
import { batcherMachine } from '../../../machines/index.js';
import { assert } from '../../util/errors.js';
import { trainRollouts } from '../../core/batch.js';
import { failureOf, stepLearning } from '../../core/topology.js';
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
      guards: { batchComplete: () => nextBatchReady(run) },
    }),
    { inspect: run.transitions.inspector('batcher', 'batcher') },
  );
}

/**
 * The batcher's gate: the learner waiting — read from the learner's machine, as the virtual clock's
 * `tryTrain` reads its learner (the batcher's own `learnerWaiting` only says when to look) — no
 * checkpoint in progress, and the learner's next step whole (or a failed step's batch to retry).
 */
export function nextBatchReady(run: TrainingRun): boolean {
  if (run.paused || run.fatal || !run.learnerActor.getSnapshot().matches('waitingForBatch')) return false;
  if (run.retryBatch) return true;
  const k = run.topo.learnerVersion + 1;
  return k <= run.maxSteps && run.queue.complete(k);
}

/** The learner takes its next batch (core/topology `learnerWaiting`), or a failed step's batch again. */
export function sendBatch(run: TrainingRun): void {
  let batch = run.retryBatch;
  run.retryBatch = null;
  if (!batch) {
    const effects = stepLearning(topologyOf(run), { type: 'learnerWaiting' });
    assert(effects.length > 0, `step ${run.topo.learnerVersion + 1}'s batch is not complete`);
    for (const e of effects) {
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
