/** Evaluator: measures the policy at a version (pass@k per budget) on a worker that holds a copy. */
import { assign, setup } from 'xstate';
import { actionNotProvided, errorText, notProvided } from './util.js';

export interface EvaluateRequest {
  version: number;
  budgets: number[];
}

export interface EvaluateResult {
  /** The version that was actually evaluated (≥ the requested one). */
  version: number;
  /** Per budget: pass@k and trace statistics (src/eval/countdown.ts BudgetRow). */
  rows: { budget: number; passAt: Record<string, number>; meanLength: number }[];
}

export const evaluatorMachine = setup({
  types: {
    context: {} as { request: EvaluateRequest | null; error: string | null },
    events: {} as { type: 'EVALUATE'; request: EvaluateRequest } | { type: 'STOP' },
  },
  actors: {
    evaluate: notProvided<EvaluateResult, { request: EvaluateRequest }>('evaluator', 'evaluate'),
  },
  actions: {
    report: actionNotProvided<{ request: EvaluateRequest; result: EvaluateResult }>('evaluator', 'report'),
    reportFailure: actionNotProvided<{ request: EvaluateRequest; error: string }>('evaluator', 'reportFailure'),
  },
}).createMachine({
  id: 'evaluator',
  context: { request: null, error: null },
  initial: 'idle',
  states: {
    idle: {
      on: {
        EVALUATE: { target: 'evaluating', actions: assign({ request: ({ event }) => event.request }) },
        STOP: 'stopped',
      },
    },
    evaluating: {
      invoke: {
        src: 'evaluate',
        input: ({ context }) => ({ request: context.request! }),
        onDone: {
          target: 'idle',
          actions: {
            type: 'report',
            params: ({ context, event }) => ({ request: context.request!, result: event.output }),
          },
        },
        onError: {
          target: 'idle',
          actions: {
            type: 'reportFailure',
            params: ({ context, event }) => ({ request: context.request!, error: errorText(event.error) }),
          },
        },
      },
    },
    stopped: { type: 'final' },
  },
});
