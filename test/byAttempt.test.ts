import { describe, expect, it } from 'vitest';
import { attemptTable, cutAfter, evalCutAfter } from '../src/eval/byAttempt.js';
import { ANSWER, BAR, EOS, encode } from '../src/tasks/countdown/tokenizer.js';
import { Gpt } from '../src/policy/transformer/model.js';
import { Rng } from '../src/util/rng.js';
import { MAX_VALUE, VOCAB_SIZE } from '../src/tasks/countdown/tokenizer.js';
import { initBackend } from '../src/tensor/backend.js';

// 3 7 9 → 30: 7*3=21,21+9=30 solves it; 7+3=10,10+9=19 and 9-7=2,2*3=6 do not.
const problem = { numbers: [3, 7, 9], target: 30 };
const miss1 = '7+3=10,10+9=19 ✗ |';
const miss2 = '9-7=2,2*3=6 ✗ |';
const hit = '7*3=21,21+9=30 ✓ |';

describe('attempt table (vg-gap --by-attempt)', () => {
  it('counts hazard, repeats, malformed and solved-by-k on hand-built traces', () => {
    const traces = [
      `${hit} A 7*3=21,21+9=30 <eos>`, // solved at 1
      `${miss1} ${hit} A 7*3=21,21+9=30 <eos>`, // solved at 2
      `${miss1} ${miss1} ${miss2} A 9-7=2,2*3=6 <eos>`, // a repeat at 2, never solved
      `${miss2} 7 + + ✗ | ${miss1} A 7+3=10,10+9=19 <eos>`, // malformed at 2
    ].map((t) => ({ problem, tokens: encode(t) }));
    const rows = attemptTable(traces, 4);
    expect(rows.map((r) => r.written)).toEqual([4, 3, 2, 0]);
    expect(rows[0]!.hazard).toBeCloseTo(1 / 4);
    expect(rows[1]!.hazard).toBeCloseTo(1 / 3); // three traces not solved at 1, one solves at 2
    expect(rows[2]!.hazard).toBe(0);
    expect(rows[1]!.repeats).toBeCloseTo(1 / 3);
    expect(rows[1]!.malformed).toBeCloseTo(1 / 3);
    expect(rows[2]!.malformed).toBe(0);
    expect(rows.map((r) => r.solvedBy)).toEqual([0.25, 0.5, 0.5, 0.5]);
  });

  it('splits the verdict at each index: ✓ on the target, and the false ✓ on a wrong value', () => {
    const traces = [
      `${hit} A 7*3=21,21+9=30 <eos>`, // 1: hit, ✓
      '7*3=21,21+9=30 ✗ | 7+3=10,10+9=19 ✓ | A 7+3=10,10+9=19 <eos>', // 1: hit, ✗; 2: miss, ✓ (false)
      `${miss1} ${miss2} A 9-7=2,2*3=6 <eos>`, // 1: miss, ✗; 2: miss, ✗
    ].map((t) => ({ problem, tokens: encode(t) }));
    const rows = attemptTable(traces, 3);
    expect(rows[0]!.checkWhenHit).toBe(0.5);
    expect(rows[0]!.falseCheck).toBe(0);
    expect(rows[1]!.checkWhenHit).toBeNull(); // no hit at index 2
    expect(rows[1]!.falseCheck).toBe(0.5);
  });

  it('says why an attempt fails (a wrong number, a miscomputed step) and what a searcher with no preference would solve', () => {
    const traces = [
      `${miss1} 7+7=14,14+9=23 ✗ | 7*3=22,22+9=31 ✗ | ${miss2} A 9-7=2,2*3=6 <eos>`,
      `${miss2} 3*3=9,9+7=16 ✗ | A 9-7=2,2*3=6 <eos>`,
    ].map((t) => ({ problem, tokens: encode(t) }));
    const rows = attemptTable(traces, 4);
    expect(rows[0]!.wrongNumbers).toBe(0);
    expect(rows[1]!.wrongNumbers).toBe(1); // 7 twice; 3 twice
    expect(rows[2]!.arithmetic).toBe(1); // 7*3=22: the right numbers, a wrong product
    expect(rows[2]!.wrongNumbers).toBe(0);
    expect(rows[3]!.arithmetic).toBe(0);
    expect(rows[3]!.wrongNumbers).toBe(0);
    // the legal chains of 3 7 9 (values 0 … MAX_VALUE), and those that reach 30, counted here
    // independently of allChains
    const ops = ['+', '-', '*', '/'] as const;
    const val = (x: number, op: string, y: number) =>
      op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : y !== 0 && x % y === 0 ? x / y : null;
    const legal: { key: string; z: number }[] = [];
    const nums = [3, 7, 9];
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        if (i === j) continue;
        const rest = nums[3 - i - j]!;
        for (const o1 of ops) {
          const a = val(nums[i]!, o1, nums[j]!);
          if (a === null || a < 0 || a > MAX_VALUE) continue;
          for (const o2 of ops) {
            const b = val(a, o2, rest);
            if (b === null || b < 0 || b > MAX_VALUE) continue;
            legal.push({ key: `${nums[i]}${o1}${nums[j]}=${a},${a}${o2}${rest}=${b}`, z: b });
          }
        }
      }
    const solving = legal.filter((c) => c.z === 30).length;
    expect(rows[0]!.uniformHazard).toBeCloseTo(solving / legal.length, 6);
    // at attempt 2 both traces have tried one legal non-solution
    expect(rows[1]!.uniformHazard).toBeCloseTo(solving / (legal.length - 1), 6);
  });

  it('does not count an attempt cut off by the context as written or malformed', () => {
    const rows = attemptTable([{ problem, tokens: encode(`${miss1} 9-7=2,2`) }], 2);
    expect(rows.map((r) => r.written)).toEqual([1, 0]);
    expect(rows[0]!.malformed).toBe(0);
  });

  it('a solve with a wrong ✗ verdict ends the hazard count but not the repeats count', () => {
    const rows = attemptTable([{ problem, tokens: encode(`7*3=21,21+9=30 ✗ | ${miss1} A 7 <eos>`) }], 2);
    expect(rows[0]!.hazard).toBe(1);
    expect(rows[1]!.written).toBe(1);
    expect(rows[1]!.hazard).toBe(0); // not at risk: solved before
    expect(rows[1]!.solvedBy).toBe(1);
  });
});

