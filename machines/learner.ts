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
  },
}).createMachine({
  id: 'learner',
  context: { batch: null, output: null, error: null },
  initial: 'waitingForBatch',
  states: {
    waitingForBatch: {
      entry: 'ready',
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
        onDone: { target: 'waitingForBatch', actions: assign({ batch: null }) },
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
        onDone: { target: 'waitingForBatch', actions: assign({ batch: null, output: null, error: null }) },
        onError: {
          target: 'failed',
          actions: assign({ error: ({ event }) => `restart failed: ${errorText(event.error)}` }),
        },
      },
    },
    stopped: { type: 'final' },
  },
});
