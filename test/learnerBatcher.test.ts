/**
 * The learner and the batcher machines wired as the real clock wires them (LEARNER_READY a tick
 * after the learner becomes free; a dispatch sends TRAIN), around a checkpoint in async training:
 * the interleaving that hung the NATS async test (fresh-clone loop, 2026-12-07). A checkpoint's
 * snapshot used to send the learner back into `waitingForBatch` with a second LEARNER_READY; by the
 * time it arrived the batcher had handed out the next step, so it took the training learner for a
 * waiting one and went to `waitingForGroups`; the next step's groups all came in while the learner
 * trained, and the learner's real LEARNER_READY, in `waitingForGroups`, looked at nothing: every
 * actor idle, for ever. Each step here completes with one group.
 */
import { createActor, fromPromise } from 'xstate';
import { describe, expect, it } from 'vitest';
import { batcherMachine, learnerMachine } from '../machines/index.js';
import type { ScoredGroup, TrainBatch } from '../src/runtime/messages.js';
import type { TrainOutput } from '../machines/learner.js';

const tick = () => new Promise((r) => setImmediate(r));
async function ticks(n = 5) {
  for (let i = 0; i < n; i++) await tick();
}

function world() {
  const w = {
    version: 0,
    paused: false,
    complete: new Set<number>(),
    trained: [] as number[],
    busy: [] as string[],
    finishTrain: null as (() => void) | null,
    finishPublish: null as (() => void) | null,
  };
  const learner = createActor(
    learnerMachine.provide({
      actors: {
        train: fromPromise<TrainOutput, { batch: TrainBatch }>(
          ({ input }) =>
            new Promise((resolve) => {
              w.trained.push(input.batch.step);
              w.finishTrain = () => resolve({ version: input.batch.step, stats: {} as TrainOutput['stats'] });
            }),
        ),
        publish: fromPromise<void, { output: TrainOutput; batch: TrainBatch }>(
          ({ input }) =>
            new Promise((resolve) => {
              w.version = input.batch.step; // the update applied: the learner's version moves
              w.finishPublish = resolve;
            }),
        ),
        snapshot: fromPromise(async () => {}),
        restart: fromPromise(async () => {}),
      },
      actions: {
        ready: () => setImmediate(() => batcher.send({ type: 'LEARNER_READY' })),
        busy: (_, p) => w.busy.push(`step ${p.step} in ${JSON.stringify(learner.getSnapshot().value)}`),
        reportFailure: () => {},
      },
    }),
  );
  const batcher = createActor(
    batcherMachine.provide({
      actors: {
        dispatch: fromPromise(async () => {
          const k = w.version + 1;
          w.complete.delete(k);
          learner.send({ type: 'TRAIN', batch: { step: k } as TrainBatch });
        }),
      },
      actions: {
        enqueue: (_, p) => void w.complete.add(p.group.step),
        broken: () => {},
      },
      // the gate as the runtime's (core/topology learnerNext): the learner machine's own state
      guards: {
        batchReady: () =>
          !w.paused && learner.getSnapshot().matches('waitingForBatch') && w.complete.has(w.version + 1),
      },
    }),
  );
  const group = (step: number) => batcher.send({ type: 'GROUP', group: { step } as ScoredGroup });
  learner.start();
  batcher.start(); // after the learner, as the runtime starts them
  return { w, learner, batcher, group };
}

/**
 * The learner's step ends with a checkpoint, as src/runtime/roles/lifecycle.ts takes it: the
 * batcher held (paused) from the moment the step is done, before the learner's LEARNER_READY;
 * `during` (groups that come in meanwhile); the learner's snapshot; then — in the same turn of the
 * event loop as the snapshot's end, before anything the learner sent at its end arrives — the
 * batcher released and poked.
 */
async function stepWithCheckpoint(x: ReturnType<typeof world>, during: () => void) {
  x.w.finishTrain!();
  await ticks();
  x.w.paused = true;
  x.w.finishPublish!();
  await ticks();
  during();
  await ticks();
  await new Promise<void>((resolve) => {
    const sub = x.learner.subscribe((st) => {
      if (st.matches('waitingForBatch')) {
        sub.unsubscribe();
        resolve();
      }
    });
    x.learner.send({ type: 'SNAPSHOT' });
  });
  x.w.paused = false;
  x.batcher.send({ type: 'POKE' });
  await ticks();
}

/** The two machines started, step 1's group in: the learner trains step 1. */
async function trainingStepOne() {
  const x = world();
  await ticks();
  x.group(1);
  await ticks();
  return x;
}

/** The learner trains and publishes its step (both effects end now). */
async function finishStep(w: ReturnType<typeof world>['w']) {
  w.finishTrain!();
  await ticks();
  w.finishPublish!();
  await ticks();
}

describe('the learner and the batcher around a checkpoint (async: the next step generated during training)', () => {
  it('hands out the step whose groups all came in while the learner trained, once it is free', async () => {
    const x = await trainingStepOne();
    const { w, learner, batcher, group } = x;
    expect(w.trained).toEqual([1]);
    group(2); // step 2 generated while step 1 trains
    await finishStep(w); // v1 out: the learner is free, step 2 goes
    expect(w.trained).toEqual([1, 2]);
    // v2 out and a checkpoint; step 3 complete meanwhile: it goes at the poke
    await stepWithCheckpoint(x, () => group(3));
    expect(w.trained).toEqual([1, 2, 3]);
    // step 4's groups all come in while step 3 trains
    group(4);
    await ticks();
    await finishStep(w);
    expect(w.trained).toEqual([1, 2, 3, 4]);
    expect(learner.getSnapshot().value).toBe('training');
    expect(w.busy).toEqual([]);
    batcher.stop();
    learner.stop();
  }, 5_000);

  it('never sends a batch to a learner that is publishing (it would be lost): the group waits for its LEARNER_READY', async () => {
    const x = await trainingStepOne();
    const { w, learner, batcher, group } = x;
    // v1 out and a checkpoint; step 2 complete meanwhile: it goes at the poke
    await stepWithCheckpoint(x, () => group(2));
    expect(w.trained).toEqual([1, 2]);
    w.finishTrain!();
    await ticks();
    expect(learner.getSnapshot().value).toBe('publishing');
    group(3); // step 3 complete while the learner publishes v2 (its version already moved)
    await ticks();
    expect(w.trained).toEqual([1, 2]);
    expect(w.busy).toEqual([]);
    w.finishPublish!();
    await ticks();
    expect(w.trained).toEqual([1, 2, 3]);
    batcher.stop();
    learner.stop();
  }, 5_000);
});
