/**
 * Curriculum: walks the stage list of the config (difficulty, budget, steps). The coupled
 * budget rule of E3.md replaces the fixed list in a later issue; the machine's shape stays.
 */
import { and, assign, setup } from 'xstate';

export interface Stage {
  difficulty: number;
  budgetTokens: number;
  steps: number;
}

export const curriculumMachine = setup({
  types: {
    context: {} as { stages: Stage[]; stage: number; stepsInStage: number },
    input: {} as { stages: Stage[]; stage: number; stepsInStage: number },
    events: {} as { type: 'STEP_DONE' } | { type: 'STOP' },
  },
  actions: {
    stageChanged: (_, _p: { stage: number; difficulty: number; budgetTokens: number }) => {},
  },
  guards: {
    stageComplete: ({ context }) => context.stepsInStage >= context.stages[context.stage]!.steps,
    lastStage: ({ context }) => context.stage >= context.stages.length - 1,
  },
}).createMachine({
  id: 'curriculum',
  context: ({ input }) => ({ ...input }),
  initial: 'running',
  states: {
    running: {
      on: { STEP_DONE: { actions: assign({ stepsInStage: ({ context }) => context.stepsInStage + 1 }) }, STOP: 'finished' },
      always: [
        { guard: and(['stageComplete', 'lastStage']), target: 'finished' },
        {
          guard: 'stageComplete',
          actions: [
            assign({ stage: ({ context }) => context.stage + 1, stepsInStage: 0 }),
            { type: 'stageChanged', params: ({ context }) => ({ stage: context.stage, ...context.stages[context.stage]! }) },
          ],
        },
      ],
    },
    finished: { type: 'final' },
  },
});
