/**
 * Backend parity probe: run as `node --import tsx test/helpers/parity.ts <backend>` (one backend
 * per process). Prints JSON: sampled tokens and their behaviour log-probs, teacher-forced
 * log-probs of fixed sequences, and one training step's loss, gradients and updated weights —
 * all from fixed seeds, so two backends can be compared number by number.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, parseBackend } from '../../src/tensor/backend.js';
import { Gpt } from '../../src/policy/transformer/model.js';
import { Adam } from '../../src/policy/transformer/adam.js';
import { sample } from '../../src/policy/transformer/sample.js';
import { scoreSequences } from '../../src/policy/transformer/logprobs.js';
import { pgLoss } from '../../src/bench/policyBench.js';
import { Rng } from '../../src/util/rng.js';
import type { GptConfig } from '../../src/policy/transformer/config.js';

export const PARITY_CONFIG: GptConfig = { vocabSize: 24, dModel: 32, nHeads: 4, nLayers: 2, contextLength: 40 };
export const PARITY_LR = 1e-3;

const backend = await initBackend(parseBackend(process.argv[2] ?? 'cpu'));
const model = Gpt.create(PARITY_CONFIG, new Rng('parity'));
const rng = new Rng('parity-data');
const prompts = Array.from({ length: 6 }, () =>
  Array.from({ length: 8 }, () => 3 + rng.int(PARITY_CONFIG.vocabSize - 3)),
);
const sampled = sample(model, prompts, {
  budgetTokens: 24,
  temperature: 1,
  eosId: -1,
  padId: 0,
  rngs: prompts.map((_, i) => new Rng(`row${i}`)),
});

const B = 6,
  T = 32;
const toks = new Int32Array(B * T).map(() => rng.int(PARITY_CONFIG.vocabSize));
const scored = scoreSequences(model, toks, B, T, 0);

const adv = Float32Array.from({ length: B * T }, () => rng.normal());
const mask = Float32Array.from({ length: B * T }, (_, i) => (i % T >= 7 && i % T < T - 1 ? 1 : 0));
const targets = toks.map((_, i) => (i % T < T - 1 ? toks[i + 1]! : 0));
const batch = {
  tokens: tf.tensor2d(toks, [B, T], 'int32'),
  targets: tf.tensor2d(targets, [B, T], 'int32'),
  adv: tf.tensor1d(adv),
  mask: tf.tensor1d(mask),
};
const lossFn = () => pgLoss(model, batch.tokens, batch.targets, batch.adv, batch.mask);
const { value, grads } = tf.variableGrads(lossFn, model.variables);
const gradients = Object.fromEntries(
  model.variables.map((v) => [v.name.replace(/_\d+$/, ''), Array.from(grads[v.name]!.dataSync())]),
);
value.dispose();
tf.dispose(Object.values(grads));
const adam = new Adam(model.variables, { lr: PARITY_LR, beta1: 0.9, beta2: 0.99, eps: 1e-8, clipNorm: 1 });
const step = adam.minimize(lossFn);
const weights = Array.from(model.pack().data);

process.stdout.write(
  JSON.stringify({
    backend: backend.name,
    tokens: sampled.map((r) => r.tokens),
    logprobs: sampled.map((r) => r.logprobs),
    scored: Array.from(scored.logprobs),
    loss: step.loss,
    gradNorm: step.gradNorm,
    gradients,
    weights,
  }),
);
