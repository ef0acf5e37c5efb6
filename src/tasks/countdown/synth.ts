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
import { allChains, randomChain, solveChains, type Problem } from './problems.js';
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
  /**
   * v3: fraction of traces that start after a given prefix of failed attempts (random
   * non-solutions, each with its ✗), 1 to as many as leave room for one more attempt and the
   * answer, uniformly. The prefix is context, not a target (masked from the loss like the
   * prompt), so it trains every attempt index and position — what comes after m failures is
   * drawn exactly as attempt 1 is — without teaching the model to write long failing chains
   * itself: its own traces stay short. Absent = 0 (v1, v2).
   */
  givenFailuresFraction: z.number().min(0).max(1).optional(),
  /**
   * v4: the order of a trace's attempts. `random` (absent: v1–v3): each attempt a solution with
   * probability `generationSkill`, else an untried random non-solution — the next attempt depends on
   * every earlier one (which were tried), so a small model must remember them all. `dfs`: the
   * trace walks the problem's chains in depth-first order (problems.ts walkChains: the last
   * operation changes fastest, like an odometer) from a random chain, cyclically, each once — the
   * next attempt is a function of the previous one alone, as in Stream of Search and Qin et al.'s
   * depth-first traces; `generationSkill` is not used, and the success at attempt k is the true
   * chance that a depth-first search finds a solution at its k-th chain from a random start.
   * v5 `uniform`: each attempt a random legal chain not tried before in the trace, solution or not
   * (`generationSkill` is not used): the base imitates a searcher without a per-problem preference,
   * whose chance of a solution at attempt k is the problem's own share of solutions among the
   * chains left. Measured on the held-out set (docs/REPRODUCTION.md "Base model v5"): such a
   * searcher's hazard is flat to attempt 16 (3 numbers 8.0 → 9.1%, 4 numbers 4.4 → 3.2%) and its
   * first attempt as good as v3's, where a preference for solutions the model can only sometimes
   * compute (skill 0.3) makes the model solve some problems often and others never.
   */
  searchOrder: z.enum(['random', 'dfs', 'uniform']).optional(),
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

/** v3: legal non-solutions a given prefix leaves untried for the trace's own attempts. */
export const GIVEN_SPARE = 8;

/** Draws of a random chain before enumerating the untried non-solutions. */
export const UNTRIED_DRAWS = 64;

export interface SynthTrace {
  prompt: number[];
  /** Given failed attempts after the prompt (context, not trained; empty unless givenFailuresFraction > 0). */
  given: number[];
  completion: number[];
  /** Attempts written in the completion (the given ones not counted). */
  attempts: number;
  /** Per attempt of the completion: whether it is a solution (for the stationarity test). */
  solved: boolean[];
  /** Number of given failed attempts before the completion. */
  givenAttempts: number;
}

const chainKey = (steps: readonly Step[]) => steps.map((s) => `${s.x}${s.op}${s.y}`).join(',');

export function synthesizeTrace(p: Problem, knobs: SynthKnobs, rng: Rng, contextLength: number): SynthTrace {
  if (knobs.searchOrder === 'dfs') return synthesizeDfs(p, knobs, rng, contextLength);
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
  // The enumerated non-solutions, computed at most once per trace (for the prefix's cap and the
  // untried fallback).
  let enumerated: Step[][] | null = null;
  const nonSolutions = () => (enumerated ??= allChains(p.numbers).filter((c) => c.at(-1)!.z !== p.target));
  let everyChain: Step[][] | null = null;
  const given: number[] = [];
  let givenAttempts = 0;
  if (knobs.givenFailuresFraction && rng.bernoulli(knobs.givenFailuresFraction)) {
    // Room for m given attempts and still one written attempt (m ≤ room / per − 1), and at
    // 3–4 numbers, whose legal chains are few (tens to hundreds), GIVEN_SPARE non-solutions
    // left untried for the trace's own attempts.
    const spare = p.difficulty <= 4 ? nonSolutions().length - GIVEN_SPARE : Infinity;
    const most = Math.min(Math.floor(room / per) - 1, spare);
    if (most >= 1) {
      givenAttempts = 1 + rng.int(most);
      for (let i = 0; i < givenAttempts; i++) {
        const steps = pickNonSolution(p, tried, rng, nonSolutions);
        if (!steps) break; // every legal non-solution was given: a shorter prefix, never a repeat
        tried.add(chainKey(steps));
        given.push(...attemptTokens(steps, '✗'));
      }
      givenAttempts = given.length / per;
    }
  }
  return writeAttempts(p, knobs, rng, { prompt, given, givenAttempts, per, room, long }, (k) => {
    // Never a repeat: with every non-solution tried, the trace gives up (answers its last attempt).
    const steps =
      knobs.searchOrder === 'uniform'
        ? pickUntried(
            p,
            tried,
            rng,
            () => (everyChain ??= allChains(p.numbers)),
            () => true,
          )
        : ((rng.bernoulli(knobs.generationSkill) ? pickSolution(solutions, tried, rng) : null) ??
          pickNonSolution(p, tried, rng, nonSolutions) ??
          (k === 0 ? (pickSolution(solutions, tried, rng) ?? p.witness) : null));
    if (steps) tried.add(chainKey(steps));
    return steps;
  });
}

