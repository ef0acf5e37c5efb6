/**
 * The loss's measurements of how far the learner is from the behaviour policy (issue #19): the
 * tensor figures of every optimiser step (|log r|, mismatch KL, ESS/N) and the host figures of a
 * batch (mismatch KL at the behaviour version, staleness split, mixed-version share). loss.ts
 * reports them in LossStats.
 */
import * as tf from '@tensorflow/tfjs';
import type { TokenData } from './loss.js';

/**
 * The distance between the learner (log π_θ, detached) and the behaviour policy (log μ) over the
 * unmasked tokens: mean and max |log r|, KL(μ‖π_θ) by k3 = r − 1 − log r, and ESS/n of r.
 */
export function behaviourMismatch(lp: tf.Tensor1D, mu: tf.Tensor1D, mt: tf.Tensor1D, tokens: number) {
  const n = Math.max(1, tokens);
  const d = tf.mul(tf.sub(lp, mu), mt); // log r, 0 where masked
  const r = tf.mul(tf.exp(d), mt); // r, 0 where masked
  const sumR = tf.sum(r);
  return {
    logRatioAbsMean: tf.div(tf.sum(tf.abs(d)), n) as tf.Scalar,
    logRatioAbsMax: (tokens > 0 ? tf.max(tf.abs(d)) : tf.scalar(0)) as tf.Scalar,
    mismatchKl: tf.div(tf.sum(tf.mul(tf.sub(tf.sub(tf.exp(d), 1), d), mt)), n) as tf.Scalar,
    essFraction: (tokens > 0 ? tf.div(tf.square(sumR), tf.mul(tf.sum(tf.square(r)), n)) : tf.scalar(1)) as tf.Scalar,
  };
}

/** k3 of KL(μ‖π) over the unmasked tokens of lag 0, with `pi` the learner's log-probs at the behaviour version. */
export function behaviourKl(pi: ArrayLike<number>, d: TokenData, mask: ArrayLike<number>): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!(mask[i]! > 0)) continue;
    if (d.versions && d.learnerVersion !== undefined && d.versions[i] !== d.learnerVersion) continue;
    const l = pi[i]! - d.behaviourLogprobs[i]!; // log r, r = π/μ
    sum += Math.exp(l) - 1 - l;
    n++;
  }
  return n > 0 ? sum / n : Number.NaN;
}

/** Token-weighted queued and generation staleness and the share of mixed-version rollouts, over real tokens. */
export function versionSplit(d: TokenData): {
  stalenessQueuedMean: number;
  stalenessGenerationMean: number;
  mixedVersionShare: number;
} {
  if (!d.versions || d.learnerVersion === undefined)
    return { stalenessQueuedMean: 0, stalenessGenerationMean: 0, mixedVersionShare: 0 };
  const newest = new Map<number, number>();
  const oldest = new Map<number, number>();
  for (let i = 0; i < d.mask.length; i++) {
    if (!(d.mask[i]! > 0)) continue;
    const s = d.sequence[i]!;
    const v = d.versions[i]!;
    newest.set(s, Math.max(newest.get(s) ?? v, v));
    oldest.set(s, Math.min(oldest.get(s) ?? v, v));
  }
  let queued = 0;
  let generation = 0;
  let n = 0;
  for (let i = 0; i < d.mask.length; i++) {
    if (!(d.mask[i]! > 0)) continue;
    const end = newest.get(d.sequence[i]!)!;
    queued += d.learnerVersion - end;
    generation += end - d.versions[i]!;
    n++;
  }
  let mixed = 0;
  for (const [s, v] of newest) if (oldest.get(s) !== v) mixed++;
  return {
    stalenessQueuedMean: n > 0 ? queued / n : 0,
    stalenessGenerationMean: n > 0 ? generation / n : 0,
    mixedVersionShare: newest.size > 0 ? mixed / newest.size : 0,
  };
}
