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
import { EXCLUDED, e3Loss, readStats, usesProximal, type LossConfig, type LossStats, type TokenData } from './loss.js';

export interface TrainRollout {
  prompt: readonly number[];
  completion: readonly number[];
  behaviourLogprobs: readonly number[];
  versions: readonly number[];
  advantage: number;
  /** rollout.overlong mask: a rollout cut at the budget, its tokens out of the loss (rl/overlong.ts). */
  overlongMasked?: boolean;
  /** rollout.kv maskStalePrefix: its tokens older than its newest version out of the loss. */
  maskStalePrefix?: boolean;
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
export function padRollouts(
  rollouts: readonly TrainRollout[],
  padId: number,
  contextLength: number,
  learnerVersion: number,
): PaddedBatch {
  const B = rollouts.length;
  const T = Math.max(2, ...rollouts.map((r) => r.prompt.length + r.completion.length));
  if (T > contextLength)
    throw new RangeError(`padRollouts: a rollout of ${T} tokens exceeds the context of ${contextLength}`);
  const tokens = new Int32Array(B * T).fill(padId);
  const N = B * T;
  const advantages = new Float32Array(N),
    behaviour = new Float32Array(N),
    mask = new Float32Array(N);
  const sequence = new Int32Array(N),
    versions = new Int32Array(N).fill(learnerVersion);
  const exclude = rollouts.some((r) => r.overlongMasked || r.maskStalePrefix) ? new Uint8Array(N) : undefined;
  rollouts.forEach((r, b) => {
    const newest = r.maskStalePrefix ? Math.max(...r.versions) : 0;
    tokens.set(r.prompt, b * T);
    tokens.set(r.completion, b * T + r.prompt.length);
    for (let t = 0; t < T; t++) sequence[b * T + t] = b;
    r.completion.forEach((_, j) => {
      const i = b * T + r.prompt.length + j - 1;
      advantages[i] = r.advantage;
      behaviour[i] = r.behaviourLogprobs[j]!;
      versions[i] = r.versions[j]!;
      mask[i] = 1;
      if (exclude && r.overlongMasked) exclude[i] = EXCLUDED.overlong;
      else if (exclude && r.maskStalePrefix && r.versions[j]! < newest) exclude[i] = EXCLUDED.stalePrefix;
    });
  });
  return {
    B,
    T,
    tokens,
    data: { advantages, behaviourLogprobs: behaviour, mask, sequence, versions, learnerVersion, exclude },
  };
}

export interface GptStepOptions {
  loss: LossConfig;
  temperature: number;
  padId: number;
  learnerVersion: number;
  /** Frozen reference policy for the KL term (needed when loss.klCoef > 0). */
  reference?: Gpt;
  /** Disjoint slices of the batch, one Adam step each (default 1). */
  minibatches?: number;
  /** Passes over the slices (default 1): minibatches × epochs optimiser steps per batch. */
  epochs?: number;
  /**
   * Called before each piece of work up to the first optimizer update (scoring a slice, the first
   * update); it may throw to abandon the step while the weights are still untouched.
   */
  beforeUpdate?: () => void;
}

/** The most optimiser steps one batch may take (minibatches × epochs). */
export const UPDATE_STEPS_MAX = 1024;

/** M contiguous, disjoint slices of `xs` whose sizes differ by at most one (M clamped to the length). */
export function minibatchSlices<T>(xs: readonly T[], M: number): T[][] {
  const m = Math.max(1, Math.min(M, xs.length));
  const out: T[][] = [];
  for (let i = 0, start = 0; i < m; i++) {
    const size = Math.floor(xs.length / m) + (i < xs.length % m ? 1 : 0);
    out.push(xs.slice(start, start + size));
    start += size;
  }
  return out;
}

export type UpdateStats = LossStats & {
  gradNorm: number;
  optimizerSteps: number;
  /** Rollouts the update trained on: the learner's own count, checked against the ledger (core/invariants). */
  updateRollouts: number;
};

/**
 * The figures of a step that trains nothing (every rollout dropped or filtered: the version still
 * advances): the learner figures of a metrics row, 0, on both clocks, so their rows agree.
 */
export const EMPTY_UPDATE_STATS = {
  loss: 0,
  policyLoss: 0,
  klLoss: 0,
  entropyBonus: 0,
  kl: 0,
  entropy: 0,
  clipFracLow: 0,
  clipFracHigh: 0,
  isWeightMean: 0,
  isWeightMax: 0,
  tokens: 0,
  tokensMaskedNegative: 0,
  tokensDroppedStale: 0,
  lagMax: 0,
  gradNorm: 0,
  optimizerSteps: 0,
  updateRollouts: 0,
} satisfies Partial<UpdateStats>;

/**
 * One learner update on a batch of scored rollouts: the batch cut into `minibatches` disjoint
 * slices, `epochs` passes, one Adam step per slice per pass. Before the first step every slice is
 * scored under the reference policy (KL) and, for decoupled PPO, under the learner itself: that
 * is π_prox, the policy at the start of the batch (AReaL), fixed for all the batch's steps. `none`
 * clips the ratio to μ, `tis` weights by min(π_θ/μ, c); with one slice and one pass all three are
 * today's single step exactly. Statistics are means over the steps (token counts summed over one
 * pass, maxima the largest).
 */
export function gptRlStep(model: Gpt, adam: Adam, rollouts: readonly TrainRollout[], o: GptStepOptions): UpdateStats {
  const epochs = o.epochs ?? 1;
  const parts = minibatchSlices(rollouts, o.minibatches ?? 1);
  if (parts.length * epochs > UPDATE_STEPS_MAX)
    throw new RangeError(
      `gptRlStep: ${parts.length} minibatches × ${epochs} epochs exceeds ${UPDATE_STEPS_MAX} optimiser steps`,
    );
  const slices = parts.map((rs) => {
    o.beforeUpdate?.();
    const batch = padRollouts(rs, o.padId, model.config.contextLength, o.learnerVersion);
    const targets = shiftTargets(batch.tokens, batch.B, batch.T, o.padId);
    const refLogprobs =
      o.loss.klCoef > 0 && o.reference
        ? scoreSequences(o.reference, batch.tokens, batch.B, batch.T, o.padId, o.temperature).logprobs
        : undefined;
    if (usesProximal(o.loss.correction))
      batch.data.proximalLogprobs = scoreSequences(
        model,
        batch.tokens,
        batch.B,
        batch.T,
        o.padId,
        o.temperature,
      ).logprobs;
    return { batch, targets, refLogprobs };
  });
  const steps: (LossStats & { gradNorm: number })[] = [];
  o.beforeUpdate?.(); // the last chance: after the first update the weights have changed
  for (let e = 0; e < epochs; e++) {
    for (const [i, s] of slices.entries())
      steps.push(stepOn(model, adam, s.batch, s.targets, s.refLogprobs, o, e === 0 && i === 0));
  }
  return { ...combineStats(steps, slices.length), updateRollouts: rollouts.length };
}

function stepOn(
  model: Gpt,
  adam: Adam,
  batch: PaddedBatch,
  targets: Int32Array,
  refLogprobs: Float32Array | undefined,
  o: GptStepOptions,
  batchStart: boolean,
): LossStats & { gradNorm: number } {
  const { B, T, tokens } = batch;
  let parts: ReturnType<typeof e3Loss> | undefined;
  const { loss, gradNorm } = adam.minimize(() => {
    const { logprobs, logits } = tokenLogprobsTensor(
      model,
      tf.tensor2d(tokens, [B, T], 'int32'),
      tf.tensor2d(targets, [B, T], 'int32'),
      o.temperature,
    );
    let entropies: tf.Tensor1D | undefined;
    if (o.loss.entropyCoef > 0) {
      const logp = tf.logSoftmax(logits);
      entropies = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)) as tf.Tensor1D;
    }
    parts = e3Loss(logprobs, batch.data, o.loss, { entropies, refLogprobs, batchStart });
    return parts.loss;
  });
  return { ...readStats(parts!, loss), gradNorm };
}

