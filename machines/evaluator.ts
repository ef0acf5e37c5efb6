/** Evaluator: measures the policy at a version (pass@k per budget) on a worker that holds a copy. */
import { assign, setup } from 'xstate';
import { errorText, notProvided } from './util.js';

export interface EvaluateRequest {
  version: number;
  budgets: number[];
}

export const evaluatorMachine = setup({
  types: {
    context: {} as { request: EvaluateRequest | null; error: string | null },
    events: {} as { type: 'EVALUATE'; request: EvaluateRequest } | { type: 'STOP' },
  },
  actors: {
    evaluate: notProvided<unknown, { request: EvaluateRequest }>('evaluator', 'evaluate'),
  },
  actions: {
    report: (_, _p: { request: EvaluateRequest; result: unknown }) => {},
    reportFailure: (_, _p: { error: string }) => {},
  },
}).createMachine({
  id: 'evaluator',
  context: { request: null, error: null },
  initial: 'idle',
  states: {
    idle: { on: { EVALUATE: { target: 'evaluating', actions: assign({ request: ({ event }) => event.request }) }, STOP: 'stopped' } },
    evaluating: {
      invoke: {
        src: 'evaluate', input: ({ context }) => ({ request: context.request! }),
        onDone: { target: 'idle', actions: { type: 'report', params: ({ context, event }) => ({ request: context.request!, result: event.output }) } },
        onError: { target: 'idle', actions: { type: 'reportFailure', params: ({ event }) => ({ error: errorText(event.error) }) } },
      },
    },
    stopped: { type: 'final' },
  },
});
