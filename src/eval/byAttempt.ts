/**
 * Attempt-level measurements of a countdown checkpoint (issue #28):
 * - `attemptTable`: per attempt index k, under forced chains (ending masked until a ✓ or K
 *   attempts), the hazard (share of the k-th attempts that solve the problem, among traces with
 *   no solve before k), the share that repeat an earlier attempt of the same trace, the share
 *   that are malformed, and the share of traces solved by attempt k. A model whose attempt k is
 *   as good as attempt 1 has a flat hazard. Why an attempt fails: the share that use numbers the
 *   problem does not have (or one twice), and the share with the right numbers but a step computed
 *   wrongly; and the hazard a searcher with no preference would have at the same point — a random
 *   legal chain the trace has not tried (the yardstick of bench/searcher-hazard.ts, given the
 *   model's own earlier attempts).
 * - `cutAfter` / `evalCutAfter`: the e3 authors' chained-attempts protocol: the trace runs
 *   naturally, but once it has written C attempts the next segment must be the answer (a trace
 *   that ends sooner by itself is left alone). pass@1 at C = 2, 4, 8, 16 stands beside their table
 *   (E3.md, countdown-curriculum analysis/negative_grad).
 */
import type { Gpt } from '../policy/transformer/model.js';
import { allChains, evalSet, type Problem } from '../tasks/countdown/problems.js';
import { attemptLength, checkChain, parseTrace, promptTokens } from '../tasks/countdown/trace.js';
import { trueValue, type Step } from '../tasks/countdown/arith.js';
import { verify } from '../tasks/countdown/verifier.js';
import { ANSWER, BAR } from '../tasks/countdown/tokenizer.js';
import { ALL_BUT_ANSWER, drawSamples, forcedChains } from './countdown.js';
import { InputError } from '../util/errors.js';

export interface AttemptRow {
  /** Attempt index, from 1. */
  k: number;
  /** Attempts written at index k (an attempt cut off by the context is not counted). */
  written: number;
  /** Among the k-th attempts of traces with no solve before k: the share that solve the problem. */
  hazard: number;
  /** Share of the k-th attempts that repeat an earlier attempt of the same trace. */
  repeats: number;
  /** Share of the k-th attempts that do not parse as a chain with a verdict. */
  malformed: number;
  /** Share of the k-th attempts that parse but use a number the problem does not have, or one twice. */
  wrongNumbers: number;
  /** Share of the k-th attempts with the problem's numbers and a step whose written value is wrong. */
  arithmetic: number;
  /**
   * Among the traces at risk at k: the mean chance that a random legal chain not yet tried in the
   * trace solves the problem (the problem's share of solutions among the chains left).
   */
  uniformHazard: number;
  /** Share of all traces with a solving attempt at index ≤ k. */
  solvedBy: number;
  /**
   * The verdict at index k, split by what it judged: P(✓ | final value = target) (null when no
   * attempt at k hit the target) and P(✓ | final value ≠ target), the false ✓ that ends a trace on
   * a wrong chain.
   */
  checkWhenHit: number | null;
  falseCheck: number;
}

const chainKey = (tokens: readonly number[]) => tokens.join(',');
const stepsKey = (steps: readonly Step[]) => steps.map((s) => `${s.x}${s.op}${s.y}=${s.z}`).join(',');

