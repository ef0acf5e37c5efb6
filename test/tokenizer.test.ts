import { describe, expect, it } from 'vitest';
import { decode, encode, numberToken, VOCAB_SIZE, MAX_VALUE, EOS } from '../src/tasks/countdown/tokenizer.js';
import { Rng } from '../src/util/rng.js';

describe('countdown tokenizer', () => {
  it('round-trips every token id through text', () => {
    const all = Array.from({ length: VOCAB_SIZE }, (_, i) => i);
    expect(encode(decode(all))).toEqual(all);
  });

  it('round-trips random sequences', () => {
    const rng = new Rng(3);
    for (let i = 0; i < 200; i++) {
      const toks = Array.from({ length: 1 + rng.int(40) }, () => rng.int(VOCAB_SIZE));
      expect(encode(decode(toks))).toEqual(toks);
    }
  });

  it('reads the unspaced attempt notation', () => {
    expect(encode('4*5=20,20-3=17 ✗')).toEqual(encode('4 * 5 = 20 , 20 - 3 = 17 ✗'));
    expect(encode('A 2+3=5 <eos>').at(-1)).toBe(EOS);
  });

  it('rejects numbers outside the vocabulary and unknown text', () => {
    expect(() => numberToken(MAX_VALUE + 1)).toThrow(/0\.\.99/);
    expect(() => encode('4 ^ 5')).toThrow(/unexpected text/);
  });
});
