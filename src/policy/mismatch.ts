/**
 * Controlled train/inference mismatch (issue #19, `rollout.mismatch`): the samplers sample from a
 * seeded, known perturbation of the learner's policy, so importance weights have something to
 * correct even in sync mode — the way a bf16 inference engine differs from an fp32 trainer.
 *
 *   weights     the sampler's copy of the weights rounded to bf16 (8-bit mantissa) or fp16
 *               (11-bit significand, 5-bit exponent: overflow to ±∞, subnormals below 2^-14),
 *               round-to-nearest-even, then computed in fp32 as before
 *   logitNoise  σ · N(0, 1) added to every logit before sampling, from a stream keyed by the
 *               rollout's seed (same seed, same noise, same μ); σ = 0 draws nothing
 *
 * The learner always computes with its exact weights and no noise; μ (the recorded log-probs) is
 * the perturbed policy's, so mismatchKlBehaviour measures the gap.
 */
import { z } from 'zod';
import type { PackedWeights } from '../tensor/pack.js';

export const MismatchSchema = z
  .object({
    weights: z.enum(['exact', 'bf16', 'fp16']).default('exact'),
    logitNoise: z.number().min(0).max(10).default(0),
  })
  .strict();
export type Mismatch = z.infer<typeof MismatchSchema>;
export type WeightsFormat = Mismatch['weights'];

export const mismatchActive = (m: Mismatch | undefined): boolean =>
  m !== undefined && (m.weights !== 'exact' || m.logitNoise > 0);

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** x rounded to bf16 (round to nearest, ties to even), as a float32. NaN and ±∞ pass through. */
export function toBf16(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  if ((u & 0x7f800000) === 0x7f800000) return f32[0]!; // NaN, ±∞
  const rounded = (u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000;
  u32[0] = rounded >>> 0;
  return f32[0]!;
}

/** x rounded to IEEE binary16 (round to nearest, ties to even, with subnormals and overflow to ±∞), as a float32. */
export function toFp16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return x > 0 ? Infinity : -Infinity; // 65504 + half an ulp rounds up
  const e = Math.max(Math.floor(Math.log2(a)), -14); // subnormals share the exponent of 2^-14
  let ulp = 2 ** (e - 10);
  // log2 may be off by one at powers of two
  if (a >= 2 ** (e + 1)) ulp *= 2;
  const q = a / ulp; // exact: ulp is a power of two
  let n = Math.round(q);
  if (q - Math.floor(q) === 0.5 && n % 2 === 1) n -= 1; // ties to even
  return Math.sign(x) * n * ulp;
}

/** A copy of `w` with every value rounded to `format` (the same object for exact). */
export function roundWeights(w: PackedWeights, format: WeightsFormat): PackedWeights {
  if (format === 'exact') return w;
  const round = format === 'bf16' ? toBf16 : toFp16;
  const data = new Float32Array(w.data.length);
  for (let i = 0; i < data.length; i++) data[i] = round(w.data[i]!);
  return { manifest: w.manifest, data };
}
