/** Learner: a worker thread holding weights, optimizer and reference policy; trains a batch, publishes the version. */
import { assign, setup } from 'xstate';
import type { TrainBatch, TrainStats } from '../src/runtime/messages.js';
import { actionNotProvided, errorText, notProvided } from './util.js';

export interface TrainOutput {
  version: number;
  stats: TrainStats;
}

export const learnerMachine = setup({
  types: {
    context: {} as { batch: TrainBatch | null; output: TrainOutput | null; error: string | null },
    events: {} as { type: 'TRAIN'; batch: TrainBatch } | { type: 'SNAPSHOT' } | { type: 'RESTART' } | { type: 'STOP' },
  },
  actors: {
    train: notProvided<TrainOutput, { batch: TrainBatch }>('learner', 'train'),
    /** Hands the new version to the weight store (which broadcasts it to samplers). */
    publish: notProvided<void, { output: TrainOutput; batch: TrainBatch }>('learner', 'publish'),
    snapshot: notProvided<void, void>('learner', 'snapshot'),
    /** Restarts the worker from the last checkpoint. */
    restart: notProvided<void, void>('learner', 'restart'),
  },
  actions: {
    ready: actionNotProvided('learner', 'ready'),
    reportFailure: actionNotProvided<{ batch: TrainBatch | null; error: string }>('learner', 'reportFailure'),
    /** A batch arrived while the learner was not waiting for one: a protocol bug; the run stops. */
    busy: actionNotProvided<{ step: number }>('learner', 'busy'),
  },
}).createMachine({
  id: 'learner',
  context: { batch: null, output: null, error: null },
  initial: 'waitingForBatch',
  // `ready` (LEARNER_READY to the batcher) each time the learner becomes free: at its start, after a
  // publication, after a restart — never on its way back from a snapshot, which it took while free
  // (the batcher knew): a second LEARNER_READY there told a batcher that had since handed out the
  // next step that the learner, now training, was waiting.
  entry: 'ready',
  on: {
    // A batch for a learner that is not waiting would be lost: the run stops, naming it.
    TRAIN: { actions: { type: 'busy', params: ({ event }) => ({ step: event.batch.step }) } },
  },
  states: {
    waitingForBatch: {
      on: {
        TRAIN: {
          target: 'training',
          actions: assign({ batch: ({ event }) => event.batch, output: null, error: null }),
        },
        SNAPSHOT: 'snapshotting',
        STOP: 'stopped',
      },
    },
    training: {
      invoke: {
        src: 'train',
        input: ({ context }) => ({ batch: context.batch! }),
        onDone: { target: 'publishing', actions: assign({ output: ({ event }) => event.output }) },
        onError: { target: 'failed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    publishing: {
      invoke: {
        src: 'publish',
        input: ({ context }) => ({ output: context.output!, batch: context.batch! }),
        onDone: { target: 'waitingForBatch', actions: [assign({ batch: null }), 'ready'] },
        onError: { target: 'failed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    snapshotting: {
      invoke: {
        src: 'snapshot',
        onDone: 'waitingForBatch',
        onError: { target: 'failed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    failed: {
      entry: {
        type: 'reportFailure',
        params: ({ context }) => ({ batch: context.batch, error: context.error ?? 'unknown' }),
      },
      on: { RESTART: 'restarting', STOP: 'stopped' },
    },
    restarting: {
      invoke: {
        src: 'restart',
        onDone: { target: 'waitingForBatch', actions: [assign({ batch: null, output: null, error: null }), 'ready'] },
        onError: {
          target: 'failed',
          actions: assign({ error: ({ event }) => `restart failed: ${errorText(event.error)}` }),
        },
      },
    },
    stopped: { type: 'final' },
  },
});
