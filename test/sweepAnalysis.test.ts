/** The grid analysis of issue #19: pooled pass@1, the paired Δ to the first combination, the η chart. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  analysisMarkdown,
  boundChart,
  combine,
  readCellFigures,
  type CellFigures,
} from '../src/experiments/sweepAnalysis.js';

const cell = (bound: number, correction: string, seed: number, pass1: number[]): CellFigures => ({
  name: `bound=${bound},correction=${correction},seed=${seed}`,
  params: { 'staleness.bound': bound, 'learner.correction': correction },
  seed,
  pass1,
  budget: 72,
  figures: { clipFrac: 0.1 * bound, essFraction: 1 },
});

describe('sweep analysis', () => {
  const cells = [
    cell(0, 'none', 0, [1, 0, 1, 0]),
    cell(0, 'none', 1, [1, 1, 0, 0]),
    cell(4, 'none', 0, [0, 0, 1, 0]),
    cell(4, 'none', 1, [0, 1, 0, 0]),
    cell(4, 'tis', 0, [1, 0, 1, 0]),
  ];
  it('pools seeds, pairs Δ with the first combination by seed and problem, averages the figures', () => {
    const c = combine(cells);
    expect(c.map((x) => x.key)).toEqual([
      'staleness.bound=0,learner.correction=none',
      'staleness.bound=4,learner.correction=none',
      'staleness.bound=4,learner.correction=tis',
    ]);
    expect(c[0]!.pass1.mean).toBe(0.5);
    expect(c[0]!.delta).toBeNull();
    expect(c[1]!.delta!.mean).toBe(-0.25); // every seed loses exactly one problem
    expect(c[1]!.delta!.lo).toBeLessThan(-0.25); // resampled over problems: which one was lost
    expect(c[1]!.delta!.hi).toBe(0);
    expect(c[2]!.delta!.mean).toBe(0); // seed 0 only: equal to its reference
    expect(c[1]!.pass1PerSeed).toEqual([0.25, 0.25]);
    expect(c[1]!.figures.clipFrac).toBeCloseTo(0.4, 12);
    const md = analysisMarkdown(c, 72);
    expect(md).toContain('| 4 | none | 2 | 0.250 [');
    expect(md).toContain('| -0.250 [');
  });

  it('with a last budget: pass@1 there, its paired Δ, the gain last − first paired within each cell, the ratio', () => {
    const two = (c: CellFigures, last: number[]): CellFigures => ({ ...c, pass1Last: last, budgetLast: 288 });
    const c = combine([
      two(cells[0]!, [1, 1, 1, 0]), // gain +0.25
      two(cells[1]!, [1, 1, 0, 0]), // gain 0
      two(cells[2]!, [0, 0, 1, 0]),
      two(cells[3]!, [1, 1, 0, 0]),
    ]);
    expect(c[0]!.last!.pass1.mean).toBe(0.625);
    expect(c[0]!.last!.gain.mean).toBe(0.125);
    expect(c[0]!.last!.ratio).toBe(1.25);
    expect(c[0]!.last!.delta).toBeNull();
    expect(c[1]!.last!.delta!.mean).toBe(-0.25); // (0.25 − 0.75 + 0.5 − 0.5) / 2
    const md = analysisMarkdown(c, 72, 288);
    expect(md).toContain('gain @288 − @72');
    expect(md).toContain('| 1.25 |');
    expect(analysisMarkdown(c, 72)).not.toContain('gain @'); // one budget: the table as before
  });

  it('draws one line per correction against η', () => {
    const html = boundChart('t', combine(cells))!;
    expect(html.match(/<polyline/g)).toHaveLength(2);
    expect(html).toContain('>tis</text>');
    expect(boundChart('t', combine(cells.map((c) => ({ ...c, params: { x: 1 } }))))).toBeNull();
  });

  it("reads a cell: step means, and the final evaluation's unique attempts and length at its first and last budget", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-cellfig-'));
    const evalRow = (budgets: number[], unique: number[]) => ({
      type: 'eval',
      samples: 2,
      budgets: budgets.map((budget, i) => ({
        budget,
        correct: [2, 0],
        meanUniqueAttempts: unique[i],
        meanLength: 10 * budget,
      })),
    });
    const write = (evs: object[]) =>
      fs.writeFileSync(
        path.join(dir, 'metrics.jsonl'),
        [{ step: 1, essFraction: 0.5 }, { step: 2, essFraction: 1 }, ...evs].map((x) => JSON.stringify(x)).join('\n'),
      );
    const result = {
      name: 'c',
      params: { seed: 3, 'staleness.bound': 4 },
      status: 'done',
      summary: {},
      trainPassLast: null,
      evalPass1: null,
    };
    write([evalRow([72, 288], [9, 9]), evalRow([72, 288], [1.5, 2.75])]); // the last evaluation counts
    const f = readCellFigures(dir, result)!;
    expect(f.seed).toBe(3);
    expect(f.pass1).toEqual([1, 0]);
    expect(f.budgetLast).toBe(288);
    expect(f.figures.essFraction).toBe(0.75);
    expect(f.figures.uniqueAttemptsFirst).toBe(1.5);
    expect(f.figures.uniqueAttemptsLast).toBe(2.75);
    expect(f.figures.evalLengthLast).toBe(2880);
    write([evalRow([72], [1.5])]); // one budget: no last-budget figures
    const one = readCellFigures(dir, result)!;
    expect(one.figures.uniqueAttemptsFirst).toBe(1.5);
    expect(one.figures.uniqueAttemptsLast).toBeNull();
    expect(one.figures.evalLengthLast).toBeNull();
    expect(readCellFigures(dir, { ...result, status: 'failed' })).toBeNull();
    fs.rmSync(dir, { recursive: true });
  });
});
