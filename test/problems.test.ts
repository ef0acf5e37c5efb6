import { describe, expect, it } from 'vitest';
import { Rng } from '../src/util/rng.js';
import { evalSet, generateProblem, solveChains, splitOf, checkDifficulty } from '../src/tasks/countdown/problems.js';
import { checkChain } from '../src/tasks/countdown/trace.js';

describe('countdown problems', () => {
  it('are deterministic for a seed', () => {
    const a = Array.from({ length: 20 }, (_, i) => generateProblem(new Rng(`p${i}`), 3 + (i % 4), 'train'));
    const b = Array.from({ length: 20 }, (_, i) => generateProblem(new Rng(`p${i}`), 3 + (i % 4), 'train'));
    expect(a).toEqual(b);
    expect(evalSet(7, 4, 30)).toEqual(evalSet(7, 4, 30));
    expect(evalSet(7, 4, 10)).toEqual(evalSet(7, 4, 30).slice(0, 10));
    expect(evalSet(8, 4, 10)).not.toEqual(evalSet(7, 4, 10));
  });

  it('are solvable: the witness chain reaches the target and the solver finds a solution', () => {
    const rng = new Rng(11);
    for (let i = 0; i < 200; i++) {
      const d = 3 + (i % 4);
      const p = generateProblem(rng, d, i % 2 ? 'train' : 'eval');
      expect(p.numbers).toHaveLength(d);
      expect(p.numbers.every((n) => n >= 1 && n <= 9)).toBe(true);
      expect(p.target).toBeGreaterThanOrEqual(1);
      expect(p.target).toBeLessThanOrEqual(99);
      expect(checkChain(p, p.witness)).toBe('ok');
      if (d <= 4) {
        const sols = solveChains(p, 8);
        expect(sols.length).toBeGreaterThan(0);
        for (const s of sols) expect(checkChain(p, s)).toBe('ok');
      }
    }
  });

  it('keeps held-out problems out of the training stream', () => {
    const rng = new Rng(5);
    for (let i = 0; i < 300; i++) {
      const p = generateProblem(rng, 3, 'train');
      expect(splitOf(p.numbers, p.target)).toBe('train');
    }
    for (const p of evalSet(0, 3, 100)) expect(splitOf(p.numbers, p.target)).toBe('eval');
    expect(new Set(evalSet(0, 3, 100).map((p) => p.id)).size).toBe(100);
  });

  it('rejects out-of-range difficulty with the flag name', () => {
    expect(() => checkDifficulty(2)).toThrow(/--difficulty.*3\.\.6/);
    expect(() => checkDifficulty(7)).toThrow(/--difficulty/);
  });
});
