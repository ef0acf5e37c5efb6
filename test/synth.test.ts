import { describe, expect, it } from 'vitest';
import { Rng } from '../src/util/rng.js';
import { allChains, generateProblem, randomChain, solveChains, type Problem } from '../src/tasks/countdown/problems.js';
import type { Step } from '../src/tasks/countdown/arith.js';
import { BASE_KNOBS, NOVERIFY_KNOBS, synthesizeTrace, type SynthKnobs } from '../src/tasks/countdown/synth.js';
import { verify } from '../src/tasks/countdown/verifier.js';
import { parseTrace, checkChain } from '../src/tasks/countdown/trace.js';

function stats(knobs: SynthKnobs, n = 1500, context = 320) {
  const rng = new Rng('synth');
  let attempts = 0,
    verdictRight = 0,
    verdicts = 0,
    hits = 0,
    maxLen = 0;
  const byIndex: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const p = generateProblem(rng, 3, 'train');
    const t = synthesizeTrace(p, knobs, rng, context);
    maxLen = Math.max(maxLen, t.prompt.length + t.completion.length);
    const v = verify(p, t.completion);
    attempts += v.attempts;
    verdicts += v.selfVerdicts;
    verdictRight += (v.selfVerdictAccuracy ?? 0) * v.selfVerdicts;
    parseTrace(t.completion).attempts.forEach((a, k) => {
      const ok = Boolean(a.steps && checkChain(p, a.steps) === 'ok');
      if (ok) hits++;
      byIndex[k] ??= [0, 0];
      byIndex[k]![0] += ok ? 1 : 0;
      byIndex[k]![1]++;
    });
  }
  return {
    meanAttempts: attempts / n,
    verifyAccuracy: verdictRight / verdicts,
    attemptSuccess: hits / attempts,
    maxLen,
    byIndex,
  };
}

describe('base-trace synthesizer (v2)', () => {
  it('writes short traces with correct verdicts for the base knobs: the base gives up early', () => {
    const s = stats(BASE_KNOBS);
    expect(s.verifyAccuracy).toBe(1);
    expect(s.meanAttempts).toBeLessThan(1.5);
    expect(s.attemptSuccess).toBeCloseTo(BASE_KNOBS.generationSkill, 1);
  });

  it("is stationary: attempt success by attempt index stays within ±0.03 of the first attempt's", () => {
    // Traces that always continue after a ✗ (longFraction 1), so every index has thousands of attempts.
    const s = stats({ ...BASE_KNOBS, generationSkill: 0.3, longFraction: 1 }, 6000);
    const rate = ([h, n]: [number, number]) => h / n;
    const first = rate(s.byIndex[0]!);
    expect(first).toBeCloseTo(0.3, 1);
    for (let k = 1; k < 5; k++) {
      expect(s.byIndex[k]![1]).toBeGreaterThan(1000);
      expect(Math.abs(rate(s.byIndex[k]!) - first)).toBeLessThan(0.03);
    }
  });

  it('never repeats an attempt within a trace while an untried chain exists', () => {
    const rng = new Rng('no-repeat');
    let checked = 0;
    for (let i = 0; i < 300; i++) {
      const p = generateProblem(rng, 3, 'train');
      const t = synthesizeTrace(p, { ...BASE_KNOBS, generationSkill: 0.2, longFraction: 1 }, rng, 320);
      const keys = parseTrace(t.completion).attempts.map((a) => JSON.stringify(a.steps));
      // 3 numbers: at least 3! / 2 orders × legal ops leave far more chains than attempts fit in 320 tokens.
      expect(new Set(keys).size).toBe(keys.length);
      checked += keys.length;
    }
    expect(checked).toBeGreaterThan(300);
  });

  it('with unreliable verdicts, a believed-wrong solution is followed by another solution, not the same one', () => {
    const rng = new Rng('noverify-repeat');
    for (let i = 0; i < 200; i++) {
      const p = generateProblem(rng, 3, 'train');
      if (solveChains(p, 64).length < 2) continue;
      const t = synthesizeTrace(p, { ...NOVERIFY_KNOBS, generationSkill: 1, longFraction: 1 }, rng, 320);
      const keys = parseTrace(t.completion).attempts.map((a) => JSON.stringify(a.steps));
      expect(new Set(keys).size).toBe(keys.length);
    }
  });

  it('makes verdicts unreliable for noverify', () => {
    const s = stats(NOVERIFY_KNOBS);
    expect(s.verifyAccuracy).toBeGreaterThan(0.4);
    expect(s.verifyAccuracy).toBeLessThan(0.6);
  });

  it('raises per-attempt success with generation skill', () => {
    const low = stats({ ...BASE_KNOBS, generationSkill: 0 });
    const high = stats({ ...BASE_KNOBS, generationSkill: 0.6 });
    expect(low.attemptSuccess).toBe(0);
    expect(high.attemptSuccess).toBeGreaterThan(0.55);
  });
});

