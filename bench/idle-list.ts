/**
 * Ways to take the virtual clock's idle samplers off the front of their list (sim/state.ts
 * `takeIdle`, `SimState.idle`), in ns a take, for three patterns: one sampler goes idle and is
 * taken at a time; 4,096 go idle, then all are taken; 16,384 wait while one comes and one goes.
 * `shift` is what the clock did; "empty at 0" sets `length = 0` when the last is taken (a first
 * version of the change); "cut back only" is `takeIdle` itself; `copyWithin` moves the rest down
 * in place. Medians of 5. BENCHMARKS.md "Idle samplers taken by index".
 *   npx tsx bench/idle-list.ts
 */
import { takeIdle, type SimState } from '../src/sim/state.js';

type List = { idle: number[]; idleHead: number };
const WAYS: Record<string, (s: List) => number> = {
  shift: (s) => s.idle.shift()!,
  'empty at 0': (s) => {
    const i = s.idle[s.idleHead++]!;
    if (s.idleHead === s.idle.length) {
      s.idle.length = 0;
      s.idleHead = 0;
    } else if (s.idleHead >= 64 && 2 * s.idleHead >= s.idle.length) {
      s.idle.splice(0, s.idleHead);
      s.idleHead = 0;
    }
    return i;
  },
  'cut back only': (s) => takeIdle(s as SimState),
  copyWithin: (s) => {
    const i = s.idle[s.idleHead++]!;
    if (s.idleHead >= 64 && 2 * s.idleHead >= s.idle.length) {
      s.idle.copyWithin(0, s.idleHead);
      s.idle.length -= s.idleHead;
      s.idleHead = 0;
    }
    return i;
  },
};

/** ns a take: `waiting` on the list from the start, then `rounds` of `burst` pushes and as many takes. */
function time(take: (s: List) => number, waiting: number, burst: number, rounds: number): number {
  const s: List = { idle: Array.from({ length: waiting }, (_, i) => i), idleHead: 0 };
  let sum = 0;
  let last: { k: number; sum: number } | null = null; // a little garbage per take, as the clock makes
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < burst; k++) s.idle.push(k);
    for (let k = 0; k < burst; k++) {
      sum += take(s);
      last = { k, sum };
    }
  }
  const ns = ((performance.now() - t0) * 1e6) / (rounds * burst);
  if (last === null || sum < 0) throw new Error('unreachable');
  return ns;
}

const PATTERNS: [string, number, number, number][] = [
  ['one goes idle, one is taken', 0, 1, 3_000_000],
  ['4,096 go idle, then all are taken', 0, 4096, 700],
  ['16,384 waiting, one in, one out', 16384, 1, 1_000_000],
];
console.log(`| pattern | ${Object.keys(WAYS).join(' | ')} |`);
const align = Object.keys(WAYS).map(() => '---:');
console.log(`|---|${align.join('|')}|`);
for (const [name, waiting, burst, rounds] of PATTERNS) {
  const ns: Record<string, number[]> = {};
  for (let rep = 0; rep < 5; rep++)
    for (const [way, take] of Object.entries(WAYS)) (ns[way] ??= []).push(time(take, waiting, burst, rounds));
  const med = (x: number[]) => [...x].sort((a, b) => a - b)[2]!;
  console.log(
    `| ${name} | ${Object.values(ns)
      .map((x) => med(x).toFixed(0))
      .join(' | ')} |`,
  );
}