const SUMMED = new Set([
  'tokens',
  'tokensMaskedNegative',
  'tokensDroppedStale',
  'tokensMaskedIs',
  'tokensTruncatedIs',
  'tokensNegative',
  'tokensNegativeStale',
  'tokensNegativeCorrected',
  'tokensNegativeCorrectedStale',
  'tokensMaskedOverlong',
  'tokensMaskedStalePrefix',
]);
const MAXED = new Set(['isWeightMax', 'lagMax', 'logRatioAbsMax']);
/** Measured at the batch's start: the first step's value. */
const FIRST = new Set(['mismatchKlBehaviour']);

/** One step's statistics unchanged; several: means, maxima, and token counts of one pass. */
export function combineStats(
  steps: readonly (LossStats & { gradNorm: number })[],
  slicesPerPass: number,
): Omit<UpdateStats, 'updateRollouts'> {
  if (steps.length === 1) return { ...steps[0]!, optimizerSteps: 1 };
  const out: Record<string, number> = {};
  for (const k of Object.keys(steps[0]!)) {
    const xs = steps.map((s) => (s as unknown as Record<string, number>)[k]!);
    if (SUMMED.has(k)) out[k] = xs.slice(0, slicesPerPass).reduce((a, b) => a + b, 0);
    else if (MAXED.has(k)) out[k] = Math.max(...xs);
    else if (FIRST.has(k)) out[k] = xs[0]!;
    else out[k] = xs.reduce((a, b) => a + b, 0) / xs.length;
  }
  return { ...(out as unknown as LossStats & { gradNorm: number }), optimizerSteps: steps.length };
}