describe('base-trace synthesizer v3: given failures train every attempt index', () => {
  const V3: SynthKnobs = { ...BASE_KNOBS, generationSkill: 0.3, givenFailuresFraction: 0.5 };
  const run = (n: number) => {
    const rng = new Rng('synth-v3');
    const reach = new Array<number>(24).fill(0);
    const hits = new Array<number>(24).fill(0);
    let ownAttempts = 0;
    let repeats = 0;
    for (let i = 0; i < n; i++) {
      const p = generateProblem(rng, 3, 'train');
      const t = synthesizeTrace(p, V3, rng, 384);
      expect(t.prompt.length + t.given.length + t.completion.length).toBeLessThanOrEqual(384);
      const given = parseTrace(t.given).attempts;
      expect(given).toHaveLength(t.givenAttempts);
      // Every given attempt is a well-formed failure with its ✗.
      for (const a of given) {
        expect(a.verdict).toBe('✗');
        expect(checkChain(p, a.steps!)).not.toBe('ok');
      }
      const own = parseTrace(t.completion).attempts;
      const keys = [...given, ...own].map((a) => JSON.stringify(a.steps));
      repeats += keys.length - new Set(keys).size;
      ownAttempts += own.length;
      own.forEach((a, j) => {
        const k = t.givenAttempts + j;
        reach[k]!++;
        if (a.steps && checkChain(p, a.steps) === 'ok') hits[k]!++;
      });
    }
    return { reach, hits, meanOwnAttempts: ownAttempts / n, repeats };
  };

  it('trains every index up to 16 with a floor of 1% of traces, at a success rate within ±0.03 of attempt 1, no repeats', () => {
    const n = 6000;
    const s = run(n);
    expect(s.repeats).toBe(0);
    for (let k = 0; k < 16; k++) expect(s.reach[k]! / n).toBeGreaterThan(0.01);
    // Index bands (one index alone holds ≈ 200 trained attempts: too few for ±0.03).
    const rate = (lo: number, hi: number) => {
      let h = 0,
        r = 0;
      for (let k = lo; k < hi; k++) {
        h += s.hits[k]!;
        r += s.reach[k]!;
      }
      return h / r;
    };
    const first = rate(0, 1);
    expect(first).toBeCloseTo(0.3, 1);
    for (const [lo, hi] of [
      [1, 4],
      [4, 8],
      [8, 12],
      [12, 16],
    ] as const)
      expect(Math.abs(rate(lo, hi) - first)).toBeLessThan(0.03);
    // The model's own traces stay short: RL has room to lengthen them.
    expect(s.meanOwnAttempts).toBeLessThan(1.5);
  });
});

/** Attempt-index bands: one index alone holds too few trained attempts for ±0.03. */
const BANDS = [
  [1, 4],
  [4, 8],
  [8, 12],
  [12, 16],
] as const;

/** Success rate of the attempts at indices lo … hi − 1. */
/** Per attempt index (given prefix included, below 24): traces that reach it and those whose attempt there solves. */
function countByIndex(
  own: readonly { steps: Step[] | null }[],
  given: number,
  p: Pick<Problem, 'numbers' | 'target'>,
  reach: number[],
  hits: number[],
): void {
  own.forEach((a, j) => {
    const k = given + j;
    if (k >= 24) return;
    reach[k]!++;
    if (a.steps && checkChain(p, a.steps) === 'ok') hits[k]!++;
  });
}

const bandRate = (hits: readonly number[], reach: readonly number[]) => (lo: number, hi: number) => {
  let h = 0,
    r = 0;
  for (let k = lo; k < hi; k++) {
    h += hits[k]!;
    r += reach[k]!;
  }
  return h / r;
};

