/**
 * Supervisor: on an actor failure, restarts it while its restart budget lasts; past the budget
 * the run fails (with the error), never silently.
 */
import { assign, setup } from 'xstate';
import { afterFailure } from '../src/core/supervision.js';
import type { FaultRole } from '../src/core/roles.js';
import { actionNotProvided } from './util.js';

export interface Failure {
  actor: string;
  role: FaultRole;
  error: string;
}

export const supervisorMachine = setup({
  types: {
    context: {} as { restarts: Record<string, number>; restartsMax: number; last: Failure | null },
    input: {} as { restartsMax: number; restarts: Record<string, number> },
    events: {} as ({ type: 'FAILED' } & Failure) | { type: 'STOP' },
  },
  actions: {
    restart: actionNotProvided<Failure>('supervisor', 'restart'),
    giveUp: actionNotProvided<Failure & { restarts: number }>('supervisor', 'giveUp'),
  },
  guards: {
    withinBudget: ({ context, event }) =>
      event.type === 'FAILED' &&
      afterFailure((context.restarts[event.actor] ?? 0) + 1, context.restartsMax) === 'restart',
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input }) => ({ restarts: { ...input.restarts }, restartsMax: input.restartsMax, last: null }),
  initial: 'watching',
  states: {
    watching: {
      on: {
        FAILED: [
          {
            guard: 'withinBudget',
            actions: [
              assign({
                restarts: ({ context, event }) => ({
                  ...context.restarts,
                  [event.actor]: (context.restarts[event.actor] ?? 0) + 1,
                }),
                last: ({ event }) => ({ actor: event.actor, role: event.role, error: event.error }),
              }),
              {
                type: 'restart',
                params: ({ event }) => ({ actor: event.actor, role: event.role, error: event.error }),
              },
            ],
          },
          {
            target: 'gaveUp',
            actions: {
              type: 'giveUp',
              params: ({ context, event }) => ({
                actor: event.actor,
                role: event.role,
                error: event.error,
                restarts: context.restarts[event.actor] ?? 0,
              }),
            },
          },
        ],
        STOP: 'stopped',
      },
    },
    gaveUp: { type: 'final' },
    stopped: { type: 'final' },
  },
});
