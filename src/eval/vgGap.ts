/**
 * The verification–generation gap of a countdown policy (`e3sim vg-gap`): how often its arithmetic
 * steps, its attempts and its own verdicts are right on natural traces, and pass@1 under forced
 * numbers of chains (eval/countdown.ts forcedChains).
 */
import type { Gpt } from '../policy/transformer/model.js';
import { evalSet, type Problem } from '../tasks/countdown/problems.js';
import { checkChain, parseTrace, promptTokens } from '../tasks/countdown/trace.js';
import { verify } from '../tasks/countdown/verifier.js';
import { trueValue } from '../tasks/countdown/arith.js';
import { drawSamples, forcedChains } from './countdown.js';

export interface VgGapReport {
  difficulty: number;
  problems: number;
  samples: number;
  temperature: number;
  /** Written value equals the true value of the written operation (over every written step). */
  arithmeticAccuracy: number;
  /** Verdict (✓/✗) right given the written final value (over every attempt with a verdict). */
  verificationAccuracy: number;
  /**
   * The verdict's two sides: P(✓ | the final value is the target) and P(✓ | it is not). A verdict that
   * reads the target has the first near 1 and the second near 0; one that does not has them equal.
   */
  checkWhenHit: number;
  checkWhenMiss: number;
  /** Attempts that are a correct solution (uses every number once, right arithmetic, hits the target). */
  attemptSuccess: number;
  meanAttempts: number;
  meanLengthTokens: number;
  /** pass@1 of natural traces. */
  passAt1: number;
  /** pass@1 under the forced-chains protocol, per number of chains. */
  passAtChains: Record<string, number>;
  /** `hits`: attempts with a verdict whose final value is the target. */
  counts: { steps: number; attempts: number; verdicts: number; hits: number; traces: number };
}

export function vgGap(
  model: Gpt,
  o: {
    difficulty: number;
    problems: number;
    samples: number;
    chains: number[];
    seed: number;
    temperature: number;
    batchSize: number;
    onProgress?: (s: string) => void;
  },
): VgGapReport {
  const problems = evalSet(o.seed, o.difficulty, o.problems);
  const budget = model.config.contextLength - promptTokens(problems[0]!).length;
  const natural = drawSamples(model, {
    problems,
    samplesPerProblem: o.samples,
    budgetTokens: budget,
    temperature: o.temperature,
    seed: o.seed,
    batchSize: o.batchSize,
    onBatch: (d, t) => o.onProgress?.(`natural ${d}/${t}`),
  });
  const t = tallyTraces(natural);
  const passAtChains: Record<string, number> = {};
  for (const c of o.chains) {
    const forced = drawSamples(model, {
      problems,
      samplesPerProblem: o.samples,
      budgetTokens: budget,
      temperature: o.temperature,
      seed: o.seed + 1 + c,
      batchSize: o.batchSize,
      forbid: forcedChains(c),
      onBatch: (d, t) => o.onProgress?.(`chains=${c} ${d}/${t}`),
    });
    passAtChains[String(c)] = forced.filter((d) => verify(d.problem, d.result.tokens).correct).length / forced.length;
  }
  const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
  return {
    difficulty: o.difficulty,
    problems: problems.length,
    samples: o.samples,
    temperature: o.temperature,
    arithmeticAccuracy: ratio(t.stepsRight, t.steps),
    verificationAccuracy: ratio(t.verdictsRight, t.verdicts),
    checkWhenHit: ratio(t.hitsChecked, t.hits),
    checkWhenMiss: ratio(t.missesChecked, t.verdicts - t.hits),
    attemptSuccess: ratio(t.attemptsRight, t.attempts),
    meanAttempts: ratio(t.attempts, natural.length),
    meanLengthTokens: ratio(t.lengths, natural.length),
    passAt1: ratio(t.correct, natural.length),
    passAtChains,
    counts: { steps: t.steps, attempts: t.attempts, verdicts: t.verdicts, hits: t.hits, traces: natural.length },
  };
}

/**
 * Natural traces counted: arithmetic steps (and right ones), attempts (and chains that check),
 * verdicts (and right ones), hits (an attempt ending at the target) and ✓ on hits and on misses,
 * lengths, correct traces.
 */
function tallyTraces(natural: readonly { problem: Problem; result: { tokens: number[] } }[]) {
  const t = {
    steps: 0,
    stepsRight: 0,
    attempts: 0,
    attemptsRight: 0,
    verdicts: 0,
    verdictsRight: 0,
    hits: 0,
    hitsChecked: 0,
    missesChecked: 0,
    lengths: 0,
    correct: 0,
  };
  for (const d of natural) {
    for (const a of parseTrace(d.result.tokens).attempts) {
      t.attempts++;
      if (!a.steps) continue;
      for (const s of a.steps) {
        t.steps++;
        if (trueValue(s.x, s.op, s.y) === s.z) t.stepsRight++;
      }
      if (checkChain(d.problem, a.steps) === 'ok') t.attemptsRight++;
      if (a.verdict) {
        t.verdicts++;
        const hit = a.steps.at(-1)!.z === d.problem.target;
        if ((a.verdict === '✓') === hit) t.verdictsRight++;
        if (hit) t.hits++;
        if (a.verdict === '✓') hit ? t.hitsChecked++ : t.missesChecked++;
      }
    }
    const v = verify(d.problem, d.result.tokens);
    t.lengths += v.lengthTokens;
    if (v.correct) t.correct++;
  }
  return t;
}
