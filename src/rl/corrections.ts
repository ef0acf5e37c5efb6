/**
 * The staleness corrections' per-token weights, on the host (plain arrays: each is a few lines of
 * arithmetic, tested against hand-computed values in test/corrections.test.ts). For a token t of
 * rollout s with log-ratio ℓ_t = log π_old(t) − log μ(t) over the unmasked tokens:
 *
 *   token       r_t = exp(ℓ_t)
 *   sequence    R_s = exp(Σ_{t∈s} ℓ_t)          (the product of the token ratios)
 *   geometric   G_s = exp(mean_{t∈s} ℓ_t)       (their geometric mean)
 *
 * `tis` truncates: w = min(ratio, c), with π_old = π_θ now (PipelineRL's token TIS; VCPO's
 * sequence TIS). `decoupled` is token-level with π_old = π_prox, capped at c when given (AReaL).
 * `masked` keeps the ratio inside [low, high] and zeroes it outside (IcePop at token level, TRL's
 * sequence mask, SkyRL's geometric mask), with π_old = π_prox; a zeroed token stays in the loss's
 * denominator and is counted in `masked`. `none`, `drop` and `asym-clip` (a clip, not a weight)
 * weigh every token 1. `topr` weighs a token with A ≥ 0 by 1 and one with A < 0 by min(r_t, c),
 * π_old = π_θ now (TOPR's truncated IS on negatives only).
 */
import type { Correction } from './lossConfig.js';

export interface CorrectionWeights {
  /** Per token: the detached weight multiplying the token's surrogate (0 where masked). */
  weight: Float32Array;
  /** Unmasked tokens whose weight the correction zeroed (masked IS outside [low, high]). */
  masked: number;
  /** Unmasked tokens whose weight was truncated at c (tis, decoupled with c, topr). */
  truncated: number;
  /** topr: unmasked negative tokens weighted below 1 (r_t < 1). */
  downweighted: number;
}

/**
 * The weights of `c` for tokens with log π_old `old`, log μ `mu`, loss mask `mask` (0 = not
 * trained) and rollout index `sequence`. Masked-out tokens get weight 0.
 */
export function correctionWeights(
  c: Correction,
  old: ArrayLike<number>,
  mu: ArrayLike<number>,
  mask: ArrayLike<number>,
  sequence: ArrayLike<number>,
  advantages?: ArrayLike<number>,
): CorrectionWeights {
  const N = mask.length;
  const weight = new Float32Array(N);
  let masked = 0;
  let truncated = 0;
  let downweighted = 0;
  if (c.kind === 'none' || c.kind === 'drop' || c.kind === 'asym-clip') {
    for (let i = 0; i < N; i++) weight[i] = mask[i]! > 0 ? 1 : 0;
    return { weight, masked, truncated, downweighted };
  }
  if (c.kind === 'topr') {
    if (!advantages) throw new Error('correctionWeights: topr needs the advantages');
    const cap = c.c ?? 1;
    const r = tokenRatios(old, mu, mask);
    for (let i = 0; i < N; i++) {
      if (!(mask[i]! > 0)) continue;
      if (advantages[i]! >= 0) weight[i] = 1;
      else {
        if (r[i]! > cap) truncated++;
        if (r[i]! < 1) downweighted++;
        weight[i] = Math.min(r[i]!, cap);
      }
    }
    return { weight, masked, truncated, downweighted };
  }
  const level = c.kind === 'decoupled' ? 'token' : (c.level ?? 'token');
  const ratio = level === 'token' ? tokenRatios(old, mu, mask) : sequenceRatios(old, mu, mask, sequence, level);
  for (let i = 0; i < N; i++) {
    if (!(mask[i]! > 0)) continue;
    const r = ratio[i]!;
    if (c.kind === 'masked') {
      if (r >= c.low && r <= c.high) weight[i] = r;
      else masked++;
    } else {
      const cap = c.c ?? Number.POSITIVE_INFINITY;
      if (r > cap) truncated++;
      weight[i] = Math.min(r, cap);
    }
  }
  return { weight, masked, truncated, downweighted };
}

function tokenRatios(old: ArrayLike<number>, mu: ArrayLike<number>, mask: ArrayLike<number>): Float64Array {
  const out = new Float64Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = mask[i]! > 0 ? Math.exp(old[i]! - mu[i]!) : 0;
  return out;
}

/** Every unmasked token of a rollout gets its rollout's product (sequence) or geometric-mean ratio. */
function sequenceRatios(
  old: ArrayLike<number>,
  mu: ArrayLike<number>,
  mask: ArrayLike<number>,
  sequence: ArrayLike<number>,
  level: 'sequence' | 'geometric',
): Float64Array {
  const sum = new Map<number, number>();
  const count = new Map<number, number>();
  for (let i = 0; i < mask.length; i++) {
    if (!(mask[i]! > 0)) continue;
    const s = sequence[i]!;
    sum.set(s, (sum.get(s) ?? 0) + (old[i]! - mu[i]!));
    count.set(s, (count.get(s) ?? 0) + 1);
  }
  const out = new Float64Array(mask.length);
  for (let i = 0; i < mask.length; i++) {
    if (!(mask[i]! > 0)) continue;
    const s = sequence[i]!;
    out[i] = Math.exp(level === 'sequence' ? sum.get(s)! : sum.get(s)! / count.get(s)!);
  }
  return out;
}
