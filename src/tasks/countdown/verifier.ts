/**
 * The external verifier: rewards come from here, never from the model's own verdict tokens.
 * Total over all inputs: any token sequence (ids out of range included) gets a Verdict.
 */
import type { Problem } from './problems.js';
import { checkChain, parseChain, parseTrace } from './trace.js';

export const REASONS = ['ok', 'no-answer', 'malformed', 'wrong-numbers', 'wrong-value', 'truncated'] as const;
export type Reason = (typeof REASONS)[number];

export interface Verdict {
  correct: boolean;
  reason: Reason;
  /** Attempt segments before the answer section. */
  attempts: number;
  /** Distinct well-formed attempt chains. */
  uniqueAttempts: number;
  /** Attempts that carry a verdict token (✓ or ✗). */
  selfVerdicts: number;
  /** Fraction of self-verdicts that are right about the written final value; null without any. */
  selfVerdictAccuracy: number | null;
  /** Completion length in tokens (through EOS when there is one). */
  lengthTokens: number;
}

export function verify(problem: Pick<Problem, 'numbers' | 'target'>, completion: readonly number[]): Verdict {
  const tr = parseTrace(completion);
  const unique = new Set<string>();
  let selfVerdicts = 0;
  let rightVerdicts = 0;
  for (const a of tr.attempts) {
    if (a.steps) unique.add(a.steps.map((s) => `${s.x}${s.op}${s.y}=${s.z}`).join(','));
    if (a.verdict) {
      selfVerdicts++;
      // Only a parsed chain has a written final value to judge the verdict against.
      if (a.steps && (a.verdict === '✓') === (a.steps.at(-1)!.z === problem.target)) rightVerdicts++;
    }
  }
  const reason = ((): Reason => {
    if (!tr.hasEos) return 'truncated';
    if (tr.answer === null) return 'no-answer';
    if (tr.answerMarkers !== 1) return 'malformed';
    const steps = parseChain(tr.answer);
    if (!steps) return 'malformed';
    return checkChain(problem, steps);
  })();
  return {
    correct: reason === 'ok',
    reason,
    attempts: tr.attempts.length,
    uniqueAttempts: unique.size,
    selfVerdicts,
    selfVerdictAccuracy: selfVerdicts > 0 ? rightVerdicts / selfVerdicts : null,
    lengthTokens: tr.length,
  };
}
