/**
 * Verifier: takes one group at a time and runs the task's verifier in the piscina pool, with a
 * timeout per attempt and a bounded number of attempts; a group that fails every attempt is
 * handed on marked invalid (its rollouts are dropped-invalid, never lost).
 */
import { assign, setup } from 'xstate';
import type { Rollouts, VerdictMsg } from '../src/runtime/messages.js';
import { afterVerifyFailure } from '../src/core/supervision.js';
import { actionNotProvided, errorText, notProvided } from './util.js';

export interface VerifyJob {
  jobId: string;
  step: number;
  problemId: string;
  rollouts: Rollouts['rollouts'];
}

export const verifierMachine = setup({
  types: {
    context: {} as {
      id: string;
      job: VerifyJob | null;
      attempts: number;
      attemptsMax: number;
      verdicts: VerdictMsg[] | null;
      error: string | null;
    },
    input: {} as { id: string; attemptsMax: number },
    events: {} as { type: 'VERIFY'; job: VerifyJob } | { type: 'STOP' },
  },
  actors: {
    verify: notProvided<VerdictMsg[], { id: string; job: VerifyJob; attempt: number }>('verifier', 'verify'),
    deliver: notProvided<void, { job: VerifyJob; verdicts: VerdictMsg[] | null }>('verifier', 'deliver'),
  },
  actions: {
    becameIdle: actionNotProvided<{ id: string }>('verifier', 'becameIdle'),
    reportFailure: actionNotProvided<{ id: string; job: VerifyJob; error: string }>('verifier', 'reportFailure'),
    /** An internal error (not a verification fault): abort the run. */
    broken: actionNotProvided<{ error: string }>('verifier', 'broken'),
  },
  guards: {
    attemptsLeft: ({ context }) => afterVerifyFailure(context.attempts, context.attemptsMax) === 'retry',
  },
}).createMachine({
  id: 'verifier',
  context: ({ input }) => ({
    id: input.id,
    job: null,
    attempts: 0,
    attemptsMax: input.attemptsMax,
    verdicts: null,
    error: null,
  }),
  initial: 'idle',
  states: {
    idle: {
      entry: { type: 'becameIdle', params: ({ context }) => ({ id: context.id }) },
      on: {
        VERIFY: {
          target: 'verifying',
          actions: assign({ job: ({ event }) => event.job, attempts: 0, verdicts: null, error: null }),
        },
        STOP: 'stopped',
      },
    },
    verifying: {
      entry: assign({ attempts: ({ context }) => context.attempts + 1 }),
      invoke: {
        src: 'verify',
        input: ({ context }) => ({ id: context.id, job: context.job!, attempt: context.attempts }),
        onDone: { target: 'delivering', actions: assign({ verdicts: ({ event }) => event.output }) },
        onError: { target: 'failed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    failed: {
      entry: {
        type: 'reportFailure',
        params: ({ context }) => ({ id: context.id, job: context.job!, error: context.error ?? 'unknown' }),
      },
      // A short pause before the next attempt (the pool replaces a crashed or aborted thread).
      after: {
        20: [
          { guard: 'attemptsLeft', target: 'verifying' },
          { target: 'delivering', actions: assign({ verdicts: null }) },
        ],
      },
    },
    delivering: {
      invoke: {
        src: 'deliver',
        input: ({ context }) => ({ job: context.job!, verdicts: context.verdicts }),
        onDone: { target: 'idle', actions: assign({ job: null, verdicts: null }) },
        onError: { target: 'broken', actions: assign({ error: ({ event }) => `deliver: ${errorText(event.error)}` }) },
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
