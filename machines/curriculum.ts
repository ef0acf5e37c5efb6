/**
 * Curriculum: walks the stages of the config. With the coupled rule (E3.md) each stage starts
 * in `measuring`: the injected `measure` effect measures J over the budget ladder with the
 * current policy and picks the stage's budget; `running` counts learner steps until the injected
 * `stageDone` guard (step limit, pass-rate threshold or plateau) moves it to the next stage.
 */
import { and, assign, not, setup } from 'xstate';
import { actionNotProvided, errorText, guardNotProvided, notProvided } from './util.js';

export interface Stage {
  difficulty?: number;
  budgetTokens?: number;
  steps: number;
}

export const curriculumMachine = setup({
  types: {
    context: {} as {
      stages: Stage[];
      stage: number;
      stepsInStage: number;
      error: string | null;
      measureFirst: boolean;
    },
    input: {} as { stages: Stage[]; stage: number; stepsInStage: number; measureFirst?: boolean },
    events: {} as { type: 'STEP_DONE' } | { type: 'STOP' },
  },
  actors: {
    /** Measures J(B) over the ladder for the stage and fixes its budget. */
    measure: notProvided<void, { stage: number }>('curriculum', 'measure'),
  },
  actions: {
    stageChanged: actionNotProvided<{ stage: number }>('curriculum', 'stageChanged'),
    reportFailure: actionNotProvided<{ error: string }>('curriculum', 'reportFailure'),
  },
  guards: {
    /** The stage's steps are used up (or, when injected, its pass rate reached the threshold or plateaued). */
    stageDone: ({ context }) => context.stepsInStage >= context.stages[context.stage]!.steps,
    lastStage: ({ context }) => context.stage >= context.stages.length - 1,
    /** Each stage starts with a measurement (coupled curriculum). */
    measuresStages: guardNotProvided('curriculum', 'measuresStages'),
    measureFirst: ({ context }) => context.measureFirst,
  },
}).createMachine({
  id: 'curriculum',
  context: ({ input }) => ({
    stages: input.stages,
    stage: input.stage,
    stepsInStage: input.stepsInStage,
    error: null,
    measureFirst: input.measureFirst ?? false,
  }),
  initial: 'starting',
  on: { STOP: '.finished' },
  states: {
    starting: {
      always: [{ guard: 'measureFirst', target: 'measuring' }, { target: 'running' }],
    },
    measuring: {
      invoke: {
        src: 'measure',
        input: ({ context }) => ({ stage: context.stage }),
        onDone: 'running',
        onError: {
          target: 'failed',
          actions: { type: 'reportFailure', params: ({ event }) => ({ error: errorText(event.error) }) },
        },
      },
    },
    running: {
      on: { STEP_DONE: { actions: assign({ stepsInStage: ({ context }) => context.stepsInStage + 1 }) } },
      always: [
        { guard: and(['stageDone', 'lastStage']), target: 'finished' },
        {
          guard: and(['stageDone', 'measuresStages']),
          target: 'measuring',
          actions: [
            assign({ stage: ({ context }) => context.stage + 1, stepsInStage: 0 }),
            { type: 'stageChanged', params: ({ context }) => ({ stage: context.stage }) },
          ],
        },
        {
          guard: and(['stageDone', not('measuresStages')]),
          actions: [
            assign({ stage: ({ context }) => context.stage + 1, stepsInStage: 0 }),
            { type: 'stageChanged', params: ({ context }) => ({ stage: context.stage }) },
          ],
        },
      ],
    },
    failed: { type: 'final' },
    finished: { type: 'final' },
  },
});
