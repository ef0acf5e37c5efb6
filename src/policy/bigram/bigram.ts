/**
 * The softmax bigram policy of the p^k model (E3.md): π(a_{t+1} | a_t) ∝ exp M[a_t, a_{t+1}],
 * M of shape [tokens, tokens + 1] (the last column is `stop`). The first action is uniform over
 * the non-answer tokens.
 *
 * M lives on the host (Float64Array): the p^k experiment samples millions of episodes and a
 * 100 × 101 table is far below any accelerator's break-even size. Two ways to take gradients,
 * which agree (tested):
 *  - `transitionLogprobs` returns log π as a tensor differentiable in the tf.Variable `variable()`
 *    (autodiff through logSoftmax), for tests and for anyone composing other losses;
 *  - `applyLogprobGradient` chains a gradient ∂L/∂log π(a_t|s_t), computed by the shared src/rl
 *    loss, to M with the exact softmax Jacobian ∂log π(a|s)/∂M[s, j] = 1[j = a] − π(j|s), and takes
 *    the SGD step. This is what the experiment uses: O(tokens + touched rows · V) per step.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../util/rng.js';
import { HostSgd, type HostOptimizer } from '../../rl/hostOptimizer.js';
import { scoreEpisode, stopAction, type PkEnvConfig, type PkEpisode } from '../../tasks/pk/env.js';

export interface BigramInit {
  /** M ~ U[−range, range] before the two fixed columns (paper: 3). */
  range?: number;
  /** M[·, stop] (paper: 4). */
  stopLogit?: number;
  /** M[·, a*] (paper: −4). */
  answerLogit?: number;
}

export class BigramPolicy {
  readonly V: number;
  /** Row-major [tokens][V] logits. */
  private readonly m: Float64Array;
  /** Row-wise probabilities and cumulative sums, recomputed when M changes. */
  private probs: Float64Array;
  private cdf: Float64Array;
  private variable_: tf.Variable | null = null;

  private constructor(
    readonly env: PkEnvConfig,
    values: ArrayLike<number>,
  ) {
    this.V = env.tokens + 1;
    this.m = Float64Array.from(values);
    this.probs = new Float64Array(this.m.length);
    this.cdf = new Float64Array(this.m.length);
    this.refresh();
  }

  /**
   * The paper's initialisation: M ~ U[−3, 3], then M[·, stop] = 4 and M[·, a*] = −4. The three
   * numbers can be changed (for sensitivity studies); the defaults are the paper's.
   */
  static paperInit(env: PkEnvConfig, rng: Rng, init: BigramInit = {}): BigramPolicy {
    const { range = 3, stopLogit = 4, answerLogit = -4 } = init;
    const V = env.tokens + 1;
    const m = new Float64Array(env.tokens * V);
    for (let i = 0; i < m.length; i++) m[i] = rng.uniform(-range, range);
    for (let r = 0; r < env.tokens; r++) {
      m[r * V + stopAction(env)] = stopLogit;
      m[r * V + env.answer] = answerLogit;
    }
    return new BigramPolicy(env, m);
  }

  static fromValues(env: PkEnvConfig, values: ArrayLike<number>): BigramPolicy {
    if (values.length !== env.tokens * (env.tokens + 1))
      throw new RangeError(`bigram: expected ${env.tokens * (env.tokens + 1)} values, got ${values.length}`);
    return new BigramPolicy(env, values);
  }

  values(): Float64Array {
    return this.m.slice();
  }

  /** π(j | s). */
  prob(s: number, j: number): number {
    return this.probs[s * this.V + j]!;
  }

  /** π(·|s) for every state s, on the host: [tokens][V] (copies). */
  probabilities(): Float64Array[] {
    const out: Float64Array[] = [];
    for (let r = 0; r < this.env.tokens; r++) out.push(this.probs.slice(r * this.V, (r + 1) * this.V));
    return out;
  }

