import { describe, expect, it } from 'vitest';
import { trainBudget } from '../src/report/html.js';

describe('report: the training budget beside the last evaluation', () => {
  const config = {
    curriculum: {
      stages: [
        { budgetTokens: 96, steps: 30 },
        { budgetTokens: 128, steps: 30 },
      ],
    },
  };
  it("is the budget the run trained at before that evaluation, not the config's largest", () => {
    // --max-steps 30: every step at 96; the stage line written as the run was cut does not count
    const metrics = [
      ...Array.from({ length: 30 }, (_, i) => ({ step: i + 1, budgetTokens: 96 })),
      { type: 'stage', step: 30, stage: 1 },
    ];
    expect(trainBudget({ config, metrics, evals: [{ step: 30 }] })).toBe(96);
    const more = [...metrics, ...Array.from({ length: 30 }, (_, i) => ({ step: 31 + i, budgetTokens: 128 }))];
    expect(trainBudget({ config, metrics: more, evals: [{ step: 30 }, { step: 60 }] })).toBe(128);
    expect(trainBudget({ config, metrics: more, evals: [{ step: 30 }] })).toBe(96);
    expect(trainBudget({ config, metrics: [], evals: [] })).toBe(128); // nothing trained yet: the config
  });
});
