import { describe, expect, it } from 'vitest';
import { verify, REASONS } from '../src/tasks/countdown/verifier.js';
import { encode, VOCAB_SIZE } from '../src/tasks/countdown/tokenizer.js';
import { Rng } from '../src/util/rng.js';
import { synthesizeTrace, BASE_KNOBS } from '../src/tasks/countdown/synth.js';
import { generateProblem } from '../src/tasks/countdown/problems.js';

const P = { numbers: [3, 7, 9], target: 60 };
const v = (text: string) => verify(P, encode(text));

describe('countdown verifier', () => {
  it('accepts a correct trace and reports its statistics', () => {
    // 13 tokens per attempt (two 5-token steps, a comma, a verdict, a bar) + 13 for 'A', the chain and EOS
    const r = v('7*3=21,21+9=30 ✗ | 7*9=63,63-3=60 ✓ | A 7*9=63,63-3=60 <eos>');
    expect(r).toEqual({
      correct: true,
      reason: 'ok',
      attempts: 2,
      uniqueAttempts: 2,
      selfVerdicts: 2,
      selfVerdictAccuracy: 1,
      lengthTokens: 39,
    });
  });

  it('counts repeated attempts once in uniqueAttempts and judges verdicts by the written value', () => {
    const r = v('7*3=21,21+9=30 ✓ | 7*3=21,21+9=30 ✗ | A 7*9=63,63-3=60 <eos>');
    expect(r.attempts).toBe(2);
    expect(r.uniqueAttempts).toBe(1);
    expect(r.selfVerdictAccuracy).toBe(0.5);
    // A wrong written value that happens to equal the target: the verdict ✓ is right about what was written.
    expect(v('7*3=60,60+9=60 ✓ | A 7*9=63,63-3=60 <eos>').selfVerdictAccuracy).toBe(1);
  });

  it('names the reason of each failure', () => {
    expect(v('7*9=63,63-3=60 ✓ | A 7*9=63,63-3=60').reason).toBe('truncated');
    expect(v('7*9=63,63-3=60 ✓ | <eos>').reason).toBe('no-answer');
    expect(v('A 7*9=63,63- <eos>').reason).toBe('malformed');
    expect(v('A 7*9=63 A 63-3=60 <eos>').reason).toBe('malformed');
    expect(v('A 7*9=63,63-4=59 <eos>').reason).toBe('wrong-numbers');
    expect(v('A 7*9=63,60-3=57 <eos>').reason).toBe('wrong-numbers'); // does not chain
    expect(v('A 7*9=63 <eos>').reason).toBe('wrong-numbers'); // 3 unused
    expect(v('A 7*9=64,64-3=61 <eos>').reason).toBe('wrong-value'); // arithmetic
    expect(v('A 7*9=63,63+3=66 <eos>').reason).toBe('wrong-value'); // misses target
    expect(v('A 7*9=63,63-3=60 <eos>')).toMatchObject({
      correct: true,
      attempts: 0,
      selfVerdicts: 0,
      selfVerdictAccuracy: null,
    });
  });

  it('ignores everything after EOS', () => {
    expect(v('A 7*9=63,63-3=60 <eos> 5 5 5').correct).toBe(true);
  });

  it('accepts every synthesized base trace whose last verdict is ✓', () => {
    const rng = new Rng(2);
    for (let i = 0; i < 300; i++) {
      const p = generateProblem(rng, 3 + (i % 4), 'train');
      const t = synthesizeTrace(p, BASE_KNOBS, rng, 320);
      const r = verify(p, t.completion);
      expect(r.selfVerdictAccuracy).toBe(1);
      expect(r.attempts).toBe(t.attempts);
      expect(r.reason === 'ok' || r.reason === 'wrong-value').toBe(true);
    }
  });

  it('never throws on arbitrary token sequences (fuzz)', () => {
    const rng = new Rng('fuzz');
    const structured = encode('7*9=63,63-3=60 ✓ | A <eos>');
    for (let i = 0; i < 5000; i++) {
      const n = rng.int(60);
      const toks = Array.from({ length: n }, () => {
        const r = rng.float();
        if (r < 0.6) return rng.pick(structured);
        if (r < 0.95) return rng.int(VOCAB_SIZE);
        return rng.pick([-1, VOCAB_SIZE, 1e9, NaN, 2.5]);
      });
      const r = verify(P, toks);
      expect(REASONS).toContain(r.reason);
      expect(r.correct).toBe(r.reason === 'ok');
      expect(r.lengthTokens).toBeLessThanOrEqual(n);
      expect(r.uniqueAttempts).toBeLessThanOrEqual(r.attempts);
    }
  });
});
