/**
 * Curriculum: walks the stages of the config. The stage state (stage index, steps in it, pass
 * rates, chosen budgets) has one owner, curriculum/controller.ts's CurriculumController (checkpointed
 * with the run); this machine holds only where it is and asks the owner through its guards. With
 * the coupled rule (E3.md) each stage starts in `measuring`: the injected `measure` effect
 * measures J over the budget ladder with the current policy and picks the stage's budget;
 * `running` stays until the injected `stageDone` guard (step limit, pass-rate threshold or
 * plateau) says the stage is over, and `stageChanged` moves the owner to the next stage.
 */
import { and, not, setup } from 'xstate';
import { actionNotProvided, errorText, guardNotProvided, notProvided } from './util.js';

export interface Stage {
  difficulty?: number;
  budgetTokens?: number;
  steps: number;
}

export const curriculumMachine = setup({
  types: {
    context: {} as { error: string | null; measureFirst: boolean },
    input: {} as { measureFirst?: boolean },
    events: {} as { type: 'STEP_DONE' } | { type: 'STOP' },
  },
  actors: {
    /** Measures J(B) over the ladder for the current stage and fixes its budget. */
    measure: notProvided<void, void>('curriculum', 'measure'),
  },
  actions: {
    /** Moves the stage state (its owner, curriculum/controller.ts) to the next stage and announces it. */
    stageChanged: actionNotProvided('curriculum', 'stageChanged'),
    reportFailure: actionNotProvided<{ error: string }>('curriculum', 'reportFailure'),
  },
  guards: {
    /** The stage is over: its steps are used up, its pass rate reached the threshold or plateaued. */
    stageDone: guardNotProvided('curriculum', 'stageDone'),
    lastStage: guardNotProvided('curriculum', 'lastStage'),
    /** Each stage starts with a measurement (coupled curriculum). */
    measuresStages: guardNotProvided('curriculum', 'measuresStages'),
    measureFirst: ({ context }) => context.measureFirst,
  },
}).createMachine({
  id: 'curriculum',
  context: ({ input }) => ({ error: null, measureFirst: input.measureFirst ?? false }),
  initial: 'starting',
  on: { STOP: '.finished' },
  states: {
    starting: {
      always: [{ guard: 'measureFirst', target: 'measuring' }, { target: 'running' }],
    },
    measuring: {
      invoke: {
        src: 'measure',
        onDone: 'running',
        onError: {
          target: 'failed',
          actions: { type: 'reportFailure', params: ({ event }) => ({ error: errorText(event.error) }) },
        },
      },
    },
    running: {
      // The step is counted by the stage state's owner; the event makes the guards below be asked again.
      on: { STEP_DONE: { actions: [] } },
      always: [
        { guard: and(['stageDone', 'lastStage']), target: 'finished' },
        { guard: and(['stageDone', 'measuresStages']), target: 'measuring', actions: 'stageChanged' },
        { guard: and(['stageDone', not('measuresStages')]), actions: 'stageChanged' },
      ],
    },
    failed: { type: 'final' },
    finished: { type: 'final' },
  },
});
