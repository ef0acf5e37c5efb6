/**
 * `e3sim bench`: sampling tokens/s (KV cache) and training tokens/s (forward + backward + Adam
 * on a token-level policy-gradient loss) of the tiny GPT at the reference shape.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import { Gpt } from '../policy/transformer/model.js';
import { Adam } from '../policy/transformer/adam.js';
import { sample } from '../policy/transformer/sample.js';
import { tokenLogprobsTensor } from '../policy/transformer/logprobs.js';
import type { GptConfig } from '../policy/transformer/config.js';
import { median } from '../util/stats.js';

export interface BenchShape {
  dModel: number;
  nHeads: number;
  nLayers: number;
  contextLength: number;
  batch: number;
  promptTokens: number;
  vocabSize: number;
}

export const REFERENCE_BENCH: BenchShape = { dModel: 128, nHeads: 4, nLayers: 2, contextLength: 128, batch: 64, promptTokens: 16, vocabSize: 128 };

export interface BenchResult {
  backend: string;
  shape: BenchShape;
  sampleTokensPerSec: number;
  trainTokensPerSec: number;
  trainStepMs: number;
  /** Every timed repeat, so the spread is visible. */
  sampleRuns: number[];
  trainStepRuns: number[];
}


export function pgLoss(model: Gpt, tokens: tf.Tensor2D, targets: tf.Tensor2D, advantages: tf.Tensor1D, mask: tf.Tensor1D): tf.Scalar {
  const { logprobs } = tokenLogprobsTensor(model, tokens, targets);
  return tf.div(tf.neg(tf.sum(tf.mul(tf.mul(logprobs, advantages), mask))), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
}

export function runPolicyBench(backend: string, shape: BenchShape, opts: { repeats: number; now: () => number; log?: (s: string) => void }): BenchResult {
  const cfg: GptConfig = { vocabSize: shape.vocabSize, dModel: shape.dModel, nHeads: shape.nHeads, nLayers: shape.nLayers, contextLength: shape.contextLength };
  const rng = new Rng('bench');
  const model = Gpt.create(cfg, rng.fork('init'));
  const { batch: B, promptTokens: P, contextLength: T } = shape;
  const prompts = Array.from({ length: B }, () => Array.from({ length: P }, () => 3 + rng.int(shape.vocabSize - 3)));
  const budget = T - P;
  const sampleRuns: number[] = [];
  for (let r = 0; r <= opts.repeats; r++) {
    const t0 = opts.now();
    // eosId −1 is never sampled: every sequence generates the full budget
    const res = sample(model, prompts, { budgetTokens: budget, temperature: 1, eosId: -1, padId: 0, rngs: prompts.map((_, i) => rng.fork(`s${r}.${i}`)) });
    const n = res.reduce((a, x) => a + x.tokens.length, 0);
    const dt = (opts.now() - t0) / 1000;
    if (r > 0) sampleRuns.push(n / dt); // first run warms up
    opts.log?.(`sample ${r === 0 ? 'warmup' : r}: ${(n / dt).toFixed(0)} tokens/s`);
  }
  const adam = new Adam(model.variables, { lr: 1e-4, beta1: 0.9, beta2: 0.99, eps: 1e-8, clipNorm: 1 });
  const toks = new Int32Array(B * T).map(() => rng.int(shape.vocabSize));
  const trainStepRuns: number[] = [];
  const tokens = tf.tensor2d(toks, [B, T], 'int32');
  const targets = tf.tensor2d(toks.map((_, i) => toks[i + 1] ?? 0), [B, T], 'int32');
  const adv = tf.tensor1d(new Float32Array(B * T).map(() => rng.normal()));
  const mask = tf.tensor1d(new Float32Array(B * T).map((_, i) => (i % T >= P - 1 && i % T < T - 1 ? 1 : 0)));
  for (let r = 0; r <= opts.repeats; r++) {
    const t0 = opts.now();
    adam.minimize(() => pgLoss(model, tokens, targets, adv, mask));
    const dt = opts.now() - t0;
    if (r > 0) trainStepRuns.push(dt);
    opts.log?.(`train ${r === 0 ? 'warmup' : r}: ${dt.toFixed(0)} ms/step`);
  }
  tf.dispose([tokens, targets, adv, mask]);
  adam.dispose();
  model.dispose();
  const trainStepMs = median(trainStepRuns);
  // Trained tokens: every position that carries loss (completion positions).
  const trainedTokens = B * (T - P);
  return {
    backend, shape,
    sampleTokensPerSec: median(sampleRuns),
    trainTokensPerSec: (trainedTokens / trainStepMs) * 1000,
    trainStepMs, sampleRuns, trainStepRuns,
  };
}
