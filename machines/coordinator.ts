/**
 * Coordinator: starts the topology, counts learner steps, checkpoints after a step when the
 * topology's step says one is due (core/topology `stepDone`: every multiple of N, counted from 0 as
 * on the virtual clock, and the last step) and on interrupt, and stops everything at the end or on
 * a fatal error.
 */
import { assign, setup } from 'xstate';
import { errorText, notProvided } from './util.js';

export const coordinatorMachine = setup({
  types: {
    context: {} as {
      step: number;
      maxSteps: number;
      interrupted: boolean;
      error: string | null;
    },
    input: {} as { step: number; maxSteps: number },
    events: {} as
      | { type: 'STEP_DONE'; step: number; checkpoint: boolean }
      | { type: 'INTERRUPT' }
      | { type: 'ABORT'; error: string },
  },
  actors: {
    start: notProvided<void, void>('coordinator', 'start'),
    checkpoint: notProvided<void, { step: number }>('coordinator', 'checkpoint'),
    stop: notProvided<void, { reason: 'finished' | 'interrupted' | 'failed' }>('coordinator', 'stop'),
  },
  guards: {
    finished: ({ context }) => context.step >= context.maxSteps,
  },
}).createMachine({
  id: 'coordinator',
  context: ({ input }) => ({ ...input, interrupted: false, error: null }),
  initial: 'starting',
  on: {
    ABORT: { target: '.failing', actions: assign({ error: ({ event }) => event.error }) },
  },
  states: {
    starting: {
      invoke: {
        src: 'start',
        onDone: 'running',
        onError: { target: 'failing', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
      // An interrupt while the topology starts is kept: `running` checkpoints and stops at once.
      on: { INTERRUPT: { actions: assign({ interrupted: true }) } },
    },
    running: {
      always: [
        { guard: 'finished', target: 'checkpointing' },
        { guard: ({ context }) => context.interrupted, target: 'checkpointing' },
      ],
      on: {
        STEP_DONE: [
          {
            guard: ({ event }) => event.checkpoint,
            target: 'checkpointing',
            actions: assign({ step: ({ event }) => event.step }),
          },
          { actions: assign({ step: ({ event }) => event.step }) },
        ],
        INTERRUPT: { target: 'checkpointing', actions: assign({ interrupted: true }) },
      },
    },
    checkpointing: {
      invoke: {
        src: 'checkpoint',
        input: ({ context }) => ({ step: context.step }),
        onDone: [
          {
            guard: ({ context }) => context.interrupted || context.step >= context.maxSteps,
            target: 'stopping',
          },
          'running',
        ],
        onError: {
          target: 'failing',
          actions: assign({ error: ({ event }) => `checkpoint failed: ${errorText(event.error)}` }),
        },
      },
      on: {
        STEP_DONE: { actions: assign({ step: ({ event }) => event.step }) },
        INTERRUPT: { actions: assign({ interrupted: true }) },
      },
    },
    stopping: {
      invoke: {
        src: 'stop',
        input: ({ context }) => ({ reason: context.interrupted ? ('interrupted' as const) : ('finished' as const) }),
        onDone: 'done',
        onError: 'failed',
      },
    },
    failing: {
      invoke: { src: 'stop', input: () => ({ reason: 'failed' as const }), onDone: 'failed', onError: 'failed' },
    },
    done: { type: 'final' },
    failed: { type: 'final' },
  },
});
