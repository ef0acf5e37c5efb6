/**
 * The base-trace synthesizer (v2): writes the supervised traces the base model imitates. Its knobs
 * set the base model's habits — how often an attempt is a real solution (generation skill), how
 * often its ✓/✗ verdict is right (self-verification accuracy; 0.5 = a verdict that ignores the
 * value, the `noverify` variant), and how soon it gives up after a ✗. Written arithmetic is
 * always correct.
 *
 * Stationary by construction: every attempt, first or twentieth, in a short trace or a long one,
 * is one of the problem's solutions with probability `generationSkill` and otherwise a random
 * non-solution chain, and no attempt repeats an earlier one of the same trace while an untried
 * chain of that kind exists. So a later attempt is as good as the first, and a model that keeps
 * trying keeps finding (v1 made long traces of random chains only, so its late attempts were
 * useless: docs/REPRODUCTION.md). Base traces are short (the base gives up early: RL must have
 * room to lengthen them); a fraction `longFraction` keeps trying until it finds a solution or the
 * context is full, which is what trains the later positions.
 */
import type { Rng } from '../../util/rng.js';
import { z } from 'zod';
import type { Step } from './arith.js';
import { randomChain, solveChains, type Problem } from './problems.js';
import { answerTokens, attemptLength, attemptTokens, promptTokens } from './trace.js';

export const SynthKnobsSchema = z.object({
  /** Probability that an attempt is one of the problem's solutions (otherwise a random non-solution). */
  generationSkill: z.number().min(0).max(1),
  /** Probability that the written verdict is right about the written final value. */
  verifyAccuracy: z.number().min(0).max(1),
  /** After a ✗, probability of trying again (otherwise give up and answer the last attempt). */
  continueProb: z.number().min(0).max(1),
  /** Fraction of traces that keep trying after every ✗ until a ✓ or a full context. */
  longFraction: z.number().min(0).max(1),
});
export type SynthKnobs = z.infer<typeof SynthKnobsSchema>;

/**
 * Chosen by measurement (docs/REPRODUCTION.md "Base model v2"): 0.6 and 0.8 tried; the model's held-out attempt
 * success is ≈ a quarter of the knob.
 */
export const BASE_KNOBS: SynthKnobs = {
  generationSkill: 0.8,
  verifyAccuracy: 1,
  continueProb: 0.1,
  longFraction: 0.15,
};
export const NOVERIFY_KNOBS: SynthKnobs = { ...BASE_KNOBS, verifyAccuracy: 0.5 };

/** Draws of a random chain before giving up on finding an untried non-solution (then a repeat is allowed). */
export const UNTRIED_DRAWS = 64;

export interface SynthTrace {
  prompt: number[];
  completion: number[];
  attempts: number;
  /** Per attempt: whether it is a solution (for the stationarity test). */
  solved: boolean[];
}

const chainKey = (steps: readonly Step[]) => steps.map((s) => `${s.x}${s.op}${s.y}`).join(',');

export function synthesizeTrace(p: Problem, knobs: SynthKnobs, rng: Rng, contextLength: number): SynthTrace {
  const prompt = promptTokens(p);
  const per = attemptLength(p.difficulty);
  const answerLen = per + 1; // 'A' + chain + EOS
  const room = contextLength - prompt.length - answerLen;
  if (room < per)
    throw new RangeError(`synth: context ${contextLength} too short for a difficulty-${p.difficulty} trace`);
  const long = rng.bernoulli(knobs.longFraction);
  const solutions = solveChains(p, 64, p.difficulty <= 4 ? 200_000 : 20_000);
  if (solutions.length === 0) solutions.push(p.witness);
  const tried = new Set<string>();
  const completion: number[] = [];
  const solvedList: boolean[] = [];
  let last: Step[] = [];
  for (;;) {
    const steps =
      (rng.bernoulli(knobs.generationSkill) ? pickSolution(solutions, tried, rng) : null) ??
      pickNonSolution(p, tried, rng);
    tried.add(chainKey(steps));
    const solved = steps.at(-1)!.z === p.target;
    const believed = rng.bernoulli(knobs.verifyAccuracy) ? solved : !solved;
    completion.push(...attemptTokens(steps, believed ? '✓' : '✗'));
    solvedList.push(solved);
    last = steps;
    if (believed) break;
    const hasRoom = completion.length + per <= room;
    if (!hasRoom || !(long || rng.bernoulli(knobs.continueProb))) break;
  }
  completion.push(...answerTokens(last));
  return { prompt, completion, attempts: solvedList.length, solved: solvedList };
}

/** An untried solution, or null once every solution was tried (only with unreliable verdicts: a ✓ ends the trace). */
function pickSolution(solutions: readonly Step[][], tried: ReadonlySet<string>, rng: Rng): Step[] | null {
  const untried = solutions.filter((s) => !tried.has(chainKey(s)));
  return untried.length > 0 ? rng.pick(untried) : null;
}

/** A random chain that misses the target and was not tried yet (a repeat only if none is found). */
function pickNonSolution(p: Problem, tried: ReadonlySet<string>, rng: Rng): Step[] {
  let fallback: Step[] | null = null;
  for (let i = 0; i < UNTRIED_DRAWS; i++) {
    const c = randomChain(p.numbers, rng);
    if (c.at(-1)!.z === p.target) continue;
    if (!tried.has(chainKey(c))) return c;
    fallback ??= c;
  }
  return fallback ?? randomChain(p.numbers, rng);
}
