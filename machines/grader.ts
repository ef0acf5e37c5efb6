/**
 * Grader: turns a verified group into rewards and group-normalised advantages. A grading that
 * fails (or times out) reports to the supervisor and, once restarted, grades the same group again:
 * nothing it held is lost.
 */
import type { Overlong } from '../src/rl/overlong.js';
import { assign, setup } from 'xstate';
import type { ScoredGroup, VerdictMsg } from '../src/runtime/messages.js';
import type { VerifyJob } from './verifier.js';
import { actionNotProvided, errorText, notProvided } from './util.js';

export interface GradeJob {
  job: VerifyJob;
  verdicts: VerdictMsg[] | null;
  /** The step's token budget and rollout.overlong, for the soft overlong punishment (absent: none). */
  shaping?: { budgetTokens: number; overlong: Overlong };
}

export const graderMachine = setup({
  types: {
    context: {} as { pending: GradeJob[]; queueMax: number; graded: ScoredGroup | null; error: string | null },
    input: {} as { queueMax: number },
    events: {} as { type: 'GRADE'; job: GradeJob } | { type: 'RESTART' } | { type: 'STOP' },
  },
  actors: {
    grade: notProvided<ScoredGroup, { job: GradeJob }>('grader', 'grade'),
    deliver: notProvided<void, { group: ScoredGroup }>('grader', 'deliver'),
  },
  actions: {
    overflow: actionNotProvided<{ job: GradeJob }>('grader', 'overflow'),
    reportFailure: actionNotProvided<{ job: GradeJob | null; error: string }>('grader', 'reportFailure'),
    /** An internal error (not a grading fault): abort the run. */
    broken: actionNotProvided<{ error: string }>('grader', 'broken'),
  },
  guards: {
    hasWork: ({ context }) => context.pending.length > 0,
    roomLeft: ({ context }) => context.pending.length < context.queueMax,
  },
}).createMachine({
  id: 'grader',
  context: ({ input }) => ({ pending: [], queueMax: input.queueMax, graded: null, error: null }),
  initial: 'idle',
  on: {
    GRADE: [
      { guard: 'roomLeft', actions: assign({ pending: ({ context, event }) => [...context.pending, event.job] }) },
      { actions: { type: 'overflow', params: ({ event }) => ({ job: event.job }) } },
    ],
    STOP: '.stopped',
  },
  states: {
    idle: { always: { guard: 'hasWork', target: 'grading' } },
    grading: {
      invoke: {
        src: 'grade',
        input: ({ context }) => ({ job: context.pending[0]! }),
        onDone: {
          target: 'delivering',
          actions: assign({ pending: ({ context }) => context.pending.slice(1), graded: ({ event }) => event.output }),
        },
        // the job stays first in `pending`: graded again after the restart
        onError: { target: 'failed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    failed: {
      entry: {
        type: 'reportFailure',
        params: ({ context }) => ({ job: context.pending[0] ?? null, error: context.error ?? 'unknown' }),
      },
      on: { RESTART: { target: 'idle', actions: assign({ error: null }) } },
    },
    delivering: {
      invoke: {
        src: 'deliver',
        input: ({ context }) => ({ group: context.graded! }),
        onDone: { target: 'idle', actions: assign({ graded: null }) },
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
