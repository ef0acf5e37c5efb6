/**
 * Curriculum: walks the stages of the config. The stage state (stage index, steps in it, pass
 * rates, chosen budgets) has one owner, curriculum/controller.ts's CurriculumController (checkpointed
 * with the run); this machine holds only where it is and asks the owner through its guards. It is
 * run by src/steps/curriculum.ts on both clocks, which turns its actions into
 * effects. With the coupled rule (E3.md) each stage starts in `measuring`: its entry asks for a
 * measurement of J over the budget ladder with the current policy (the `measure` action; the clock
 * runs the generation), and MEASURED (the stage's budget picked) or MEASURE_FAILED ends it.
 * `running` stays until the injected `stageDone` guard (step limit, pass-rate threshold or
 * plateau) says the stage is over, and `stageChanged` moves the owner to the next stage.
 */
import { and, not, setup } from 'xstate';
import { actionNotProvided, guardNotProvided } from './util.js';

export interface Stage {
  difficulty?: number;
  budgetTokens?: number;
  steps: number;
}

export const curriculumMachine = setup({
  types: {
    context: {} as { error: string | null; measureFirst: boolean },
    input: {} as { measureFirst?: boolean },
    events: {} as
      | { type: 'STEP_DONE' }
      | { type: 'MEASURED' }
      | { type: 'MEASURE_FAILED'; error: string }
      | { type: 'STOP' },
  },
  actions: {
    /** Asks for J(B) over the ladder on the current stage's data (its answer is MEASURED or MEASURE_FAILED). */
    measure: actionNotProvided('curriculum', 'measure'),
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
      entry: 'measure',
      on: {
        MEASURED: 'running',
        MEASURE_FAILED: {
          target: 'failed',
          actions: { type: 'reportFailure', params: ({ event }) => ({ error: event.error }) },
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
