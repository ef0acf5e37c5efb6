import { describe, expect, it } from 'vitest';
import { passAtK, meanPassAtK } from '../src/rl/passk.js';

function binom(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

describe('pass@k (unbiased estimator)', () => {
  it('matches exact values', () => {
    expect(passAtK(4, 1, 1)).toBeCloseTo(0.25, 12);
    expect(passAtK(4, 1, 4)).toBe(1);
    expect(passAtK(4, 0, 2)).toBe(0);
    expect(passAtK(5, 2, 2)).toBeCloseTo(1 - 3 / 10, 12); // 1 − C(3,2)/C(5,2)
    expect(passAtK(10, 3, 4)).toBeCloseTo(1 - binom(7, 4) / binom(10, 4), 12);
    expect(passAtK(8, 8, 1)).toBe(1);
  });

  it('is stable for large n', () => {
    expect(passAtK(1000, 1, 1)).toBeCloseTo(0.001, 12);
    expect(passAtK(1000, 10, 100)).toBeCloseTo(1 - binom(990, 100) / binom(1000, 100), 9);
  });

  it('averages over problems and rejects impossible arguments', () => {
    expect(
      meanPassAtK(
        [
          [4, 1],
          [4, 3],
        ],
        1,
      ),
    ).toBeCloseTo(0.5, 12);
    expect(() => passAtK(3, 1, 4)).toThrow(/k <= n/);
    expect(() => passAtK(3, 4, 1)).toThrow(/c <= n/);
  });
});
