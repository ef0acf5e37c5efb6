/**
 * The e3 objective, written out term by term (CleanRL style). Per token t of a trajectory with
 * group-normalised advantage A:
 *
 *   ratio_t        = π_θ(t) / π_old(t)            π_old = μ (behaviour), or π_prox for decoupled PPO
 *   surrogate_t    = min(ratio_t·A, clip(ratio_t, 1−ε_low, 1+ε_high)·A)      (PPO, DAPO's two clips)
 *   policy loss    = −Σ w_t·surrogate_t·m_t / Σ m_t                           (token mean)
 *   KL loss        = β · mean_t k3_t,   k3 = exp(log π_ref − log π_θ) − (log π_ref − log π_θ) − 1
 *   entropy bonus  = −α · mean_t H_t
 *
 * with m_t the token mask (padding, GRPOMask's negatives, dropped stale tokens) and w_t the
 * staleness weight of the chosen correction:
 *
 *   none       π_old = μ, w = 1
 *   tis        truncated importance sampling (PipelineRL): no clip; surrogate = w·A·log π_θ with
 *              w = min(π_θ/μ, c) detached, per token or per rollout (level: sequence, VCPO)
 *   decoupled  decoupled PPO (AReaL): π_old = π_prox (the policy at the start of the batch),
 *              w = π_prox/μ detached, capped at c when c is given
 *   masked     masked IS: π_old = π_prox, w = π_prox/μ at token, sequence or geometric-mean
 *              level where it lies in [low, high], 0 outside (IcePop, TRL, SkyRL)
 *   drop       π_old = μ, w = 1, and tokens whose lag (learner version − behaviour version)
 *              exceeds maxLag are masked out
 *
 * The weights themselves are computed on the host (corrections.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { stopGradient } from '../tensor/detach.js';
import { correctionWeights } from './corrections.js';
import { behaviourKl, behaviourMismatch, versionSplit } from './lossMetrics.js';

export { behaviourKl, versionSplit } from './lossMetrics.js';

export { CorrectionSchema, LossConfigSchema, usesProximal, type Correction, type LossConfig } from './lossConfig.js';
import { usesProximal, type LossConfig } from './lossConfig.js';
import { effectiveMask } from './lossMask.js';

/** Re-exported: callers of the loss name the exclusions and the mask here. */
export { EXCLUDED, effectiveMask } from './lossMask.js';

export { readStats, type LossStats, type LossTensors } from './lossStats.js';
import type { LossTensors } from './lossStats.js';

export const E3_LOSS: LossConfig = {
  clipLow: 0.2,
  clipHigh: 0.35,
  klCoef: 0.001,
  entropyCoef: 0.001,
  negatives: 'keep',
  correction: { kind: 'none' },
  aggregation: 'token-mean',
};

/** Host-side per-token data of a batch (length N each). */
export interface TokenData {
  advantages: Float32Array;
  /** log μ: the behaviour policy that sampled the token. */
  behaviourLogprobs: Float32Array;
  /** log π_prox: the policy at the start of this optimiser step (decoupled PPO only). */
  proximalLogprobs?: Float32Array;
  /** 1 for real tokens, 0 for padding. */
  mask: Float32Array;
  /** Which trajectory each token belongs to (for seq-mean aggregation). */
  sequence: Int32Array;
  /** Policy version that sampled each token; staleness = learnerVersion − version. */
  versions?: Int32Array;
  learnerVersion?: number;
  /** Per token: why the rollout settings take it out of the loss (EXCLUDED), 0 = kept. */
  exclude?: Uint8Array;
}

/**
 * The loss for one optimiser step. `logprobs` are log π_θ of the batch's tokens (differentiable);
 * `entropies` H(π_θ(·|prefix)) per token (differentiable, only needed when entropyCoef > 0);
 * `refLogprobs` log π_ref per token (only needed when klCoef > 0).
 */