  /** H(π(·|s)) in nats for every state. */
  entropies(): Float64Array {
    return Float64Array.from({ length: this.env.tokens }, (_, r) => this.entropyOf(r));
  }

  /** Samples episodes: first action uniform over non-answer tokens, then the bigram until hit, stop or budget. */
  sampleEpisodes(n: number, rng: Rng): PkEpisode[] {
    const { tokens, answer, budget } = this.env;
    const stop = stopAction(this.env);
    const V = this.V;
    const cdf = this.cdf;
    const episodes: PkEpisode[] = [];
    for (let i = 0; i < n; i++) {
      let a = rng.int(tokens - 1);
      if (a >= answer) a++; // skip a*
      const actions = [a];
      while (actions.length < budget && a !== answer && a !== stop) {
        // Inverse-CDF draw by binary search over the row's cumulative sums.
        const u = rng.float();
        let lo = a * V;
        let hi = lo + V - 1;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (cdf[mid]! > u) hi = mid;
          else lo = mid + 1;
        }
        a = lo - a * V;
        actions.push(a);
      }
      episodes.push(scoreEpisode(this.env, actions));
    }
    return episodes;
  }

  /** (previous, next, episode) of every policy transition; the first (uniform) action has no parameters. */
  static transitions(episodes: readonly PkEpisode[]): { prev: Int32Array; next: Int32Array; episodeOf: Int32Array } {
    let n = 0;
    for (const e of episodes) n += Math.max(0, e.actions.length - 1);
    const prev = new Int32Array(n),
      next = new Int32Array(n),
      episodeOf = new Int32Array(n);
    let i = 0;
    episodes.forEach((e, k) => {
      for (let t = 1; t < e.actions.length; t++, i++) {
        prev[i] = e.actions[t - 1]!;
        next[i] = e.actions[t]!;
        episodeOf[i] = k;
      }
    });
    return { prev, next, episodeOf };
  }

  /** log π(next | prev) on the host, for each transition. */
  hostLogprobs(prev: Int32Array, next: Int32Array): Float32Array {
    return Float32Array.from(prev, (s, i) => Math.log(this.probs[s * this.V + next[i]!]!));
  }

  /** M as a tf.Variable (created on first use, refreshed from the host table on every call). */
  variable(): tf.Variable {
    const t = tf.tensor2d(Float32Array.from(this.m), [this.env.tokens, this.V]);
    if (!this.variable_) this.variable_ = tf.variable(t, true);
    else this.variable_.assign(t);
    t.dispose();
    return this.variable_;
  }

  /**
   * log π(a_{t+1} | a_t) for every transition of the episodes, as a flat tensor differentiable in
   * `variable()`, with the episode index of each transition.
   */
  transitionLogprobs(episodes: readonly PkEpisode[]): { logprobs: tf.Tensor1D; episodeOf: Int32Array } {
    const { prev, next, episodeOf } = BigramPolicy.transitions(episodes);
    const M = this.variable();
    const logprobs = tf.tidy(() => {
      if (prev.length === 0) return tf.zeros([0]) as tf.Tensor1D;
      const rows = tf.matMul(tf.oneHot(tf.tensor1d(prev, 'int32'), this.env.tokens).toFloat(), M); // [N, V]
      return tf.sum(
        tf.mul(tf.logSoftmax(rows), tf.oneHot(tf.tensor1d(next, 'int32'), this.V).toFloat()),
        -1,
      ) as tf.Tensor1D;
    });
    return { logprobs, episodeOf };
  }

  /**
   * ∂L/∂M from ∂L/∂log π of each transition (exact softmax Jacobian), as a [tokens · V] array.
   */
  gradientFromLogprobGrad(prev: Int32Array, next: Int32Array, dLogprob: ArrayLike<number>): Float64Array {
    const V = this.V;
    const grad = new Float64Array(this.m.length);
    const rowSum = new Float64Array(this.env.tokens);
    for (let i = 0; i < prev.length; i++) {
      const g = dLogprob[i]!;
      if (g === 0) continue;
      grad[prev[i]! * V + next[i]!]! += g;
      rowSum[prev[i]!]! += g;
    }
    for (let s = 0; s < this.env.tokens; s++) {
      const g = rowSum[s]!;
      if (g === 0) continue;
      for (let j = 0; j < V; j++) grad[s * V + j]! -= g * this.probs[s * V + j]!;
    }
    return grad;
  }

  /** One SGD step M ← M − lr·grad (only `rows` may have a non-zero gradient, when given). */
  sgdStep(grad: Float64Array, lr: number, rows?: Iterable<number>): void {
    this.step(new HostSgd(lr, this.V), grad, rows ?? Array.from({ length: this.env.tokens }, (_, r) => r));
  }

  /** One optimiser step on M (SGD or Adam); `rows` are the rows whose gradient may be non-zero. */
  step(opt: HostOptimizer, grad: Float64Array, rows: Iterable<number>): void {
    if (opt.rowLength !== this.V)
      throw new RangeError(`bigram: optimiser rows of ${opt.rowLength}, table rows of ${this.V}`);
    this.refresh(opt.step(this.m, grad, rows));
  }

  /**
   * The exact expected episode length (all actions, a₁ included) and success probability under
   * π, without sampling: with R_k(s) the expected further actions from state s when k more are
   * allowed and H_k(s) the probability of hitting a* within them,
   *   R_k(s) = 1 + Σ_{j ∉ {a*, stop}} π(j|s) R_{k−1}(j),   H_k(s) = π(a*|s) + Σ_{j ∉ {a*, stop}} π(j|s) H_{k−1}(j),
   * and the episode is a₁ (uniform over non-answer tokens) then B_tr − 1 more at most.
   * O(B_tr · tokens · V).
   */
  expectations(): { length: number; reward: number } {
    const { tokens, answer, budget } = this.env;
    const V = this.V;
    let R = new Float64Array(tokens),
      H = new Float64Array(tokens);
    let R2 = new Float64Array(tokens),
      H2 = new Float64Array(tokens);
    for (let k = 1; k < budget; k++) {
      for (let s = 0; s < tokens; s++) {
        if (s === answer) continue;
        const o = s * V;
        let r = 1,
          h = this.probs[o + answer]!;
        for (let j = 0; j < tokens; j++) {
          if (j === answer) continue;
          const p = this.probs[o + j]!;
          r += p * R[j]!;
          h += p * H[j]!;
        }
        R2[s] = r;
        H2[s] = h;
      }
      [R, R2] = [R2, R];
      [H, H2] = [H2, H];
    }
    let length = 0,
      reward = 0;
    for (let s = 0; s < tokens; s++) {
      if (s === answer) continue;
      length += 1 + R[s]!;
      reward += H[s]!;
    }
    return { length: length / (tokens - 1), reward: reward / (tokens - 1) };
  }

  /** Entropy of π(·|s) in nats. */
  entropyOf(s: number): number {
    let e = 0;
    for (let j = s * this.V; j < (s + 1) * this.V; j++) {
      const p = this.probs[j]!;
      if (p > 0) e -= p * Math.log(p);
    }
    return e;
  }

  private refresh(rows?: readonly number[]): void {
    const V = this.V;
    for (const r of rows ?? Array.from({ length: this.env.tokens }, (_, i) => i)) {
      const o = r * V;
      let max = -Infinity;
      for (let j = 0; j < V; j++) max = Math.max(max, this.m[o + j]!);
      let z = 0;
      for (let j = 0; j < V; j++) z += this.probs[o + j] = Math.exp(this.m[o + j]! - max);
      let c = 0;
      for (let j = 0; j < V; j++) {
        this.probs[o + j]! /= z;
        this.cdf[o + j] = c += this.probs[o + j]!;
      }
      this.cdf[o + V - 1] = 1; // round-off: the last action closes the row
    }
  }

  dispose(): void {
    this.variable_?.dispose();
    this.variable_ = null;
  }
}
