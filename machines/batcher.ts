/**
 * Batcher: holds scored groups (bounded) and hands the learner its next TrainBatch when the gate
 * says so — the learner waiting and that step's groups all here, or a failed step's batch to train
 * again (core/topology `learnerNext`, the rule the virtual clock asks too). The queue, the
 * accounting and the staleness rules live in src/core; the machine decides when to look.
 */
import { assign, setup } from 'xstate';
import type { ScoredGroup } from '../src/runtime/messages.js';
import { actionNotProvided, errorText, guardNotProvided, notProvided } from './util.js';

export const batcherMachine = setup({
  types: {
    context: {} as { error: string | null },
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
    /** The learner may be given a batch now (core/topology learnerNext: it reads the learner's own state). */
    batchReady: guardNotProvided('batcher', 'batchReady'),
  },
}).createMachine({
  id: 'batcher',
  context: { error: null },
  initial: 'waiting',
  on: {
    GROUP: { actions: { type: 'enqueue', params: ({ event }) => ({ group: event.group }) } },
    STOP: '.stopped',
  },
  states: {
    waiting: {
      // Looks again after every event — a group, the learner's LEARNER_READY, a POKE when a
      // checkpoint ends — and asks the gate, which reads the learner's state itself: no second
      // record of it here, so no wake-up is lost whatever the order of the news.
      always: { guard: 'batchReady', target: 'dispatching' },
      on: { LEARNER_READY: {}, POKE: {} },
    },
    dispatching: {
      invoke: {
        src: 'dispatch',
        onDone: 'waiting',
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