export function e3Loss(
  logprobs: tf.Tensor1D,
  d: TokenData,
  cfg: LossConfig,
  extra: {
    entropies?: tf.Tensor1D;
    refLogprobs?: Float32Array;
    /** `logprobs` are the learner's at the batch's start (the first optimiser step of a batch). */
    batchStart?: boolean;
  } = {},
): LossTensors {
  const N = d.advantages.length;
  if (logprobs.shape[0] !== N) throw new RangeError(`e3Loss: ${logprobs.shape[0]} log-probs for ${N} tokens`);
  const { mask: m, maskedNegative, droppedStale, maskedOverlong, maskedStalePrefix, lagMax } = effectiveMask(d, cfg);
  const scale = tokenScale(d, cfg, m);
  const tokens = m.reduce((a, b) => a + b, 0);
  let isMasked = 0;
  let isTruncated = 0;
  let neg: NegativeCounts = { negTokens: 0, negStale: 0, negCorrected: 0, negCorrectedStale: 0 };
  let staleNegative: Float32Array = new Float32Array(0);
  let klBehaviour = Number.NaN;
  const out = tf.tidy(() => {
    const A = tf.tensor1d(d.advantages);
    const w8 = tf.tensor1d(scale);
    const mu = tf.tensor1d(d.behaviourLogprobs);
    const mt = tf.tensor1d(m);
    const c = cfg.correction;
    const proximal = usesProximal(c);
    // π_old of the behaviour weight: π_θ now (tis), π_prox (decoupled, masked); the weights on the host.
    const oldHost = proximal
      ? (d.proximalLogprobs ?? fail(`${c.kind} needs proximalLogprobs`))
      : c.kind === 'tis' || c.kind === 'topr'
        ? logprobs.dataSync()
        : d.behaviourLogprobs;
    const cw = correctionWeights(c, oldHost, d.behaviourLogprobs, m, d.sequence, d.advantages);
    isMasked = cw.masked;
    isTruncated = cw.truncated;
    ({ counts: neg, staleNegative } = negatives(d, c, m, cw.weight));
    const atStart =
      d.proximalLogprobs ?? (extra.batchStart ? (c.kind === 'tis' ? oldHost : logprobs.dataSync()) : null);
    if (atStart) klBehaviour = behaviourKl(atStart, d, m);
    const weight = tf.tensor1d(cw.weight);
    const sur = surrogateOf(logprobs, { d, cfg, A, mu, mt, weight, staleNegative, tokens, proximal });
    const { surrogate, clipLow, clipHigh } = sur;
    if (sur.negHit) {
      // asym-clip: stale negatives whose objective hit the floor (all of them stale by construction)
      const hit = sur.negHit.dataSync();
      for (let i = 0; i < N; i++)
        if (hit[i]! > 0) {
          neg.negCorrected++;
          neg.negCorrectedStale++;
        }
    }
    const policyLoss = tf.neg(tf.sum(tf.mul(surrogate, w8))) as tf.Scalar;
    const { klLoss, kl, entropy, entropyBonus } = regularisers(logprobs, w8, cfg, extra);
    const loss = tf.addN([policyLoss, klLoss, entropyBonus]) as tf.Scalar;
    const weightMean = tf.div(tf.sum(tf.mul(weight, mt)), Math.max(1, tokens)) as tf.Scalar;
    const weightMax = (
      tokens > 0 ? tf.max(tf.where(tf.greater(mt, 0), weight, tf.zerosLike(weight))) : tf.scalar(0)
    ) as tf.Scalar;
    const mismatch = behaviourMismatch(stopGradient(logprobs) as tf.Tensor1D, mu, mt, tokens);
    // Kept: the caller's gradient scope must not dispose them before readStats.
    const parts = {
      policyLoss,
      klLoss,
      entropyBonus,
      kl,
      entropy,
      clipLow,
      clipHigh,
      weightMean,
      weightMax,
      ...mismatch,
    };
    for (const t of Object.values(parts)) tf.keep(t);
    return { loss, parts };
  });
  return {
    ...out,
    host: {
      tokens,
      tokensMaskedNegative: maskedNegative,
      tokensDroppedStale: droppedStale,
      tokensMaskedIs: isMasked,
      tokensTruncatedIs: isTruncated,
      tokensNegative: neg.negTokens,
      tokensNegativeStale: neg.negStale,
      tokensNegativeCorrected: neg.negCorrected,
      tokensNegativeCorrectedStale: neg.negCorrectedStale,
      tokensMaskedOverlong: maskedOverlong,
      tokensMaskedStalePrefix: maskedStalePrefix,
      lagMax,
      mismatchKlBehaviour: klBehaviour,
      ...versionSplit(d),
    },
  };
}

