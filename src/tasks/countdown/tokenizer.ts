/**
 * Countdown tokenizer: every integer 0..MAX_VALUE is one token (arithmetic on single tokens is
 * a lookup a tiny transformer learns reliably), plus the symbols of the trace grammar.
 *
 *   prompt:   <bos> n1 n2 … nd → target :
 *   attempt:  x op y = z , z op y' = z' … ✓|✗ |       (a chain of single operations)
 *   answer:   A x op y = z , … <eos>
 */
import { InputError } from '../../util/errors.js';

export const MAX_VALUE = 99;

export const SYMBOLS = ['<pad>', '<bos>', '<eos>', '→', ':', '+', '-', '*', '/', '=', ',', '✓', '✗', '|', 'A'] as const;
export type SymbolName = (typeof SYMBOLS)[number];

export const PAD = 0;
export const BOS = 1;
export const EOS = 2;
export const TARGET = 3;
export const COLON = 4;
export const PLUS = 5;
export const MINUS = 6;
export const TIMES = 7;
export const DIVIDE = 8;
export const EQUALS = 9;
export const COMMA = 10;
export const CHECK = 11;
export const CROSS = 12;
export const BAR = 13;
export const ANSWER = 14;
export const NUMBER_BASE = SYMBOLS.length;
export const VOCAB_SIZE = NUMBER_BASE + MAX_VALUE + 1;

export const OPS = ['+', '-', '*', '/'] as const;
export type Op = (typeof OPS)[number];
export const OP_TOKEN: Record<Op, number> = { '+': PLUS, '-': MINUS, '*': TIMES, '/': DIVIDE };

export function numberToken(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_VALUE)
    throw new RangeError(`countdown tokenizer: ${n} is not an integer in 0..${MAX_VALUE}`);
  return NUMBER_BASE + n;
}

export function isNumberToken(t: number): boolean {
  return t >= NUMBER_BASE && t < VOCAB_SIZE;
}

export function tokenValue(t: number): number {
  return t - NUMBER_BASE;
}

export function isOpToken(t: number): boolean {
  return t >= PLUS && t <= DIVIDE;
}

export function opOf(t: number): Op {
  return OPS[t - PLUS]!;
}

/** Token ids -> text, space separated; ids outside the vocabulary render as `<?id>`. */
export function decode(tokens: readonly number[]): string {
  return tokens
    .map((t) => (t >= 0 && t < NUMBER_BASE ? SYMBOLS[t]! : isNumberToken(t) ? String(tokenValue(t)) : `<?${t}>`))
    .join(' ');
}

const SYMBOL_ID = new Map<string, number>(SYMBOLS.map((s, i) => [s, i]));

/** Text -> token ids. Accepts the output of `decode` and also unspaced forms such as `4*5=20,20-3=17`. */
export function encode(text: string): number[] {
  const out: number[] = [];
  const re = /\s*(<pad>|<bos>|<eos>|\d+|[→:+\-*/=,✓✗|A])/uy;
  let pos = 0;
  while (pos < text.length) {
    if (/^\s*$/.test(text.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m)
      throw new InputError(`countdown tokenizer: unexpected text at character ${pos}: '${text.slice(pos, pos + 12)}'`);
    const tok = m[1]!;
    out.push(/^\d+$/.test(tok) ? numberToken(Number(tok)) : SYMBOL_ID.get(tok)!);
    pos = re.lastIndex;
  }
  return out;
}
