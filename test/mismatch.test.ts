/**
 * Controlled mismatch (issue #19, rollout.mismatch): bf16/fp16 rounding against hand-worked
 * values; logit noise seeded (same seed, same μ), absent at σ = 0; μ then differs from the
 * exact policy's log-probs by a measurable KL that grows with σ.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/tensor/backend.js';
import { Gpt } from '../src/policy/transformer/model.js';
import { scoreSequences } from '../src/policy/transformer/logprobs.js';
import { generateRollouts, type GenerateWork } from '../src/policy/generate.js';
import { roundWeights, toBf16, toFp16, MismatchSchema } from '../src/policy/mismatch.js';
import { VOCAB_SIZE, PAD } from '../src/tasks/countdown/tokenizer.js';
import { Rng } from '../src/util/rng.js';
import type { Rollout } from '../src/runtime/messages.js';
import { loadCheckpoint } from '../src/policy/checkpoint.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const CFG = { vocabSize: VOCAB_SIZE, dModel: 16, nHeads: 2, nLayers: 1, contextLength: 64 };
const work = (mismatch?: GenerateWork['mismatch']): GenerateWork => ({
  step: 3,
  problems: [
    { id: 'a', numbers: [3, 5, 7], target: 15, difficulty: 3 },
    { id: 'b', numbers: [2, 4, 9], target: 17, difficulty: 3 },
  ],
  groupSize: 4,
  budgetTokens: 12,
  temperature: 1,
  seed: 7,
  mismatch,
});
const gen = (m: Gpt, w: GenerateWork) => generateRollouts(m, w, () => 0).rollouts;

/** Mean over tokens of k3 = r − 1 − log r with r = π/μ, π the exact model's log-probs. */
function klToExact(model: Gpt, rs: Rollout[]): number {
  let sum = 0;
  let n = 0;
  for (const r of rs) {
    const toks = Int32Array.from([...r.prompt, ...r.completion]);
    const own = scoreSequences(model, toks, 1, toks.length, PAD, 1).logprobs;
    r.completion.forEach((_, j) => {
      const l = own[r.prompt.length + j - 1]! - r.behaviourLogprobs[j]!;
      sum += Math.exp(l) - 1 - l;
      n++;
    });
  }
  return sum / n;
}

describe('rollout.mismatch', () => {
  it('rounds to bf16 and fp16 to nearest, ties to even, with fp16 subnormals and overflow', () => {
    expect(toBf16(1 + 2 ** -8)).toBe(1); // a tie below: even
    expect(toBf16(1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6); // a tie above: even
    expect(toBf16(1 + 0.75 * 2 ** -7)).toBe(1 + 2 ** -7);
    expect(toBf16(1 / 3)).toBe(0.333984375);
    expect(toFp16(1 + 2 ** -11)).toBe(1);
    expect(toFp16(1 + 1.5 * 2 ** -10)).toBe(1 + 2 ** -9);
    expect(toFp16(65504)).toBe(65504);
    expect(toFp16(65520)).toBe(Infinity);
    expect(toFp16(-0.1)).toBe(-0.0999755859375);
    expect(toFp16(6e-8)).toBe(2 ** -24); // the smallest subnormal
    expect(toFp16(2 ** -26)).toBe(0);
    const w = { manifest: { tensors: [] } as never, data: Float32Array.from([1 / 3, -0.1]) };
    expect(Array.from(roundWeights(w, 'bf16').data)).toEqual([0.333984375, Math.fround(-0.10009765625)]);
    expect(roundWeights(w, 'exact')).toBe(w);
    expect(() => MismatchSchema.parse({ logitNoise: -1 })).toThrow();
  });

  it('logit noise: the same seed gives the same μ; σ = 0 is the exact sampler; μ moves away as σ grows', () => {
    const model = Gpt.create(CFG, new Rng('mismatch-model'));
    const exact = gen(model, work());
    expect(gen(model, work({ weights: 'exact', logitNoise: 0 }))).toEqual(exact);
    const noisy = gen(model, work({ weights: 'exact', logitNoise: 0.5 }));
    expect(gen(model, work({ weights: 'exact', logitNoise: 0.5 }))).toEqual(noisy);
    expect(noisy).not.toEqual(exact);
    const kl0 = klToExact(model, exact);
    const kl05 = klToExact(model, noisy);
    const kl2 = klToExact(model, gen(model, work({ weights: 'exact', logitNoise: 2 })));
    expect(kl0).toBeLessThan(1e-5); // the sampler's own log-probs, up to float32 round-off
    expect(kl05).toBeGreaterThan(1e-3);
    expect(kl2).toBeGreaterThan(kl05);
  });

  it("bf16 and fp16 weights of the base model: μ is the rounded model's, a KL from the exact one far above round-off", () => {
    const base = loadCheckpoint('examples/checkpoints/base-countdown');
    const model = Gpt.fromPacked(base.manifest.config, base.weights, 'base');
    const roundOff = klToExact(model, gen(model, work()));
    const kl = (f: 'bf16' | 'fp16') =>
      klToExact(model, gen(Gpt.fromPacked(base.manifest.config, roundWeights(base.weights, f), f), work()));
    const bf16 = kl('bf16');
    const fp16 = kl('fp16');
    expect(bf16).toBeGreaterThan(100 * roundOff);
    expect(bf16).toBeGreaterThan(fp16); // 8 bits of mantissa against 11
    expect(bf16).toBeLessThan(0.05);
  });
});
