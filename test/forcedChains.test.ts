import { describe, expect, it } from 'vitest';
import { forcedChains } from '../src/eval/countdown.js';
import { ANSWER, EOS, BAR, encode } from '../src/tasks/countdown/tokenizer.js';

describe('forced-chains protocol', () => {
  const two = forcedChains(2);
  it('forbids ending before the chain count is reached', () => {
    expect(two([])).toEqual([ANSWER, EOS]);
    expect(two(encode('7*3=21,21+9=30 ✗ |'))).toEqual([ANSWER, EOS]);
    expect(two(encode('7*3=21,21+9=30 ✗ | 7*9'))).toEqual([ANSWER, EOS]);
  });

  it('forces the answer after the chain count without a ✓', () => {
    const banned = two(encode('7*3=21,21+9=30 ✗ | 3*9=27,27+7=34 ✗ |'))!;
    expect(banned).not.toContain(ANSWER);
    expect(banned).toContain(EOS);
    expect(banned).toContain(BAR);
    expect(two(encode('7*3=21,21+9=30 ✗ | 3*9=27,27+7=34 ✗ | A 7'))).toBeNull();
  });

  it('lifts every constraint once the trace has written a ✓', () => {
    expect(two(encode('7*9=63,63-3=60 ✓ |'))).toBeNull();
  });
});
