/**
 * Teacher-forced log-probabilities: the learner's path. For a [B, T] batch, position t scores
 * the token at t+1 under the temperature-scaled policy, so they match the sampler's
 * behaviour log-probs (sample.ts) within float32 round-off.
 */
import * as tf from '@tensorflow/tfjs';
import type { Gpt } from './model.js';

/** log π(targets | prefix) and entropy per position, as tensors [B·T] (differentiable). */
export function tokenLogprobsTensor(
  model: Gpt,
  tokens: tf.Tensor2D,
  targets: tf.Tensor2D,
  temperature = 1,
  /** [B, T] int32: each token's position (learned positions; default 0 … T − 1). */
  positions?: tf.Tensor2D,
): { logprobs: tf.Tensor1D; logits: tf.Tensor2D } {
  const [B, T] = tokens.shape;
  const V = model.config.vocabSize;
  let logits = model.forward(tokens, undefined, positions);
  if (temperature !== 1) logits = tf.div(logits, temperature);
  const logp = tf.logSoftmax(logits);
  const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.reshape(targets, [B * T]), V)), -1) as tf.Tensor1D;
  return { logprobs: picked, logits };
}

/** Shifts a right-padded [B, T] token batch into inputs and next-token targets (pad = padId). */
export function shiftTargets(tokens: Int32Array, B: number, T: number, padId: number): Int32Array {
  const targets = new Int32Array(B * T).fill(padId);
  for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) targets[b * T + t] = tokens[b * T + t + 1]!;
  return targets;
}

/**
 * Behaviour-free evaluation of log-probs and entropies of given sequences (no gradient).
 * Returns arrays [B, T] where entry t is about token t+1 (the last column is unused: 0).
 */
export function scoreSequences(
  model: Gpt,
  tokens: Int32Array,
  B: number,
  T: number,
  padId: number,
  temperature = 1,
): { logprobs: Float32Array; entropies: Float32Array } {
  const targetsArr = shiftTargets(tokens, B, T, padId);
  const [lp, ent] = tf.tidy(() => {
    const toks = tf.tensor2d(tokens, [B, T], 'int32');
    const targets = tf.tensor2d(targetsArr, [B, T], 'int32');
    const { logprobs, logits } = tokenLogprobsTensor(model, toks, targets, temperature);
    const logp = tf.logSoftmax(logits);
    const entropy = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1));
    return [logprobs, entropy];
  });
  const logprobs = lp.dataSync() as Float32Array;
  const entropies = ent.dataSync() as Float32Array;
  lp.dispose();
  ent.dispose();
  for (let b = 0; b < B; b++) {
    logprobs[b * T + T - 1] = 0;
    entropies[b * T + T - 1] = 0;
  }
  return { logprobs, entropies };
}
