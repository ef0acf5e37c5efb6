/**
 * Weight store: keeps the published versions (bounded; buffers live in the runtime's store) and
 * broadcasts each new one to the samplers. Versions must rise by exactly one.
 */
import { assign, setup } from 'xstate';
import { actionNotProvided } from './util.js';

export const weightStoreMachine = setup({
  types: {
    context: {} as { version: number },
    input: {} as { version: number },
    events: {} as { type: 'PUBLISHED'; version: number } | { type: 'STOP' },
  },
  actions: {
    broadcast: actionNotProvided<{ version: number }>('weightStore', 'broadcast'),
    versionError: actionNotProvided<{ have: number; got: number }>('weightStore', 'versionError'),
  },
}).createMachine({
  id: 'weightStore',
  context: ({ input }) => ({ version: input.version }),
  initial: 'serving',
  states: {
    serving: {
      on: {
        PUBLISHED: [
          {
            guard: ({ context, event }) => event.version === context.version + 1,
            actions: [
              assign({ version: ({ event }) => event.version }),
              { type: 'broadcast', params: ({ event }) => ({ version: event.version }) },
            ],
          },
          {
            actions: {
              type: 'versionError',
              params: ({ context, event }) => ({ have: context.version, got: event.version }),
            },
          },
        ],
        STOP: 'stopped',
      },
    },
    stopped: { type: 'final' },
  },
});