describe("the authors' cut (eval --cut-after)", () => {
  const two = cutAfter(2);
  it('leaves the trace free before C attempts (it may answer sooner)', () => {
    expect(two([])).toBeNull();
    expect(two(encode(miss1))).toBeNull();
    expect(two(encode(`${miss1} 7*`))).toBeNull();
  });

  it('forces the answer marker right after the C-th attempt, ✓ or not', () => {
    for (const t of [`${miss1} ${miss2}`, `${miss1} ${hit}`]) {
      const banned = two(encode(t))!;
      expect(banned).not.toContain(ANSWER);
      expect(banned).toContain(EOS);
    }
    expect(two(encode(`${miss1} ${miss2} A 7`))).toBeNull();
  });

  it('on a sampled model: no trace writes more than C attempts, and every trace that reaches C answers next', async () => {
    await initBackend('cpu');
    const model = Gpt.create(
      { vocabSize: VOCAB_SIZE, dModel: 16, nHeads: 2, nLayers: 1, contextLength: 96 },
      new Rng('cut-after-model'),
    );
    const r = evalCutAfter(model, {
      difficulty: 3,
      problems: 6,
      samples: 2,
      cuts: [1, 3],
      seed: 1,
      temperature: 1,
      batchSize: 16,
    });
    expect(r.rows.map((x) => x.cut)).toEqual([1, 3]);
    for (const row of r.rows) {
      expect(row.meanAttempts).toBeLessThanOrEqual(row.cut + 1e-9);
      expect(row.correct).toHaveLength(6);
    }
    model.dispose();
    // The mask itself on a random model's completions: drawn directly so each can be inspected.
    const { drawSamples } = await import('../src/eval/countdown.js');
    const { evalSet } = await import('../src/tasks/countdown/problems.js');
    const m2 = Gpt.create(
      { vocabSize: VOCAB_SIZE, dModel: 16, nHeads: 2, nLayers: 1, contextLength: 96 },
      new Rng('cut-after-model-2'),
    );
    const drawn = drawSamples(m2, {
      problems: evalSet(2, 3, 8),
      samplesPerProblem: 4,
      budgetTokens: 80,
      temperature: 1,
      seed: 2,
      batchSize: 32,
      forbid: cutAfter(2),
    });
    let reached = 0;
    for (const d of drawn) {
      const toks = d.result.tokens;
      const answerAt = toks.indexOf(ANSWER);
      const attemptPart = answerAt >= 0 ? toks.slice(0, answerAt) : toks;
      const bars = attemptPart.flatMap((t, i) => (t === BAR ? [i] : []));
      expect(bars.length).toBeLessThanOrEqual(2);
      if (bars.length === 2 && bars[1]! + 1 < toks.length) {
        reached++;
        expect(toks[bars[1]! + 1]).toBe(ANSWER);
      }
    }
    expect(drawn.length).toBe(32);
    expect(reached).toBeGreaterThan(0); // the seed makes some random traces reach the cut
    m2.dispose();
  });
});
