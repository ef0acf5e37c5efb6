import { describe, expect, it } from 'vitest';
import { pickBudget } from '../src/curriculum/pickBudget.js';

const LADDER = [256, 512, 1024, 2048, 4096];

describe('pickBudget (E3.md: smallest B ≥ B0 with J(2B) ≤ κ·J(B))', () => {
  it("reproduces the paper's Countdown example: J = 0.06, 0.17, 0.23, 0.24, 0.24 → 1024", () => {
    const r = pickBudget(LADDER, [0.06, 0.17, 0.23, 0.24, 0.24], 1.2, 256);
    expect(r).toMatchObject({ budget: 1024, reason: 'rule' });
    // E3.md prints ratios 2.92, 1.38, 1.02, 1.00 from its unrounded J; from the rounded J they are:
    expect(r.ratios.map((x) => Number(x.ratio!.toFixed(2)))).toEqual([2.83, 1.35, 1.04, 1]);
  });

  it('respects the minimum budget B0 (rounded up into the ladder)', () => {
    expect(pickBudget(LADDER, [0.2, 0.21, 0.22, 0.23, 0.24], 1.2, 256).budget).toBe(256);
    expect(pickBudget(LADDER, [0.2, 0.21, 0.22, 0.23, 0.24], 1.2, 300).budget).toBe(512);
    expect(pickBudget(LADDER, [0.2, 0.21, 0.22, 0.23, 0.24], 1.2, 5000)).toMatchObject({ budget: 4096, reason: 'min-above-ladder' });
  });

  it('returns the largest budget when every doubling still gains more than κ×', () => {
    expect(pickBudget(LADDER, [0.01, 0.02, 0.04, 0.08, 0.16], 1.2, 256)).toMatchObject({ budget: 4096, reason: 'none-qualified' });
  });

  it('never calls a zero score saturated; all zero gives the largest budget', () => {
    expect(pickBudget(LADDER, [0, 0, 0, 0, 0], 1.2, 256)).toMatchObject({ budget: 4096, reason: 'all-zero' });
    // 0 → 0 is not "at most κ×": the first qualifying budget is the first with signal.
    expect(pickBudget(LADDER, [0, 0, 0.1, 0.11, 0.11], 1.2, 256)).toMatchObject({ budget: 1024, reason: 'rule' });
    expect(pickBudget(LADDER, [0, 0, 0.1, 0.11, 0.11], 1.2, 256).ratios[0]!.ratio).toBeNull();
  });

  it('boundary: a ratio exactly κ qualifies; unsorted input is fine; bad input is refused', () => {
    expect(pickBudget([512, 256, 1024], [0.12, 0.1, 0.2], 1.2, 0).budget).toBe(256);
    expect(() => pickBudget([256], [0.1, 0.2], 1.2, 0)).toThrow(/1 budgets and 2 scores/);
    expect(() => pickBudget([256], [0.1], 0.9, 0)).toThrow(/kappa must be ≥ 1/);
  });
});
