/** Grader: turns a verified group into rewards and group-normalised advantages. */
import { assign, setup } from 'xstate';
import type { ScoredGroup, VerdictMsg } from '../src/runtime/messages.js';
import type { VerifyJob } from './verifier.js';
import { notProvided } from './util.js';

export interface GradeJob {
  job: VerifyJob;
  verdicts: VerdictMsg[] | null;
}

export const graderMachine = setup({
  types: {
    context: {} as { pending: GradeJob[]; queueMax: number; graded: ScoredGroup | null },
    input: {} as { queueMax: number },
    events: {} as { type: 'GRADE'; job: GradeJob } | { type: 'STOP' },
  },
  actors: {
    grade: notProvided<ScoredGroup, { job: GradeJob }>('grader', 'grade'),
    deliver: notProvided<void, { group: ScoredGroup }>('grader', 'deliver'),
  },
  actions: {
    overflow: (_, _p: { job: GradeJob }) => {},
  },
  guards: {
    hasWork: ({ context }) => context.pending.length > 0,
    roomLeft: ({ context }) => context.pending.length < context.queueMax,
  },
}).createMachine({
  id: 'grader',
  context: ({ input }) => ({ pending: [], queueMax: input.queueMax, graded: null }),
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
        src: 'grade', input: ({ context }) => ({ job: context.pending[0]! }),
        onDone: { target: 'delivering', actions: assign({ pending: ({ context }) => context.pending.slice(1), graded: ({ event }) => event.output }) },
      },
    },
    delivering: {
      invoke: {
        src: 'deliver', input: ({ context }) => ({ group: context.graded! }),
        onDone: { target: 'idle', actions: assign({ graded: null }) },
      },
    },
    stopped: { type: 'final' },
  },
});
