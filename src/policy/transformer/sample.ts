/**
 * Autoregressive sampling with a KV cache: one prefill of the (equal-length) prompts, then one
 * decode step per token. Sampling itself happens on the host with a seeded Rng per sequence,
 * so a seed fixes every sampled token. Returned log-probs and entropies are those of the
 * temperature-scaled policy (the behaviour policy μ the learner corrects against).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../util/rng.js';
import type { Gpt, KvCache } from './model.js';
import { HostKvCache } from './kvcache.js';

/**
 * Backends whose tensors live in host memory keep the KV cache on the host (kvcache.ts); GPU
 * backends keep it as tensors.
 */
export function usesHostKvCache(): boolean {
  const b = tf.getBackend();
  return b === 'wasm' || b === 'cpu';
}

export interface SampleOptions {
  /** Maximum number of generated tokens per sequence (truncation budget). */
  budgetTokens: number;
  temperature: number;
  eosId: number;
  /** Fed after a sequence has stopped; its outputs are ignored. */
  padId: number;
  /** One generator per sequence (fork them from a run seed). */
  rngs: Rng[];
  /**
   * Optional constraint: token ids that may not be sampled next for row `row`, given the tokens
   * generated so far. Used by evaluation protocols (e.g. forced chains); log-probs recorded are
   * still those of the unconstrained policy.
   */
  forbid?: (row: number, completion: readonly number[]) => readonly number[] | null;
  /**
   * Called before the decode step that computes the logits of completion position `position`
   * (position 0 comes from the prefill). A sampler may swap the model's weights here (in-flight
   * updates); the KV cache of earlier positions is kept.
   */
  beforeDecode?: (position: number) => boolean | undefined;
  /**
   * When beforeDecode returns true (it swapped the weights): `keep` the KV cache of earlier
   * positions (computed by the old weights; the default), or `recompute` it — one prefill of the
   * prompt and every token fed so far under the new weights, so later tokens are the new policy's.
   */
  kvOnSwap?: 'keep' | 'recompute';
  /** Counts recomputed prefixes (one per swap with kvOnSwap recompute). */
  onRecompute?: () => void;
  /**
   * Controlled mismatch (policy/mismatch.ts): σ·N(0, 1) added to each logit of row b, drawn from
   * `rngs[b]` (a stream of its own, so the sampling stream is unchanged). Recorded log-probs are
   * the perturbed policy's.
   */
  logitNoise?: { sigma: number; rngs: Rng[] };
  /** Force the host KV cache on or off (default: on for the wasm and cpu backends). */
  hostKvCache?: boolean;
}

export interface SampleResult {
  tokens: number[];
  logprobs: number[];
  entropies: number[];
  stop: 'eos' | 'budget';
}

/** Samples on this thread, reading each step's logits synchronously (the host backends, and the virtual clock). */
export function sample(model: Gpt, prompts: readonly (readonly number[])[], opts: SampleOptions): SampleResult[] {
  const steps = sampleSteps(model, prompts, opts);
  let r = steps.next();
  while (!r.done) r = steps.next(r.value.dataSync() as Float32Array);
  return r.value;
}

/**
 * The same sampling, reading each step's logits asynchronously: the webgpu backend cannot read a
 * GPU buffer synchronously in Node (tfjs-backend-webgpu's readSync draws through an
 * OffscreenCanvas, which Node lacks; measured on an H200, BENCHMARKS.md).
 */
export async function sampleAsync(
  model: Gpt,
  prompts: readonly (readonly number[])[],
  opts: SampleOptions,
): Promise<SampleResult[]> {
  const steps = sampleSteps(model, prompts, opts);
  let r = steps.next();
  while (!r.done) {
    let host: Float32Array;
    try {
      host = (await r.value.data()) as Float32Array;
    } catch (e) {
      steps.return([]); // frees the KV cache and the logits (the generator's finally)
      throw e;
    }
    r = steps.next(host);
  }
  return r.value;
}

/**
 * The sampling loop, written once for both drivers: it yields each step's logits [B, V] and is
 * given back their values on the host.
 */
