/**
 * The base-trace synthesizer: writes the supervised traces the base model imitates. Its knobs
 * set the base model's habits — how often an attempt is a real solution (generation skill), how
 * often its ✓/✗ verdict is right (self-verification accuracy; 0.5 = a verdict that ignores the
 * value, the `noverify` variant), and how many attempts it makes before stopping. Written
 * arithmetic is always correct. Base traces are short (RL must have room to lengthen them), but a
 * small fraction keeps trying until the context is nearly full, so every position is trained.
 */
import type { Rng } from '../../util/rng.js';
import { z } from 'zod';
import type { Step } from './arith.js';
import { randomChain, solveChains, type Problem } from './problems.js';
import { answerTokens, attemptLength, attemptTokens, promptTokens } from './trace.js';

export const SynthKnobsSchema = z.object({
  /** Probability that an attempt is drawn from the problem's solutions rather than at random. */
  generationSkill: z.number().min(0).max(1),
  /** Probability that the written verdict is right about the written final value. */
  verifyAccuracy: z.number().min(0).max(1),
  /** After a ✗, probability of trying again (otherwise give up and answer the last attempt). */
  continueProb: z.number().min(0).max(1),
  /** Fraction of traces that keep trying (random attempts) until the context is nearly full. */
  longFraction: z.number().min(0).max(1),
});
export type SynthKnobs = z.infer<typeof SynthKnobsSchema>;

export const BASE_KNOBS: SynthKnobs = { generationSkill: 0.15, verifyAccuracy: 1, continueProb: 0.3, longFraction: 0.05 };
export const NOVERIFY_KNOBS: SynthKnobs = { ...BASE_KNOBS, verifyAccuracy: 0.5 };

export interface SynthTrace {
  prompt: number[];
  completion: number[];
  attempts: number;
}

export function synthesizeTrace(p: Problem, knobs: SynthKnobs, rng: Rng, contextLength: number): SynthTrace {
  const prompt = promptTokens(p);
  const per = attemptLength(p.difficulty);
  const answerLen = per + 1; // 'A' + chain + EOS
  const room = contextLength - prompt.length - answerLen;
  if (room < per) throw new RangeError(`synth: context ${contextLength} too short for a difficulty-${p.difficulty} trace`);
  const long = rng.bernoulli(knobs.longFraction);
  const solutions = p.difficulty <= 4 ? solveChains(p, 64) : [p.witness];
  const completion: number[] = [];
  let last: Step[] = [];
  let attempts = 0;
  for (;;) {
    const steps = !long && rng.bernoulli(knobs.generationSkill) ? rng.pick(solutions) : randomChain(p.numbers, rng);
    const solved = steps.at(-1)!.z === p.target;
    const believed = rng.bernoulli(knobs.verifyAccuracy) ? solved : !solved;
    completion.push(...attemptTokens(steps, believed ? '✓' : '✗'));
    attempts++;
    last = steps;
    if (believed) break;
    const hasRoom = completion.length + per <= room;
    if (!hasRoom || !(long || rng.bernoulli(knobs.continueProb))) break;
  }
  completion.push(...answerTokens(last));
  return { prompt, completion, attempts };
}
