/**
 * The softmax bigram policy of the p^k model (E3.md): π(a_{t+1} | a_t) ∝ exp M[a_t, a_{t+1}],
 * M of shape [tokens, tokens + 1] (the last column is `stop`). The first action is uniform over
 * the non-answer tokens. Log-probs are differentiable tensors (for the shared src/rl losses);
 * sampling reads M once to the host and draws with a seeded Rng.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../util/rng.js';
import { scoreEpisode, stopAction, type PkEnvConfig, type PkEpisode } from '../../tasks/pk/env.js';

export class BigramPolicy {
  readonly M: tf.Variable;

  private constructor(readonly env: PkEnvConfig, values: Float32Array) {
    this.M = tf.variable(tf.tensor2d(values.slice(), [env.tokens, env.tokens + 1]), true);
  }

  /**
   * The paper's initialisation: M ~ U[−3, 3], then M[·, stop] = 4 and M[·, a*] = −4. The three
   * numbers can be changed (for sensitivity studies); the defaults are the paper's.
   */
  static paperInit(env: PkEnvConfig, rng: Rng, init: { range?: number; stopLogit?: number; answerLogit?: number } = {}): BigramPolicy {
    const { range = 3, stopLogit = 4, answerLogit = -4 } = init;
    const V = env.tokens + 1;
    const m = new Float32Array(env.tokens * V);
    for (let i = 0; i < m.length; i++) m[i] = rng.uniform(-range, range);
    for (let r = 0; r < env.tokens; r++) {
      m[r * V + stopAction(env)] = stopLogit;
      m[r * V + env.answer] = answerLogit;
    }
    return new BigramPolicy(env, m);
  }

  static fromValues(env: PkEnvConfig, values: Float32Array): BigramPolicy {
    if (values.length !== env.tokens * (env.tokens + 1)) throw new RangeError(`bigram: expected ${env.tokens * (env.tokens + 1)} values, got ${values.length}`);
    return new BigramPolicy(env, values);
  }

  values(): Float32Array {
    return this.M.dataSync() as Float32Array;
  }

  /** π(·|a) for every state a, on the host: [tokens][tokens+1]. */
  probabilities(): Float64Array[] {
    const m = this.values();
    const V = this.env.tokens + 1;
    const out: Float64Array[] = [];
    for (let r = 0; r < this.env.tokens; r++) {
      const row = new Float64Array(V);
      let max = -Infinity;
      for (let j = 0; j < V; j++) max = Math.max(max, m[r * V + j]!);
      let z = 0;
      for (let j = 0; j < V; j++) z += (row[j] = Math.exp(m[r * V + j]! - max));
      for (let j = 0; j < V; j++) row[j]! /= z;
      out.push(row);
    }
    return out;
  }

  /** Samples episodes: first action uniform over non-answer tokens, then the bigram until hit, stop or budget. */
  sampleEpisodes(n: number, rng: Rng): PkEpisode[] {
    const probs = this.probabilities();
    const { tokens, answer, budget } = this.env;
    const episodes: PkEpisode[] = [];
    for (let i = 0; i < n; i++) {
      let a = rng.int(tokens - 1);
      if (a >= answer) a++; // skip a*
      const actions = [a];
      while (actions.length < budget && a !== answer && a !== stopAction(this.env)) {
        a = rng.categorical(probs[a]!);
        actions.push(a);
      }
      episodes.push(scoreEpisode(this.env, actions));
    }
    return episodes;
  }

  /**
   * log π(a_{t+1} | a_t) for every transition of the episodes, as a flat tensor (differentiable in M),
   * with the episode index of each transition. The first (uniform) action has no parameters.
   */
  transitionLogprobs(episodes: readonly PkEpisode[]): { logprobs: tf.Tensor1D; episodeOf: Int32Array } {
    const prev: number[] = [];
    const next: number[] = [];
    const episodeOf: number[] = [];
    episodes.forEach((e, k) => {
      for (let t = 1; t < e.actions.length; t++) {
        prev.push(e.actions[t - 1]!);
        next.push(e.actions[t]!);
        episodeOf.push(k);
      }
    });
    const V = this.env.tokens + 1;
    const logprobs = tf.tidy(() => {
      if (prev.length === 0) return tf.zeros([0]) as tf.Tensor1D;
      const rows = tf.matMul(tf.oneHot(tf.tensor1d(prev, 'int32'), this.env.tokens).toFloat(), this.M); // [N, V]
      return tf.sum(tf.mul(tf.logSoftmax(rows), tf.oneHot(tf.tensor1d(next, 'int32'), V).toFloat()), -1) as tf.Tensor1D;
    });
    return { logprobs, episodeOf: Int32Array.from(episodeOf) };
  }

  dispose(): void {
    this.M.dispose();
  }
}
