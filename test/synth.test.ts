import { describe, expect, it } from 'vitest';
import { Rng } from '../src/util/rng.js';
import { generateProblem } from '../src/tasks/countdown/problems.js';
import { BASE_KNOBS, NOVERIFY_KNOBS, synthesizeTrace, type SynthKnobs } from '../src/tasks/countdown/synth.js';
import { verify } from '../src/tasks/countdown/verifier.js';
import { parseTrace, checkChain } from '../src/tasks/countdown/trace.js';

function stats(knobs: SynthKnobs, n = 1500) {
  const rng = new Rng('synth');
  let attempts = 0, verdictRight = 0, verdicts = 0, hits = 0, maxLen = 0;
  for (let i = 0; i < n; i++) {
    const p = generateProblem(rng, 3, 'train');
    const t = synthesizeTrace(p, knobs, rng, 160);
    maxLen = Math.max(maxLen, t.prompt.length + t.completion.length);
    const v = verify(p, t.completion);
    attempts += v.attempts;
    verdicts += v.selfVerdicts;
    verdictRight += (v.selfVerdictAccuracy ?? 0) * v.selfVerdicts;
    for (const a of parseTrace(t.completion).attempts) if (a.steps && checkChain(p, a.steps) === 'ok') hits++;
  }
  return { meanAttempts: attempts / n, verifyAccuracy: verdictRight / verdicts, attemptSuccess: hits / attempts, maxLen };
}

describe('base-trace synthesizer', () => {
  it('writes short traces with correct verdicts for the base knobs, and some that fill the context', () => {
    const s = stats(BASE_KNOBS);
    expect(s.verifyAccuracy).toBe(1);
    expect(s.meanAttempts).toBeLessThan(2.5);
    expect(s.maxLen).toBeGreaterThan(140);
    expect(s.maxLen).toBeLessThanOrEqual(160);
  });

  it('makes verdicts unreliable for noverify', () => {
    const s = stats(NOVERIFY_KNOBS);
    expect(s.verifyAccuracy).toBeGreaterThan(0.4);
    expect(s.verifyAccuracy).toBeLessThan(0.6);
  });

  it('raises per-attempt success with generation skill', () => {
    const low = stats({ ...BASE_KNOBS, generationSkill: 0 });
    const high = stats({ ...BASE_KNOBS, generationSkill: 0.6 });
    expect(high.attemptSuccess).toBeGreaterThan(low.attemptSuccess + 0.2);
  });
});