/** The by-attempt table of a set of traces (any protocol; forced chains in `vg-gap --by-attempt`). */
export function attemptTable(
  traces: readonly { problem: Pick<Problem, 'numbers' | 'target'>; tokens: readonly number[] }[],
  maxK: number,
): AttemptRow[] {
  const written = new Array<number>(maxK).fill(0);
  const atRisk = new Array<number>(maxK).fill(0);
  const solves = new Array<number>(maxK).fill(0);
  const repeats = new Array<number>(maxK).fill(0);
  const malformed = new Array<number>(maxK).fill(0);
  const firstSolve = new Array<number>(maxK).fill(0);
  const wrongNumbers = new Array<number>(maxK).fill(0);
  const arithmetic = new Array<number>(maxK).fill(0);
  const uniform = new Array<number>(maxK).fill(0);
  const hits = new Array<number>(maxK).fill(0);
  const hitsChecked = new Array<number>(maxK).fill(0);
  const misses = new Array<number>(maxK).fill(0);
  const missesChecked = new Array<number>(maxK).fill(0);
  const legalOf = new Map<string, { keys: string[]; solves: boolean[] }>();
  for (const t of traces) {
    const tr = parseTrace(t.tokens);
    const seen = new Set<string>();
    let solved = false;
    const problemKey = `${t.problem.numbers.join(' ')}→${t.problem.target}`;
    let legal = legalOf.get(problemKey);
    if (!legal) {
      const chains = allChains(t.problem.numbers);
      legal = { keys: chains.map(stepsKey), solves: chains.map((c) => c.at(-1)!.z === t.problem.target) };
      legalOf.set(problemKey, legal);
    }
    const tried = new Set<string>();
    tr.attempts.slice(0, maxK).forEach((a, i) => {
      const cutOff = i === tr.attempts.length - 1 && !tr.hasEos && tr.answer === null && a.verdict === null;
      if (cutOff) return;
      written[i]!++;
      const check = a.steps ? checkChain(t.problem, a.steps) : null;
      if (!a.steps || !a.verdict) {
        malformed[i]!++;
      } else {
        const key = chainKey(a.tokens.slice(0, -1));
        if (seen.has(key)) repeats[i]!++;
        seen.add(key);
        if (check === 'wrong-numbers') wrongNumbers[i]!++;
        else if (a.steps.some((s) => trueValue(s.x, s.op, s.y) !== s.z)) arithmetic[i]!++;
        const hit = a.steps.at(-1)!.z === t.problem.target;
        (hit ? hits : misses)[i]!++;
        if (a.verdict === '✓') (hit ? hitsChecked : missesChecked)[i]!++;
      }
      if (solved) return;
      atRisk[i]!++;
      let left = 0,
        leftSolving = 0;
      legal!.keys.forEach((k, j) => {
        if (tried.has(k)) return;
        left++;
        if (legal!.solves[j]) leftSolving++;
      });
      uniform[i]! += left > 0 ? leftSolving / left : 0;
      if (a.steps) tried.add(stepsKey(a.steps));
      if (check === 'ok') {
        solves[i]!++;
        firstSolve[i]!++;
        solved = true;
      }
    });
  }
  const share = (a: number, b: number) => (b > 0 ? a / b : 0);
  let cumulative = 0;
  return written.map((w, i) => {
    cumulative += firstSolve[i]!;
    return {
      k: i + 1,
      written: w,
      hazard: share(solves[i]!, atRisk[i]!),
      repeats: share(repeats[i]!, w),
      malformed: share(malformed[i]!, w),
      wrongNumbers: share(wrongNumbers[i]!, w),
      arithmetic: share(arithmetic[i]!, w),
      uniformHazard: share(uniform[i]!, atRisk[i]!),
      solvedBy: share(cumulative, traces.length),
      checkWhenHit: hits[i]! > 0 ? hitsChecked[i]! / hits[i]! : null,
      falseCheck: share(missesChecked[i]!, misses[i]!),
    };
  });
}

/** `vg-gap --by-attempt K`: forced chains of K attempts on held-out problems, then the table. */
export function byAttempt(
  model: Gpt,
  o: {
    difficulty: number;
    problems: number;
    samples: number;
    maxK: number;
    seed: number;
    temperature: number;
    batchSize: number;
    onProgress?: (s: string) => void;
  },
): { difficulty: number; problems: number; samples: number; maxK: number; rows: AttemptRow[] } {
  const problems = evalSet(o.seed, o.difficulty, o.problems);
  const budget = model.config.contextLength - promptTokens(problems[0]!).length;
  const drawn = drawSamples(model, {
    problems,
    samplesPerProblem: o.samples,
    budgetTokens: budget,
    temperature: o.temperature,
    seed: o.seed + 1 + o.maxK,
    batchSize: o.batchSize,
    forbid: forcedChains(o.maxK),
    onBatch: (d, t) => o.onProgress?.(`forced chains of ${o.maxK}: ${d}/${t}`),
  });
  const rows = attemptTable(
    drawn.map((d) => ({ problem: d.problem, tokens: d.result.tokens })),
    o.maxK,
  );
  return { difficulty: o.difficulty, problems: problems.length, samples: o.samples, maxK: o.maxK, rows };
}

