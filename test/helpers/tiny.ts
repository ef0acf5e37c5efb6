import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/tensor/backend.js';
import * as tf from '@tensorflow/tfjs';
import { Gpt } from '../../src/policy/transformer/model.js';
import { Adam } from '../../src/policy/transformer/adam.js';
import { sample } from '../../src/policy/transformer/sample.js';
import { pgLoss } from '../../src/bench/policyBench.js';
import { Rng } from '../../src/util/rng.js';
import type { GptConfig } from '../../src/policy/transformer/config.js';

export const TINY: GptConfig = { vocabSize: 20, dModel: 16, nHeads: 2, nLayers: 2, contextLength: 24 };

/** Number of live tensors after each of `rounds` sample + train steps (must stay flat). */
export function tensorCountsOverSteps(rounds: number): number[] {
  const model = Gpt.create(TINY, new Rng(1));
  const adam = new Adam(model.variables);
  const rng = new Rng(2);
  const B = 4,
    T = 12;
  const toks = new Int32Array(B * T).map(() => rng.int(TINY.vocabSize));
  const counts: number[] = [];
  for (let r = 0; r < rounds; r++) {
    sample(
      model,
      [
        [1, 2, 3],
        [1, 4, 5],
        [1, 6, 7],
        [1, 8, 9],
      ],
      { budgetTokens: 8, temperature: 1, eosId: 2, padId: 0, rngs: [0, 1, 2, 3].map((i) => rng.fork(`${r}.${i}`)) },
    );
    tf.tidy(() => {
      const tokens = tf.tensor2d(toks, [B, T], 'int32');
      adam.minimize(() =>
        pgLoss(model, tokens, tokens, tf.ones([B * T]) as tf.Tensor1D, tf.ones([B * T]) as tf.Tensor1D),
      );
    });
    counts.push(tf.memory().numTensors);
  }
  adam.dispose();
  model.dispose();
  return counts;
}

/** The flat-memory test, registered once per backend file (each file runs in its own process). */
export function describeFlatMemory(backend: 'cpu' | 'wasm'): void {
  describe(`tensor memory on ${backend}`, () => {
    beforeAll(async () => {
      await initBackend(backend);
    });

    it('stays flat across repeated sample and train steps', () => {
      const counts = tensorCountsOverSteps(6);
      // the first round allocates cached constants (causal masks); afterwards nothing may grow
      expect(new Set(counts.slice(1)).size).toBe(1);
      expect(counts[5]).toBe(counts[1]);
    });
  });
}
