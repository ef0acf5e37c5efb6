/**
 * What one optimiser step of the e3 loss reports (LossStats), the tensors the loss hands back for
 * it (LossTensors) and their read-back after the gradient step (readStats). The loss itself is
 * rl/loss.ts, which re-exports these.
 */
import * as tf from '@tensorflow/tfjs';

export interface LossStats {
  loss: number;
  policyLoss: number;
  klLoss: number;
  entropyBonus: number;
  kl: number;
  entropy: number;
  clipFracLow: number;
  clipFracHigh: number;
  isWeightMean: number;
  isWeightMax: number;
  tokens: number;
  tokensMaskedNegative: number;
  tokensDroppedStale: number;
  /** Tokens whose importance weight masked IS zeroed (outside [low, high]) / truncated at c (tis, decoupled). */
  tokensMaskedIs: number;
  tokensTruncatedIs: number;
  /**
   * Negative-advantage tokens (unmasked), those at least one version old, and those the correction
   * acted on — topr: weighted below 1; asym-clip: stale ones whose objective hit its floor — in all
   * and among the stale (issue #31: what a correction does to stale negatives).
   */
  tokensNegative: number;
  tokensNegativeStale: number;
  tokensNegativeCorrected: number;
  tokensNegativeCorrectedStale: number;
  /** Tokens of rollouts cut at the budget that rollout.overlong mask took out of the loss. */
  tokensMaskedOverlong: number;
  /** Tokens older than their rollout's newest version that rollout.kv maskStalePrefix took out. */
  tokensMaskedStalePrefix: number;
  lagMax: number;
  /**
   * How far the learner is from the behaviour policy on the step's tokens (issue #19, measured
   * before the step, r = π_θ/μ per unmasked token): mean and max of |log r|, the mismatch KL
   * KL(μ‖π_θ) by the k3 estimator mean(r − 1 − log r), and the effective sample size of the weights
   * r as a fraction of the tokens, (Σr)² / (n·Σr²) (1 when π_θ = μ).
   */
  logRatioAbsMean: number;
  logRatioAbsMax: number;
  mismatchKl: number;
  essFraction: number;
  /**
   * The train/inference mismatch alone: KL(μ‖π) by k3 between μ and the learner's log-probs at the
   * behaviour version, over the tokens sampled by the learner's current version (lag 0), scored at
   * the batch's start (first minibatch; NaN when it has no lag-0 token). 0 when the sampler and the
   * learner compute the same policy; rollout.mismatch makes it positive.
   */
  mismatchKlBehaviour: number;
  /**
   * Token-weighted staleness (over real tokens) split at the rollout's newest token version v_end:
   * queued = learner version − v_end (waiting after generation), generation = v_end − token version
   * (weights swapped during generation); their sum is the mean lag.
   */
  stalenessQueuedMean: number;
  stalenessGenerationMean: number;
  /** Rollouts whose tokens come from more than one weight version (in-flight swaps). */
  mixedVersionShare: number;
}

export interface LossTensors {
  loss: tf.Scalar;
  /** Tensors the caller reads back (after the gradient step) to fill LossStats. */
  parts: {
    policyLoss: tf.Scalar;
    klLoss: tf.Scalar;
    entropyBonus: tf.Scalar;
    kl: tf.Scalar;
    entropy: tf.Scalar;
    clipLow: tf.Scalar;
    clipHigh: tf.Scalar;
    weightMean: tf.Scalar;
    weightMax: tf.Scalar;
    logRatioAbsMean: tf.Scalar;
    logRatioAbsMax: tf.Scalar;
    mismatchKl: tf.Scalar;
    essFraction: tf.Scalar;
  };
  /** Figures computed on the host, copied into LossStats as they are. */
  host: Pick<LossStats, HostStat>;
}

type HostStat =
  | 'tokens'
  | 'tokensMaskedNegative'
  | 'tokensDroppedStale'
  | 'tokensMaskedIs'
  | 'tokensTruncatedIs'
  | 'tokensNegative'
  | 'tokensNegativeStale'
  | 'tokensNegativeCorrected'
  | 'tokensNegativeCorrectedStale'
  | 'tokensMaskedOverlong'
  | 'tokensMaskedStalePrefix'
  | 'lagMax'
  | 'mismatchKlBehaviour'
  | 'stalenessQueuedMean'
  | 'stalenessGenerationMean'
  | 'mixedVersionShare';

/** Reads back the statistics of a LossTensors (and disposes its parts). */
export function readStats(t: LossTensors, loss: number): LossStats {
  const v = (x: tf.Scalar) => x.dataSync()[0]!;
  const p = t.parts;
  const stats: LossStats = {
    loss,
    policyLoss: v(p.policyLoss),
    klLoss: v(p.klLoss),
    entropyBonus: v(p.entropyBonus),
    kl: v(p.kl),
    entropy: v(p.entropy),
    clipFracLow: v(p.clipLow),
    clipFracHigh: v(p.clipHigh),
    isWeightMean: v(p.weightMean),
    isWeightMax: v(p.weightMax),
    logRatioAbsMean: v(p.logRatioAbsMean),
    logRatioAbsMax: v(p.logRatioAbsMax),
    mismatchKl: v(p.mismatchKl),
    essFraction: v(p.essFraction),
    ...t.host,
  };
  tf.dispose(Object.values(p));
  return stats;
}