describe('base-trace synthesizer v4: depth-first search order', () => {
  const V4: SynthKnobs = { ...BASE_KNOBS, searchOrder: 'dfs', longFraction: 0.05, givenFailuresFraction: 0.5 };
  const run = (difficulty: number, n: number) => {
    const rng = new Rng(`synth-v4/${difficulty}`);
    const reach = new Array<number>(24).fill(0);
    const hits = new Array<number>(24).fill(0);
    let ownAttempts = 0;
    let repeats = 0;
    let successorsChecked = 0;
    for (let i = 0; i < n; i++) {
      const p = generateProblem(rng, difficulty, 'train');
      const t = synthesizeTrace(p, V4, rng, 384);
      expect(t.prompt.length + t.given.length + t.completion.length).toBeLessThanOrEqual(384);
      const given = parseTrace(t.given).attempts;
      expect(given).toHaveLength(t.givenAttempts);
      for (const a of given) {
        expect(a.verdict).toBe('✗');
        expect(checkChain(p, a.steps!)).not.toBe('ok');
      }
      const own = parseTrace(t.completion).attempts;
      const all = [...given, ...own].map((a) => JSON.stringify(a.steps));
      repeats += all.length - new Set(all).size;
      // each attempt is the depth-first successor of the one before (cyclically)
      if (i < 200) {
        const order = allChains(p.numbers).map((c) => JSON.stringify(c));
        for (let j = 1; j < all.length; j++) {
          expect(order.indexOf(all[j]!)).toBe((order.indexOf(all[j - 1]!) + 1) % order.length);
          successorsChecked++;
        }
      }
      ownAttempts += own.length;
      countByIndex(own, t.givenAttempts, p, reach, hits);
    }
    const rate = bandRate(hits, reach);
    return { reach, rate, meanOwnAttempts: ownAttempts / n, repeats, successorsChecked };
  };

  it('4 numbers: every index up to 16 trained (floor 1%), success within ±0.03 of attempt 1, successors in order, no repeats', () => {
    const n = 3000;
    const s = run(4, n);
    expect(s.repeats).toBe(0);
    expect(s.successorsChecked).toBeGreaterThan(500);
    for (let k = 0; k < 16; k++) expect(s.reach[k]! / n).toBeGreaterThan(0.01);
    const first = s.rate(0, 1);
    for (const [lo, hi] of BANDS) expect(Math.abs(s.rate(lo, hi) - first)).toBeLessThan(0.03);
    expect(s.meanOwnAttempts).toBeLessThan(2); // gives up early on its own
  });

  it('3 numbers (a pool of at most 96 chains, searched without replacement): the success rate never falls below attempt 1', () => {
    const n = 3000;
    const s = run(3, n);
    expect(s.repeats).toBe(0);
    const first = s.rate(0, 1);
    for (const [lo, hi] of BANDS) expect(s.rate(lo, hi)).toBeGreaterThan(first - 0.03);
  });
});

describe('base-trace synthesizer v5: uniform search order', () => {
  const V5: SynthKnobs = { ...BASE_KNOBS, searchOrder: 'uniform', longFraction: 0.05, givenFailuresFraction: 0.5 };
  const run = (difficulty: number, n: number, knobs = V5) => {
    const rng = new Rng(`synth-v5/${difficulty}`);
    const reach = new Array<number>(24).fill(0);
    const hits = new Array<number>(24).fill(0);
    let ownAttempts = 0;
    let plain = 0;
    let repeats = 0;
    // attempt 1 of the traces without a prefix beside one randomChain draw on the same problem
    let firstHits = 0;
    let drawHits = 0;
    const traces: number[][] = [];
    for (let i = 0; i < n; i++) {
      const p = generateProblem(rng, difficulty, 'train');
      const t = synthesizeTrace(p, knobs, rng, 384);
      traces.push([...t.given, ...t.completion]);
      expect(t.prompt.length + t.given.length + t.completion.length).toBeLessThanOrEqual(384);
      const given = parseTrace(t.given).attempts;
      for (const a of given) expect(checkChain(p, a.steps!)).not.toBe('ok');
      const own = parseTrace(t.completion).attempts;
      const all = [...given, ...own].map((a) => JSON.stringify(a.steps));
      repeats += all.length - new Set(all).size;
      if (t.givenAttempts === 0) {
        plain++;
        ownAttempts += own.length;
        if (checkChain(p, own[0]!.steps!) === 'ok') firstHits++;
        if (randomChain(p.numbers, rng).at(-1)!.z === p.target) drawHits++;
      }
      countByIndex(own, t.givenAttempts, p, reach, hits);
    }
    const rate = bandRate(hits, reach);
    return {
      reach,
      rate,
      meanOwnAttempts: ownAttempts / plain,
      repeats,
      first: firstHits / plain,
      draw: drawHits / plain,
      traces,
    };
  };

  it('4 numbers: every index up to 16 trained (floor 1%), success within ±0.03 of attempt 1, no repeats, short own traces', () => {
    const n = 3000;
    const s = run(4, n);
    expect(s.repeats).toBe(0);
    for (let k = 0; k < 16; k++) expect(s.reach[k]! / n).toBeGreaterThan(0.01);
    const first = s.rate(0, 1);
    for (const [lo, hi] of BANDS) expect(Math.abs(s.rate(lo, hi) - first)).toBeLessThan(0.03);
    expect(s.meanOwnAttempts).toBeLessThan(2); // gives up early on its own (1.70 here: long traces at 4% a try)
  });

  it('has no preference for solutions: attempt 1 solves as often as a random chain, whatever generationSkill says', () => {
    const s = run(3, 3000);
    // a random legal chain solves 3-number problems ≈ 8% of the time; a preference (skill 0.3) ≈ 30%
    expect(Math.abs(s.first - s.draw)).toBeLessThan(0.025);
    const other = run(3, 300, { ...V5, generationSkill: 0.9 });
    expect(other.traces).toEqual(s.traces.slice(0, 300));
  });
});
