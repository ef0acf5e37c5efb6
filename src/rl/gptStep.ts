/**
 * One RL optimiser step of the tiny GPT on scored rollouts: teacher-forced log π_θ of every
 * completion token (under the sampling temperature, so it matches the behaviour log-probs),
 * the e3 loss of loss.ts with the token's behaviour version, and one Adam step.
 * The reference policy (for the KL term) is scored without gradient.
 */
import * as tf from '@tensorflow/tfjs';
import type { Gpt } from '../policy/transformer/model.js';
import type { Adam } from '../policy/transformer/adam.js';
import { scoreSequences, shiftTargets, tokenLogprobsTensor } from '../policy/transformer/logprobs.js';
import { e3Loss, readStats, type LossConfig, type LossStats, type TokenData } from './loss.js';

export interface TrainRollout {
  prompt: readonly number[];
  completion: readonly number[];
  behaviourLogprobs: readonly number[];
  versions: readonly number[];
  advantage: number;
}

export interface PaddedBatch {
  B: number;
  T: number;
  tokens: Int32Array;
  data: TokenData;
}

/**
 * Right-padded [B, T] tokens (prompt + completion) and per-position token data: position t
 * scores token t+1, so completion token j of a sequence with prompt length P sits at P + j − 1.
 */
export function padRollouts(rollouts: readonly TrainRollout[], padId: number, contextLength: number, learnerVersion: number): PaddedBatch {
  const B = rollouts.length;
  const T = Math.max(2, ...rollouts.map((r) => r.prompt.length + r.completion.length));
  if (T > contextLength) throw new RangeError(`padRollouts: a rollout of ${T} tokens exceeds the context of ${contextLength}`);
  const tokens = new Int32Array(B * T).fill(padId);
  const N = B * T;
  const advantages = new Float32Array(N), behaviour = new Float32Array(N), mask = new Float32Array(N);
  const sequence = new Int32Array(N), versions = new Int32Array(N).fill(learnerVersion);
  rollouts.forEach((r, b) => {
    tokens.set(r.prompt, b * T);
    tokens.set(r.completion, b * T + r.prompt.length);
    for (let t = 0; t < T; t++) sequence[b * T + t] = b;
    r.completion.forEach((_, j) => {
      const i = b * T + r.prompt.length + j - 1;
      advantages[i] = r.advantage;
      behaviour[i] = r.behaviourLogprobs[j]!;
      versions[i] = r.versions[j]!;
      mask[i] = 1;
    });
  });
  return { B, T, tokens, data: { advantages, behaviourLogprobs: behaviour, mask, sequence, versions, learnerVersion } };
}

export interface GptStepOptions {
  loss: LossConfig;
  temperature: number;
  padId: number;
  learnerVersion: number;
  /** Frozen reference policy for the KL term (needed when loss.klCoef > 0). */
  reference?: Gpt;
}

export function gptRlStep(model: Gpt, adam: Adam, rollouts: readonly TrainRollout[], o: GptStepOptions): LossStats & { gradNorm: number } {
  const batch = padRollouts(rollouts, o.padId, model.config.contextLength, o.learnerVersion);
  const { B, T, tokens } = batch;
  const targets = shiftTargets(tokens, B, T, o.padId);
  const refLogprobs = o.loss.klCoef > 0 && o.reference ? scoreSequences(o.reference, tokens, B, T, o.padId, o.temperature).logprobs : undefined;
  // Decoupled PPO (AReaL): the proximal policy is the learner's policy at the start of this step.
  if (o.loss.correction.kind === 'decoupled') batch.data.proximalLogprobs = scoreSequences(model, tokens, B, T, o.padId, o.temperature).logprobs;
  let parts: ReturnType<typeof e3Loss> | undefined;
  const { loss, gradNorm } = adam.minimize(() => {
    const { logprobs, logits } = tokenLogprobsTensor(model, tf.tensor2d(tokens, [B, T], 'int32'), tf.tensor2d(targets, [B, T], 'int32'), o.temperature);
    let entropies: tf.Tensor1D | undefined;
    if (o.loss.entropyCoef > 0) {
      const logp = tf.logSoftmax(logits);
      entropies = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)) as tf.Tensor1D;
    }
    parts = e3Loss(logprobs, batch.data, o.loss, { entropies, refLogprobs });
    return parts.loss;
  });
  return { ...readStats(parts!, loss), gradNorm };
}
