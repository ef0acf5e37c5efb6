/** Sampler: a worker thread holding a policy copy; syncs weights, generates a request's groups, hands them on. */
import { assign, setup } from 'xstate';
import type { Generate, Rollouts } from '../src/runtime/messages.js';
import { actionNotProvided, errorText, notProvided } from './util.js';

export const samplerMachine = setup({
  types: {
    context: {} as { id: string; request: Generate | null; result: Rollouts | null; error: string | null },
    input: {} as { id: string },
    events: {} as { type: 'GENERATE'; request: Generate } | { type: 'RESTART' } | { type: 'STOP' },
  },
  actors: {
    syncWeights: notProvided<void, { id: string; request: Generate }>('sampler', 'syncWeights'),
    generate: notProvided<Rollouts, { id: string; request: Generate }>('sampler', 'generate'),
    /** Resolves once downstream accepted the rollouts (bounded queue: backpressure). */
    deliver: notProvided<void, { id: string; result: Rollouts }>('sampler', 'deliver'),
    restart: notProvided<void, { id: string }>('sampler', 'restart'),
  },
  actions: {
    reportFailure: actionNotProvided<{ id: string; request: Generate | null; error: string }>(
      'sampler',
      'reportFailure',
    ),
    becameIdle: actionNotProvided<{ id: string }>('sampler', 'becameIdle'),
  },
}).createMachine({
  id: 'sampler',
  context: ({ input }) => ({ id: input.id, request: null, result: null, error: null }),
  initial: 'idle',
  states: {
    idle: {
      entry: { type: 'becameIdle', params: ({ context }) => ({ id: context.id }) },
      on: {
        GENERATE: {
          target: 'syncingWeights',
          actions: assign({ request: ({ event }) => event.request, result: null, error: null }),
        },
        STOP: 'stopped',
      },
    },
    syncingWeights: {
      invoke: {
        src: 'syncWeights',
        input: ({ context }) => ({ id: context.id, request: context.request! }),
        onDone: 'generating',
        onError: { target: 'failed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    generating: {
      invoke: {
        src: 'generate',
        input: ({ context }) => ({ id: context.id, request: context.request! }),
        onDone: { target: 'delivering', actions: assign({ result: ({ event }) => event.output }) },
        onError: { target: 'failed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    delivering: {
      invoke: {
        src: 'deliver',
        input: ({ context }) => ({ id: context.id, result: context.result! }),
        onDone: { target: 'idle', actions: assign({ request: null, result: null }) },
        onError: { target: 'failed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    failed: {
      entry: {
        type: 'reportFailure',
        params: ({ context }) => ({ id: context.id, request: context.request, error: context.error ?? 'unknown' }),
      },
      on: { RESTART: 'restarting', STOP: 'stopped' },
    },
    restarting: {
      invoke: {
        src: 'restart',
        input: ({ context }) => ({ id: context.id }),
        onDone: { target: 'idle', actions: assign({ request: null, result: null, error: null }) },
        onError: {
          target: 'failed',
          actions: assign({ error: ({ event }) => `restart failed: ${errorText(event.error)}` }),
        },
      },
    },
    stopped: { type: 'final' },
  },
});