function* sampleSteps(
  model: Gpt,
  prompts: readonly (readonly number[])[],
  opts: SampleOptions,
): Generator<tf.Tensor2D, SampleResult[], Float32Array> {
  const B = prompts.length;
  if (B === 0) return [];
  const P = prompts[0]!.length;
  if (prompts.some((p) => p.length !== P))
    throw new RangeError('sample: all prompts in a batch must have the same length');
  if (opts.rngs.length !== B) throw new RangeError(`sample: need ${B} rngs, got ${opts.rngs.length}`);
  if (opts.logitNoise && opts.logitNoise.rngs.length !== B)
    throw new RangeError(`sample: need ${B} noise rngs, got ${opts.logitNoise.rngs.length}`);
  if (!(opts.temperature > 0)) throw new RangeError(`sample: temperature must be > 0, got ${opts.temperature}`);
  const V = model.config.vocabSize;
  const maxNew = Math.min(opts.budgetTokens, model.config.contextLength - P);
  const results: SampleResult[] = prompts.map(() => ({
    tokens: [],
    logprobs: [],
    entropies: [],
    stop: 'budget' as const,
  }));
  if (maxNew <= 0) return results;
  const done = new Array<boolean>(B).fill(false);

  const flat = new Int32Array(B * P);
  prompts.forEach((p, b) => flat.set(p, b * P));
  const { nHeads: H, dModel: D, nLayers, contextLength } = model.config;
  const hostCache =
    (opts.hostKvCache ?? usesHostKvCache()) ? new HostKvCache(B, H, D / H, contextLength, nLayers) : null;
  let cache: KvCache = { k: [], v: [], length: 0 };
  let logits = tf.tidy(() => {
    const out: KvCache = { k: [], v: [], length: 0 };
    const all = model.forward(tf.tensor2d(flat, [B, P], 'int32'), hostCache ? { host: hostCache } : { out });
    const last = tf.reshape(tf.slice(tf.reshape(all, [B, P, V]), [0, P - 1, 0], [B, 1, V]), [B, V]);
    cache = { k: out.k.map((t) => tf.keep(t)), v: out.v.map((t) => tf.keep(t)), length: P };
    return last as tf.Tensor2D;
  });

  // What each row has been fed after its prompt (its tokens, then pads once stopped), for a recompute.
  const fed: number[][] = prompts.map(() => []);
  const scaled = new Float64Array(V);
  const probs = new Float64Array(V);
  const next = new Int32Array(B);
  // A callback may throw (generate.ts aborts a generation on a weight swap): free the tensors either way.
  try {
    for (let step = 0; step < maxNew; step++) {
      const host = yield logits;
      logits.dispose();
      let active = 0;
      for (let b = 0; b < B; b++) {
        if (done[b]) {
          next[b] = opts.padId;
          continue;
        }
        const r = results[b]!;
        let max = -Infinity;
        const noise = opts.logitNoise && opts.logitNoise.sigma > 0 ? opts.logitNoise : null;
        for (let j = 0; j < V; j++) {
          const logit = host[b * V + j]! + (noise ? noise.sigma * noise.rngs[b]!.normal() : 0);
          scaled[j] = logit / opts.temperature;
          if (scaled[j]! > max) max = scaled[j]!;
        }
        let z = 0;
        for (let j = 0; j < V; j++) z += Math.exp(scaled[j]! - max);
        const logZ = max + Math.log(z);
        let entropy = 0;
        for (let j = 0; j < V; j++) {
          const lp = scaled[j]! - logZ;
          probs[j] = Math.exp(lp);
          entropy -= probs[j]! * lp;
        }
        const banned = opts.forbid?.(b, r.tokens);
        if (banned && banned.length > 0) {
          for (const t of banned) probs[t] = 0;
          // nothing left: ignore the constraint
          if (!probs.some((p) => p > 0)) for (let j = 0; j < V; j++) probs[j] = Math.exp(scaled[j]! - logZ);
        }
        const tok = opts.rngs[b]!.categorical(probs);
        r.tokens.push(tok);
        r.logprobs.push(scaled[tok]! - logZ);
        r.entropies.push(entropy);
        next[b] = tok;
        if (tok === opts.eosId) {
          r.stop = 'eos';
          done[b] = true;
        } else active++;
      }
      if (active === 0 || step === maxNew - 1) break;
      for (let b = 0; b < B; b++) fed[b]!.push(next[b]!);
      const swapped = opts.beforeDecode?.(step + 1) === true;
      if (swapped && opts.kvOnSwap === 'recompute') {
        opts.onRecompute?.();
        const L = P + fed[0]!.length;
        const all = new Int32Array(B * L);
        prompts.forEach((p, b) => {
          all.set(p, b * L);
          all.set(fed[b]!, b * L + P);
        });
        for (const t of [...cache.k, ...cache.v]) t.dispose();
        const out: KvCache = { k: [], v: [], length: 0 };
        logits = tf.tidy(() => {
          const y = model.forward(tf.tensor2d(all, [B, L], 'int32'), hostCache ? { host: hostCache } : { out });
          const last = tf.reshape(tf.slice(tf.reshape(y, [B, L, V]), [0, L - 1, 0], [B, 1, V]), [B, V]);
          cache = { k: out.k.map((t) => tf.keep(t)), v: out.v.map((t) => tf.keep(t)), length: L };
          return last as tf.Tensor2D;
        });
        continue;
      }
      if (hostCache) {
        logits = tf.tidy(() => model.decodeHost(tf.tensor1d(next, 'int32'), hostCache));
        continue;
      }
      const old = cache;
      const out = tf.tidy(() => {
        const o = model.decodeStep(tf.tensor1d(next, 'int32'), old);
        return { logits: o.logits, k: o.cache.k, v: o.cache.v };
      });
      for (const t of [...old.k, ...old.v]) t.dispose();
      cache = { k: out.k, v: out.v, length: old.length + 1 };
      logits = out.logits;
    }
  } finally {
    if (!logits.isDisposed) logits.dispose();
    for (const t of [...cache.k, ...cache.v]) t.dispose();
  }
  return results;
}