/** Per-token normaliser: 1/Σm (token mean) or 1/(S·|τ_s|) (mean over sequences of token means). */
function tokenScale(d: TokenData, cfg: LossConfig, m: Float32Array): Float32Array {
  const N = m.length;
  const scale = new Float32Array(N);
  if (cfg.aggregation === 'token-mean') {
    const total = m.reduce((a, b) => a + b, 0);
    for (let i = 0; i < N; i++) scale[i] = total > 0 ? m[i]! / total : 0;
  } else {
    const lengths = new Map<number, number>();
    for (let i = 0; i < N; i++) if (m[i]) lengths.set(d.sequence[i]!, (lengths.get(d.sequence[i]!) ?? 0) + 1);
    const S = new Set(d.sequence).size;
    for (let i = 0; i < N; i++) scale[i] = m[i] ? 1 / (S * lengths.get(d.sequence[i]!)!) : 0;
  }
  return scale;
}

interface NegativeCounts {
  negTokens: number;
  negStale: number;
  negCorrected: number;
  negCorrectedStale: number;
}

/**
 * Negative tokens, the stale ones (lag ≥ 1), and (topr) the downweighted among each; for asym-clip,
 * which negative tokens are stale enough for its own clip (lag ≥ minLag).
 */
function negatives(
  d: TokenData,
  c: LossConfig['correction'],
  m: Float32Array,
  weight: ArrayLike<number>,
): { counts: NegativeCounts; staleNegative: Float32Array } {
  const N = m.length;
  const counts: NegativeCounts = { negTokens: 0, negStale: 0, negCorrected: 0, negCorrectedStale: 0 };
  const lagOf = (i: number) => (d.versions && d.learnerVersion !== undefined ? d.learnerVersion - d.versions[i]! : 0);
  const staleNegative = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    if (!(m[i]! > 0) || !(d.advantages[i]! < 0)) continue;
    counts.negTokens++;
    const stale = lagOf(i) >= 1;
    if (stale) counts.negStale++;
    if (c.kind === 'topr' && weight[i]! < 1) {
      counts.negCorrected++;
      if (stale) counts.negCorrectedStale++;
    }
    if (c.kind === 'asym-clip' && lagOf(i) >= (c.minLag ?? 1)) staleNegative[i] = 1;
  }
  return { counts, staleNegative };
}

/**
 * The per-token surrogate: w·A·log π_θ for tis and topr (no clip), else the clipped PPO objective
 * times w (asym-clip: stale negatives floored at high·A), with the shares clipped from below and above.
 */
