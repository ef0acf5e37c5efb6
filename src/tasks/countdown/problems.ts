/**
 * Countdown problems. Difficulty d = how many numbers (3…6). Numbers are drawn uniformly from
 * 1..9 (repeats allowed). The target is the value of a real chain over all the numbers — a random
 * order, each step `x op y` with op in + - * / — whose every intermediate value is an integer in
 * 0..99; targets equal to one of the numbers are redrawn. So every problem is solvable as a chain
 * that uses each number exactly once, and `witness` holds one such chain.
 *
 * Train and held-out sets are disjoint by construction: a problem's canonical key (sorted numbers
 * and target) hashes into one of 5 buckets; bucket 0 is held out for evaluation.
 */
import { hash32, Rng } from '../../util/rng.js';
import { InputError } from '../../util/errors.js';
import { applyOp, type Step } from './arith.js';
import { OPS, type Op } from './tokenizer.js';

export const MIN_DIFFICULTY = 3;
export const MAX_DIFFICULTY = 6;
export const NUMBER_MIN = 1;
export const NUMBER_MAX = 9;
export const HELD_OUT_BUCKETS = 5;

export type Split = 'train' | 'eval';

export interface Problem {
  id: string;
  difficulty: number;
  numbers: number[];
  target: number;
  witness: Step[];
}

export function checkDifficulty(d: number, field = '--difficulty'): number {
  if (!Number.isInteger(d) || d < MIN_DIFFICULTY || d > MAX_DIFFICULTY) {
    throw new InputError(
      `${field}: expected an integer number count in ${MIN_DIFFICULTY}..${MAX_DIFFICULTY}, got ${d}`,
    );
  }
  return d;
}

export function problemKey(numbers: readonly number[], target: number): string {
  return `${[...numbers].sort((a, b) => a - b).join(',')}>${target}`;
}

export function splitOf(numbers: readonly number[], target: number): Split {
  return hash32(problemKey(numbers, target)) % HELD_OUT_BUCKETS === 0 ? 'eval' : 'train';
}

/** A random legal chain over `numbers` in a random order (all intermediate values in range). */
export function randomChain(numbers: readonly number[], rng: Rng): Step[] {
  const order = rng.shuffle([...numbers]);
  const steps: Step[] = [];
  let x = order[0]!;
  for (let i = 1; i < order.length; i++) {
    const y = order[i]!;
    const legal = OPS.filter((op) => applyOp(x, op, y) !== null);
    const op: Op = rng.pick(legal); // '+' or '-' is always legal for y <= 9
    const z = applyOp(x, op, y)!;
    steps.push({ x, op, y, z });
    x = z;
  }
  return steps;
}

export function generateProblem(rng: Rng, difficulty: number, split: Split): Problem {
  checkDifficulty(difficulty);
  for (let tries = 0; tries < 10_000; tries++) {
    const numbers = Array.from({ length: difficulty }, () => NUMBER_MIN + rng.int(NUMBER_MAX - NUMBER_MIN + 1));
    const witness = randomChain(numbers, rng);
    const target = witness.at(-1)!.z;
    if (target < 1 || numbers.includes(target)) continue;
    if (splitOf(numbers, target) !== split) continue;
    return { id: `d${difficulty}:${problemKey(numbers, target)}`, difficulty, numbers, target, witness };
  }
  throw new Error(`countdown: could not draw a ${split} problem of difficulty ${difficulty} in 10000 tries`);
}

/**
 * A held-out evaluation set: `n` distinct problems of one difficulty, fixed by (seed, difficulty).
 * The same seed always yields the same list, and a longer list extends a shorter one.
 */
export function evalSet(seed: number | string, difficulty: number, n: number): Problem[] {
  checkDifficulty(difficulty);
  const rng = new Rng(`countdown-eval/${seed}/${difficulty}`);
  const seen = new Set<string>();
  const out: Problem[] = [];
  for (let tries = 0; out.length < n; tries++) {
    if (tries > 50 * n + 10_000)
      throw new InputError(
        `countdown: only ${out.length} distinct held-out problems of difficulty ${difficulty} exist; asked for ${n}`,
      );
    const p = generateProblem(rng, difficulty, 'eval');
    if (seen.has(p.id)) continue;
    seen.add(p.id);
    out.push(p);
  }
  return out;
}

/** Solutions of `p` as chains (depth-first, at most `limit`, bounded work). */
export function solveChains(p: Pick<Problem, 'numbers' | 'target'>, limit = 32, nodeBudget = 200_000): Step[][] {
  const out: Step[][] = [];
  walkChains(
    p.numbers,
    (steps) => {
      if (steps.at(-1)!.z === p.target) out.push(steps.map((s) => ({ ...s })));
      return out.length >= limit;
    },
    nodeBudget,
  );
  return out;
}

/** Every legal chain over `numbers` (depth-first, at most `limit`, bounded work): the synthesizer's last resort against repeats. */
export function allChains(numbers: readonly number[], limit = 4096, nodeBudget = 200_000): Step[][] {
  const out: Step[][] = [];
  walkChains(
    numbers,
    (steps) => {
      out.push(steps.map((s) => ({ ...s })));
      return out.length >= limit;
    },
    nodeBudget,
  );
  return out;
}

/**
 * Visits every legal chain that uses each number once (equal numbers tried once per position),
 * depth-first, until `visit` returns true or `nodeBudget` nodes were expanded.
 */
function walkChains(numbers: readonly number[], visit: (steps: readonly Step[]) => boolean, nodeBudget: number): void {
  let nodes = 0;
  let stop = false;
  const n = numbers.length;
  const used = new Array<boolean>(n).fill(false);
  const steps: Step[] = [];
  const go = (x: number, depth: number): void => {
    if (stop || ++nodes > nodeBudget) return;
    if (depth === n) {
      stop = visit(steps);
      return;
    }
    const tried = new Set<number>();
    for (let i = 0; i < n; i++) {
      if (used[i] || tried.has(numbers[i]!)) continue;
      tried.add(numbers[i]!);
      used[i] = true;
      const y = numbers[i]!;
      if (depth === 0) go(y, 1);
      else
        for (const op of OPS) {
          const z = applyOp(x, op, y);
          if (z === null) continue;
          steps.push({ x, op, y, z });
          go(z, depth + 1);
          steps.pop();
        }
      used[i] = false;
    }
  };
  go(0, 0);
}
