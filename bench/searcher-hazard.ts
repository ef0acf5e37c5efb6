/**
 * What an ideal searcher does on the held-out Countdown problems (issue #28, docs/REPRODUCTION.md
 * "Base model v5"): the hazard by attempt index — the share of k-th attempts that solve among the
 * traces not solved before k — and the share solved by attempt k, for a searcher that draws random
 * legal chains (randomChain's distribution) without repeating one, and for a depth-first walk from a
 * random chain. No model: it says what a base's late attempts can be at best, before any training.
 *   npx tsx bench/searcher-hazard.ts [--problems 256] [--attempts 16] [--draws 40]
 */
import { parseArgs } from 'node:util';
import { allChains, evalSet, randomChain } from '../src/tasks/countdown/problems.js';
import type { Step } from '../src/tasks/countdown/arith.js';
import { Rng } from '../src/util/rng.js';

const { values } = parseArgs({
  options: {
    problems: { type: 'string', default: '256' },
    attempts: { type: 'string', default: '16' },
    draws: { type: 'string', default: '40' },
  },
});
const n = Number(values.problems);
const K = Number(values.attempts);
const draws = Number(values.draws);
for (const [name, v] of [
  ['--problems', n],
  ['--attempts', K],
  ['--draws', draws],
] as const)
  if (!Number.isInteger(v) || v < 1 || v > 100_000) {
    process.stderr.write(`${name}: expected an integer from 1 to 100000, got '${v}'\n`);
    process.exit(2);
  }
const key = (c: readonly Step[]) => c.map((s) => `${s.x}${s.op}${s.y}`).join(',');
const rng = new Rng('searcher-hazard');
const pct = (a: number[], b: number[]) => a.map((x, k) => ((100 * x) / Math.max(1, b[k]!)).toFixed(1)).join(' ');
for (const d of [3, 4]) {
  const problems = evalSet(0, d, n);
  const reach = new Array<number>(K).fill(0);
  const hit = new Array<number>(K).fill(0);
  const dReach = new Array<number>(K).fill(0);
  const dHit = new Array<number>(K).fill(0);
  for (const p of problems) {
    for (let r = 0; r < draws; r++) {
      const tried = new Set<string>();
      for (let k = 0; k < K; k++) {
        reach[k]!++;
        let c = randomChain(p.numbers, rng);
        for (let i = 0; i < 64 && tried.has(key(c)); i++) c = randomChain(p.numbers, rng);
        tried.add(key(c));
        if (c.at(-1)!.z === p.target) {
          hit[k]!++;
          break;
        }
      }
    }
    const order = allChains(p.numbers);
    for (let s = 0; s < order.length; s++)
      for (let k = 0; k < K; k++) {
        dReach[k]! += 1 / order.length;
        if (order[(s + k) % order.length]!.at(-1)!.z === p.target) {
          dHit[k]! += 1 / order.length;
          break;
        }
      }
  }
  let solved = 0;
  const by = hit.map((h) => ((solved += h) * 100) / (n * draws));
  console.log(`${d} numbers, ${n} held-out problems (seed 0), attempts 1…${K}`);
  console.log(`  random untried chains: hazard % ${pct(hit, reach)}`);
  console.log(`                         solved by k % ${by.map((x) => x.toFixed(0)).join(' ')}`);
  console.log(`  depth-first walk:      hazard % ${pct(dHit, dReach)}`);
}
