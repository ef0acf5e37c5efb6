/** Building and parsing Countdown traces (the grammar is in tokenizer.ts). */
import { trueValue, type Step } from './arith.js';
import {
  ANSWER,
  BAR,
  BOS,
  CHECK,
  COLON,
  COMMA,
  CROSS,
  EOS,
  EQUALS,
  OP_TOKEN,
  TARGET,
  isNumberToken,
  isOpToken,
  numberToken,
  opOf,
  tokenValue,
} from './tokenizer.js';
import type { Problem } from './problems.js';

export function promptTokens(p: Pick<Problem, 'numbers' | 'target'>): number[] {
  return [BOS, ...p.numbers.map(numberToken), TARGET, numberToken(p.target), COLON];
}

export function chainTokens(steps: readonly Step[]): number[] {
  const out: number[] = [];
  steps.forEach((s, i) => {
    if (i > 0) out.push(COMMA);
    out.push(numberToken(s.x), OP_TOKEN[s.op], numberToken(s.y), EQUALS, numberToken(s.z));
  });
  return out;
}

export function attemptTokens(steps: readonly Step[], verdict: '✓' | '✗'): number[] {
  return [...chainTokens(steps), verdict === '✓' ? CHECK : CROSS, BAR];
}

export function answerTokens(steps: readonly Step[]): number[] {
  return [ANSWER, ...chainTokens(steps), EOS];
}

/** Tokens of one attempt (chain + verdict + delimiter) for a problem of `difficulty` numbers. */
export function attemptLength(difficulty: number): number {
  return 6 * (difficulty - 1) + 1;
}

/** Parses `x op y = z (, x op y = z)*` exactly; null if the tokens are not such a chain. */
export function parseChain(tokens: readonly number[]): Step[] | null {
  if (tokens.length === 0 || (tokens.length + 1) % 6 !== 0) return null;
  const steps: Step[] = [];
  for (let i = 0; i < tokens.length; i += 6) {
    const [x, op, y, eq, z] = [tokens[i]!, tokens[i + 1]!, tokens[i + 2]!, tokens[i + 3]!, tokens[i + 4]!];
    if (!isNumberToken(x) || !isOpToken(op) || !isNumberToken(y) || eq !== EQUALS || !isNumberToken(z)) return null;
    if (i + 5 < tokens.length && tokens[i + 5] !== COMMA) return null;
    steps.push({ x: tokenValue(x), op: opOf(op), y: tokenValue(y), z: tokenValue(z) });
  }
  return steps;
}

export type ChainCheck = 'ok' | 'wrong-numbers' | 'wrong-value';

/**
 * Whether a chain solves the problem: it must use each number exactly once (the first step two
 * of them, each later step the previous result and one more), every written value must be the
 * true value, and the last value must be the target.
 */
export function checkChain(p: Pick<Problem, 'numbers' | 'target'>, steps: readonly Step[]): ChainCheck {
  const pool = [...p.numbers];
  const take = (v: number): boolean => {
    const i = pool.indexOf(v);
    if (i < 0) return false;
    pool.splice(i, 1);
    return true;
  };
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    if (i === 0 ? !take(s.x) : s.x !== steps[i - 1]!.z) return 'wrong-numbers';
    if (!take(s.y)) return 'wrong-numbers';
  }
  if (pool.length !== 0) return 'wrong-numbers';
  for (const s of steps) if (trueValue(s.x, s.op, s.y) !== s.z) return 'wrong-value';
  return steps.at(-1)!.z === p.target ? 'ok' : 'wrong-value';
}

export interface ParsedAttempt {
  /** The raw tokens of the segment, without its delimiter. */
  tokens: number[];
  steps: Step[] | null;
  verdict: '✓' | '✗' | null;
}

export interface ParsedTrace {
  attempts: ParsedAttempt[];
  /** Tokens between the answer marker and EOS; null if there is no answer marker. */
  answer: number[] | null;
  /** Number of answer markers seen (more than one is malformed). */
  answerMarkers: number;
  hasEos: boolean;
  /** Completion tokens up to and including EOS (or all of them). */
  length: number;
}

/** Splits a completion into attempts and the answer section. Never throws. */
export function parseTrace(completion: readonly number[]): ParsedTrace {
  const eosAt = completion.indexOf(EOS);
  const body = eosAt >= 0 ? completion.slice(0, eosAt) : completion.slice();
  const answerAt = body.indexOf(ANSWER);
  const attemptPart = answerAt >= 0 ? body.slice(0, answerAt) : body;
  const attempts: ParsedAttempt[] = [];
  let seg: number[] = [];
  const flush = (closed: boolean) => {
    if (seg.length === 0) return;
    const last = seg.at(-1)!;
    const verdict = last === CHECK ? '✓' : last === CROSS ? '✗' : null;
    const chain = verdict ? seg.slice(0, -1) : seg;
    attempts.push({ tokens: seg, steps: closed || verdict ? parseChain(chain) : null, verdict });
    seg = [];
  };
  for (const t of attemptPart) {
    if (t === BAR) flush(true);
    else seg.push(t);
  }
  flush(false);
  return {
    attempts,
    answer: answerAt >= 0 ? body.slice(answerAt + 1) : null,
    answerMarkers: body.filter((t) => t === ANSWER).length,
    hasEos: eosAt >= 0,
    length: eosAt >= 0 ? eosAt + 1 : completion.length,
  };
}