/**
 * The authors' cut: after C attempts (C delimiters) without an answer, the next token must be the
 * answer marker; before that the trace is free (it may answer sooner).
 */
export function cutAfter(c: number): (completion: readonly number[]) => readonly number[] | null {
  return (completion) => {
    if (completion.includes(ANSWER)) return null;
    if (completion.length > 0 && completion.at(-1) !== BAR) return null;
    let attempts = 0;
    for (const t of completion) if (t === BAR) attempts++;
    return attempts >= c ? ALL_BUT_ANSWER : null;
  };
}

export interface CutRow {
  cut: number;
  passAt1: number;
  meanAttempts: number;
  meanLength: number;
  /** Traces whose answer was forced (they reached C attempts). */
  forcedShare: number;
  /** Correct samples per held-out problem, in the evaluation set's order. */
  correct: number[];
}

/** `eval --cut-after 2,4,8,16`: pass@1 under the authors' protocol at each C. */
export function evalCutAfter(
  model: Gpt,
  o: {
    difficulty: number;
    problems: number;
    samples: number;
    cuts: number[];
    seed: number;
    temperature: number;
    batchSize: number;
    onProgress?: (s: string) => void;
  },
): { difficulty: number; problems: number; samples: number; rows: CutRow[] } {
  const problems = evalSet(o.seed, o.difficulty, o.problems);
  const budget = model.config.contextLength - promptTokens(problems[0]!).length;
  const rows: CutRow[] = [];
  for (const c of [...o.cuts].sort((a, b) => a - b)) {
    const drawn = drawSamples(model, {
      problems,
      samplesPerProblem: o.samples,
      budgetTokens: budget,
      temperature: o.temperature,
      seed: o.seed, // the same streams at every C: a trace that answers before C is the same trace
      batchSize: o.batchSize,
      forbid: cutAfter(c),
      onBatch: (d, t) => o.onProgress?.(`cut after ${c}: ${d}/${t}`),
    });
    const byProblem = new Map<string, number>();
    let correct = 0,
      attempts = 0,
      length = 0,
      forced = 0;
    for (const d of drawn) {
      const v = verify(d.problem, d.result.tokens);
      attempts += v.attempts;
      length += v.lengthTokens;
      if (v.attempts >= c) forced++;
      if (v.correct) {
        correct++;
        byProblem.set(d.problem.id, (byProblem.get(d.problem.id) ?? 0) + 1);
      }
    }
    const n = Math.max(1, drawn.length);
    rows.push({
      cut: c,
      passAt1: correct / n,
      meanAttempts: attempts / n,
      meanLength: length / n,
      forcedShare: forced / n,
      correct: problems.map((p) => byProblem.get(p.id) ?? 0),
    });
  }
  return { difficulty: o.difficulty, problems: problems.length, samples: o.samples, rows };
}

/**
 * The most attempts of `difficulty` numbers that fit a context of `contextLength` tokens with the
 * prompt and the answer (the synthesizer's room rule: an answer counted as an attempt's length + 1).
 */
export function attemptsThatFit(contextLength: number, difficulty: number): number {
  const per = attemptLength(difficulty);
  const prompt = difficulty + 4; // <bos>, the numbers, →, the target, ':'
  return Math.floor((contextLength - prompt - per - 1) / per);
}

/** --by-attempt / --cut-after: `attempts` must fit the model's context at `difficulty`. */
export function checkAttemptsFit(model: Gpt, difficulty: number, attempts: number, flag: string): void {
  const most = attemptsThatFit(model.config.contextLength, difficulty);
  if (attempts > most) {
    const need = difficulty + 4 + (attempts + 1) * attemptLength(difficulty) + 1;
    throw new InputError(
      `${flag}: ${attempts} attempts at ${difficulty} numbers need ${need} tokens with the answer, the model's context is ${model.config.contextLength} (at most ${most} attempts fit)`,
    );
  }
}