/**
 * The trace's own attempts after its given prefix, each named by `next(k)` (null: none left): a
 * verdict per attempt (right with probability verifyAccuracy), stopping at a believed ✓, a full
 * context, or giving up after a ✗ (unless the trace is long); then the answer, the last attempt.
 */
function writeAttempts(
  p: Problem,
  knobs: SynthKnobs,
  rng: Rng,
  t: { prompt: number[]; given: number[]; givenAttempts: number; per: number; room: number; long: boolean },
  next: (k: number) => Step[] | null,
): SynthTrace {
  const completion: number[] = [];
  const solvedList: boolean[] = [];
  let last: Step[] = [];
  for (;;) {
    const steps = next(solvedList.length);
    if (!steps) break;
    const solved = steps.at(-1)!.z === p.target;
    const believed = rng.bernoulli(knobs.verifyAccuracy) ? solved : !solved;
    completion.push(...attemptTokens(steps, believed ? '✓' : '✗'));
    solvedList.push(solved);
    last = steps;
    if (believed) break;
    const hasRoom = t.given.length + completion.length + t.per <= t.room;
    if (!hasRoom || !(t.long || rng.bernoulli(knobs.continueProb))) break;
  }
  completion.push(...answerTokens(last));
  const { prompt, given, givenAttempts } = t;
  return { prompt, given, completion, attempts: solvedList.length, solved: solvedList, givenAttempts };
}

/** An untried solution, or null once every solution was tried (only with unreliable verdicts: a ✓ ends the trace). */
function pickSolution(solutions: readonly Step[][], tried: ReadonlySet<string>, rng: Rng): Step[] | null {
  const untried = solutions.filter((s) => !tried.has(chainKey(s)));
  return untried.length > 0 ? rng.pick(untried) : null;
}

/**
 * A random chain that misses the target and was not tried yet: random draws first, then (when
 * they keep hitting tried chains: few numbers, a long trace) one of the untried non-solutions of
 * the enumeration; null when every non-solution was tried.
 */
function pickNonSolution(
  p: Problem,
  tried: ReadonlySet<string>,
  rng: Rng,
  nonSolutions: () => readonly Step[][],
): Step[] | null {
  return pickUntried(p, tried, rng, nonSolutions, (c) => c.at(-1)!.z !== p.target);
}

/**
 * A random chain that `accept`s and was not tried yet: random draws (randomChain's distribution)
 * first, then one of the untried chains of `pool` (the enumeration of the accepted ones); null
 * when every accepted chain was tried.
 */
function pickUntried(
  p: Problem,
  tried: ReadonlySet<string>,
  rng: Rng,
  pool: () => readonly Step[][],
  accept: (c: readonly Step[]) => boolean,
): Step[] | null {
  for (let i = 0; i < UNTRIED_DRAWS; i++) {
    const c = randomChain(p.numbers, rng);
    if (accept(c) && !tried.has(chainKey(c))) return c;
  }
  const untried = pool().filter((c) => !tried.has(chainKey(c)));
  return untried.length > 0 ? rng.pick(untried) : null;
}

/** Prefix starts tried before a dfs trace goes without a given prefix. */
const DFS_START_DRAWS = 64;

/**
 * searchOrder `dfs`: the chains in depth-first order from a random start, cyclically. A given
 * prefix of m failures starts at a chain followed by m − 1 more non-solutions (drawn among such
 * starts), so what follows it is what a depth-first search meets after m misses.
 */
function synthesizeDfs(p: Problem, knobs: SynthKnobs, rng: Rng, contextLength: number): SynthTrace {
  const prompt = promptTokens(p);
  const per = attemptLength(p.difficulty);
  const room = contextLength - prompt.length - (per + 1);
  if (room < per)
    throw new RangeError(`synth: context ${contextLength} too short for a difficulty-${p.difficulty} trace`);
  const long = rng.bernoulli(knobs.longFraction);
  const order = allChains(p.numbers);
  const N = order.length;
  const solves = order.map((c) => c.at(-1)!.z === p.target);
  const at = (k: number) => ((k % N) + N) % N;
  let start = rng.int(N);
  const given: number[] = [];
  let givenAttempts = 0;
  if (knobs.givenFailuresFraction && rng.bernoulli(knobs.givenFailuresFraction)) {
    const most = Math.min(Math.floor(room / per) - 1, N - 1);
    if (most >= 1) {
      const m = 1 + rng.int(most);
      for (let d = 0; d < DFS_START_DRAWS; d++) {
        const s = rng.int(N);
        let ok = true;
        for (let i = 0; i < m && ok; i++) ok = !solves[at(s + i)];
        if (!ok) continue;
        for (let i = 0; i < m; i++) given.push(...attemptTokens(order[at(s + i)]!, '✗'));
        givenAttempts = m;
        start = s + m;
        break;
      }
    }
  }
  return writeAttempts(p, knobs, rng, { prompt, given, givenAttempts, per, room, long }, (k) =>
    givenAttempts + k < N ? order[at(start + k)]! : null,
  );
}
