/**
 * Batcher: holds scored groups (bounded) and hands the learner its next TrainBatch once every
 * group of that step has arrived and the learner is waiting. The queue, the accounting and the
 * staleness rules live in the runtime (src/runtime/batcher.ts, pure); the machine decides when.
 */
import { assign, setup } from 'xstate';
import type { ScoredGroup } from '../src/runtime/messages.js';
import { actionNotProvided, errorText, guardNotProvided, notProvided } from './util.js';

export const batcherMachine = setup({
  types: {
    context: {} as { learnerWaiting: boolean; error: string | null },
    events: {} as
      | { type: 'GROUP'; group: ScoredGroup }
      | { type: 'LEARNER_READY' }
      | { type: 'POKE' }
      | { type: 'STOP' },
  },
  actors: {
    /** Forms the batch (accounting, staleness checks) and sends it to the learner. */
    dispatch: notProvided<void, void>('batcher', 'dispatch'),
  },
  actions: {
    enqueue: actionNotProvided<{ group: ScoredGroup }>('batcher', 'enqueue'),
    /** Forming or sending a batch threw (an invariant broke): abort the run. */
    broken: actionNotProvided<{ error: string }>('batcher', 'broken'),
  },
  guards: {
    /** All groups of the learner's next step are here (or a failed step's batch waits for a retry). */
    batchComplete: guardNotProvided('batcher', 'batchComplete'),
  },
}).createMachine({
  id: 'batcher',
  context: { learnerWaiting: false, error: null },
  initial: 'collecting',
  on: {
    GROUP: { actions: { type: 'enqueue', params: ({ event }) => ({ group: event.group }) } },
    LEARNER_READY: { actions: assign({ learnerWaiting: true }) },
    STOP: '.stopped',
  },
  states: {
    collecting: {
      on: {
        /** Something outside changed (a checkpoint ended): look again. */
        POKE: {},
      },
      always: { guard: ({ context }) => context.learnerWaiting, target: 'checking' },
    },
    checking: {
      // Transient: waits in `collecting` unless a batch can go now.
      always: [{ guard: 'batchComplete', target: 'dispatching' }, { target: 'waitingForGroups' }],
    },
    waitingForGroups: {
      on: {
        GROUP: { target: 'checking', actions: { type: 'enqueue', params: ({ event }) => ({ group: event.group }) } },
        POKE: 'checking',
        // looks again: a wake-up is never lost, whatever the order of the learner's and the groups' news
        LEARNER_READY: { target: 'checking', actions: assign({ learnerWaiting: true }) },
      },
    },
    dispatching: {
      invoke: {
        src: 'dispatch',
        onDone: { target: 'collecting', actions: assign({ learnerWaiting: false }) },
        onError: { target: 'broken', actions: assign({ error: ({ event }) => `dispatch: ${errorText(event.error)}` }) },
      },
    },
    /** A delivery threw (a bug, not a fault: faults are handled above): the run aborts. */
    broken: {
      entry: { type: 'broken', params: ({ context }) => ({ error: context.error ?? 'unknown' }) },
      type: 'final',
    },
    stopped: { type: 'final' },
  },
});