function surrogateOf(
  logprobs: tf.Tensor1D,
  x: {
    d: TokenData;
    cfg: LossConfig;
    A: tf.Tensor1D;
    mu: tf.Tensor1D;
    mt: tf.Tensor1D;
    weight: tf.Tensor1D;
    staleNegative: Float32Array;
    tokens: number;
    proximal: boolean;
  },
): { surrogate: tf.Tensor1D; clipLow: tf.Scalar; clipHigh: tf.Scalar; negHit: tf.Tensor | null } {
  const { d, cfg, A, mu, mt, weight, staleNegative, tokens, proximal } = x;
  const c = cfg.correction;
  let negHit: tf.Tensor | null = null;
  let surrogate: tf.Tensor1D;
  let clipLow = tf.scalar(0);
  let clipHigh = tf.scalar(0);
  if (c.kind === 'tis' || c.kind === 'topr') {
    // gradient w·A·∇log π_θ, no clip (PipelineRL's TIS; TOPR)
    surrogate = tf.mul(tf.mul(weight, A), logprobs) as tf.Tensor1D;
  } else {
    const old = proximal ? tf.tensor1d(d.proximalLogprobs!) : mu;
    const ratio = tf.exp(tf.sub(logprobs, old));
    const clipped = tf.clipByValue(ratio, 1 - cfg.clipLow, 1 + cfg.clipHigh);
    let ppo = tf.minimum(tf.mul(ratio, A), tf.mul(clipped, A)) as tf.Tensor1D;
    if (c.kind === 'asym-clip') {
      // stale negatives: the objective floored at high·A (no gradient below it)
      const sn = tf.tensor1d(staleNegative);
      const floor = tf.mul(A, c.high);
      const hit = tf.mul(sn, tf.less(tf.mul(stopGradient(ratio), A), floor).toFloat());
      negHit = hit;
      ppo = tf.where(tf.greater(sn, 0), tf.maximum(ppo, floor), ppo) as tf.Tensor1D;
    }
    surrogate = tf.mul(weight, ppo) as tf.Tensor1D;
    // Clipped from below: ratio < 1−ε_low with A < 0; from above: ratio > 1+ε_high with A > 0.
    const r = stopGradient(ratio);
    const denom = Math.max(1, tokens);
    clipLow = tf.div(
      tf.sum(tf.mul(mt, tf.mul(tf.less(r, 1 - cfg.clipLow).toFloat(), tf.less(A, 0).toFloat()))),
      denom,
    ) as tf.Scalar;
    clipHigh = tf.div(
      tf.sum(tf.mul(mt, tf.mul(tf.greater(r, 1 + cfg.clipHigh).toFloat(), tf.greater(A, 0).toFloat()))),
      denom,
    ) as tf.Scalar;
  }
  return { surrogate, clipLow, clipHigh, negHit };
}

/** The KL penalty to the reference (k3 estimator) and the entropy bonus, each scaled per token. */
function regularisers(
  logprobs: tf.Tensor1D,
  w8: tf.Tensor1D,
  cfg: LossConfig,
  extra: { entropies?: tf.Tensor1D; refLogprobs?: Float32Array },
): { klLoss: tf.Scalar; kl: tf.Scalar; entropy: tf.Scalar; entropyBonus: tf.Scalar } {
  let klLoss = tf.scalar(0);
  let kl = tf.scalar(0);
  if (extra.refLogprobs) {
    const diff = tf.sub(tf.tensor1d(extra.refLogprobs), logprobs);
    const k3 = tf.sub(tf.sub(tf.exp(diff), diff), 1);
    kl = tf.sum(tf.mul(k3, w8)) as tf.Scalar;
    klLoss = tf.mul(kl, cfg.klCoef) as tf.Scalar;
  } else if (cfg.klCoef > 0) fail('klCoef > 0 needs refLogprobs');
  let entropy = tf.scalar(0);
  let entropyBonus = tf.scalar(0);
  if (extra.entropies) {
    entropy = tf.sum(tf.mul(extra.entropies, w8)) as tf.Scalar;
    entropyBonus = tf.mul(entropy, -cfg.entropyCoef) as tf.Scalar;
  } else if (cfg.entropyCoef > 0) fail('entropyCoef > 0 needs entropies');
  return { klLoss, kl, entropy, entropyBonus };
}

function fail(msg: string): never {
  throw new Error(`e3Loss: ${msg}`);
}
