/**
 * A tiny decoder-only GPT in TensorFlow.js: pre-LayerNorm blocks, learned positions (or rotary
 * ones with a short learned table: config.ts `positions`, rope.ts), an untied output head. Reads
 * like nanoGPT's model.py: parameters, then CausalSelfAttention, MLP, Block,
 * then the two paths that use them — the teacher-forced batch forward (the learner's path) and
 * the KV-cached decoder (the sampler's path, in sample.ts). Parameter shapes and initialisation
 * are params.ts.
 *
 * Embeddings are `oneHot(tokens) · wte` rather than `gather`: the wasm backend has no gradient
 * for gather.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../util/rng.js';
import { packArrays, unpackArrays, type PackedWeights } from '../../tensor/pack.js';
import { initialWeights, parameterShapes } from './params.js';
import { InputError } from '../../util/errors.js';
import type { GptConfig } from './config.js';
import { ropeRows, ropeTables, type RopeTables } from './rope.js';
import { bmm, gelu, layerNorm, linear } from './ops.js';
import type { HostKvCache } from './kvcache.js';
import { wasmLayerNormForward } from '../../tensor/wasmKernels.js';

type Params = Map<string, tf.Variable>;

export interface KvCache {
  /** Per layer: keys [B·H, L, hd] and values [B·H, L, hd]. */
  k: tf.Tensor3D[];
  v: tf.Tensor3D[];
  length: number;
}

export class Gpt {
  readonly params: Params;
  readonly variables: tf.Variable[];
  private readonly masks = new Map<number, tf.Tensor2D>();
  private readonly qkvCache = new Map<number, { ids: object[]; w: tf.Tensor2D; b: tf.Tensor1D }>();
  /** `rope` only: the host tables and their tensors (cos, sin [L, D]; rotate [D, D]), made once. */
  private rope: { host: RopeTables; cos: tf.Tensor2D; sin: tf.Tensor2D; rotate: tf.Tensor2D } | null = null;

  private constructor(
    readonly config: GptConfig,
    weights: PackedWeights,
    source: string,
  ) {
    const byName = unpackArrays(weights, source);
    this.params = new Map();
    for (const { name, shape } of parameterShapes(config)) {
      const w = byName.get(name);
      if (!w) throw new InputError(`${source}: missing tensor '${name}' [${shape}]`);
      if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
        throw new InputError(`${source}: tensor '${name}' has shape [${w.shape}], the config needs [${shape}]`);
      }
      // .slice(): the cpu backend may alias the array a tensor is made from.
      this.params.set(name, tf.variable(tf.tensor(w.values.slice(), shape), true, name + '_' + nextId()));
    }
    if (byName.size !== this.params.size) {
      const extra = [...byName.keys()].filter((k) => !this.params.has(k));
      throw new InputError(`${source}: unexpected tensors ${extra.join(', ')}`);
    }
    this.variables = [...this.params.values()];
  }

  static create(config: GptConfig, rng: Rng): Gpt {
    return new Gpt(config, initialWeights(config, rng), 'init');
  }

  static fromPacked(config: GptConfig, weights: PackedWeights, source = 'weights'): Gpt {
    return new Gpt(config, weights, source);
  }

  /** One packed copy of all weights (reads back from the backend). */
  pack(): PackedWeights {
    return packArrays(
      parameterShapes(this.config).map(({ name, shape }) => ({
        name,
        shape,
        values: this.params.get(name)!.dataSync() as Float32Array,
      })),
    );
  }

  /** Replaces all weights in place (e.g. a new version from the weight store). */
  load(weights: PackedWeights, source = 'weights'): void {
    const byName = unpackArrays(weights, source);
    for (const [name, v] of this.params) {
      const w = byName.get(name);
      if (!w || w.values.length !== v.size)
        throw new InputError(`${source}: tensor '${name}' missing or of the wrong size`);
      tf.tidy(() => v.assign(tf.tensor(w.values.slice(), v.shape))); // tidy: the temporary is not the variable
    }
  }

  parameterCount(): number {
    return this.variables.reduce((n, v) => n + v.size, 0);
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
    for (const m of this.masks.values()) m.dispose();
    this.masks.clear();
    for (const e of this.qkvCache.values()) tf.dispose([e.w, e.b]);
    this.qkvCache.clear();
    if (this.rope) tf.dispose([this.rope.cos, this.rope.sin, this.rope.rotate]);
    this.rope = null;
  }

  private ropeTensors(): NonNullable<Gpt['rope']> {
    if (!this.rope) {
      const { contextLength: L, nHeads: H, dModel: D } = this.config;
      const host = ropeTables(L, H, D / H, this.config.ropeDims);
      this.rope = {
        host,
        cos: tf.keep(tf.tensor2d(host.cos, [L, D])),
        sin: tf.keep(tf.tensor2d(host.sin, [L, D])),
        rotate: tf.keep(tf.tensor2d(host.rotate, [D, D])),
      };
    }
    return this.rope;
  }

  /** Rotates q or k rows [B·T, D] of positions pos0 … pos0 + T − 1 (identity unless `rope`). */
  private rotate(x: tf.Tensor2D, B: number, T: number, pos0: number): tf.Tensor2D {
    if (this.config.positions !== 'rope') return x;
    const D = this.config.dModel;
    const r = this.ropeTensors();
    const cos = tf.slice(r.cos, [pos0, 0], [T, D]);
    const sin = tf.slice(r.sin, [pos0, 0], [T, D]);
    const turned = tf.mul(tf.reshape(linear(x, r.rotate), [B, T, D]), sin);
    return tf.reshape(tf.add(tf.mul(tf.reshape(x, [B, T, D]), cos), turned), [B * T, D]);
  }

  private p(name: string): tf.Variable {
    return this.params.get(name)!;
  }

  /**
   * Additive causal mask [T, T]: 0 on and below the diagonal, -1e9 above. One mask of the full
   * context is kept (so the live tensor count never depends on which lengths were seen); shorter
   * ones are slices of it, made inside the caller's tidy.
   */
  private causalMask(T: number): tf.Tensor2D {
    const L = this.config.contextLength;
    let m = this.masks.get(L);
    if (!m) {
      const a = new Float32Array(L * L);
      for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) a[i * L + j] = -1e9;
      m = tf.keep(tf.tensor2d(a, [L, L]));
      this.masks.set(L, m);
    }
    return T === L ? m : tf.slice(m, [0, 0], [T, T]);
  }

  /**
   * Token + position embedding for a [B, T] batch starting at position `pos0`: [B·T, D]. With
   * `positions` ([B, T] int32, learned positions only), each token's own position row instead (the
   * pretraining's shifted traces, pretrain.ts positionShift), picked as oneHot · wpe (no gather
   * gradient on wasm).
   */
  private embed(tokens: tf.Tensor2D, pos0: number, positions?: tf.Tensor2D): tf.Tensor2D {
    const [B, T] = tokens.shape;
    const { vocabSize: V, dModel: D, contextLength } = this.config;
    if (pos0 + T > contextLength)
      throw new RangeError(`sequence of ${pos0 + T} tokens exceeds the context length ${contextLength}`);
    const oneHot = tf.oneHot(tf.reshape(tokens, [B * T]), V).toFloat() as tf.Tensor2D;
    const tok = linear(oneHot, this.p('wte') as tf.Tensor2D);
    if (positions) {
      if (this.config.positions === 'rope') throw new RangeError('explicit positions need learned positions');
      const wpe = this.p('wpe') as tf.Tensor2D;
      const pick = tf.oneHot(tf.reshape(positions, [B * T]), wpe.shape[0]).toFloat() as tf.Tensor2D;
      return tf.add(tok, linear(pick, wpe)) as tf.Tensor2D;
    }
    return tf.reshape(tf.add(tf.reshape(tok, [B, T, D]), this.positionEmbedding(pos0, T)), [B * T, D]);
  }

  /** Learned position rows for positions pos0 … pos0 + T − 1: [T, D]; a `rope` model's short
   * table gives every position past its end the last row (a broadcast, so its gradient sums). */
  private positionEmbedding(pos0: number, T: number): tf.Tensor2D {
    const D = this.config.dModel;
    const wpe = this.p('wpe') as tf.Tensor2D;
    const A = wpe.shape[0];
    if (pos0 + T <= A) return tf.slice(wpe, [pos0, 0], [T, D]);
    const tail = tf.add(tf.zeros([pos0 + T - Math.max(pos0, A), D]), tf.slice(wpe, [A - 1, 0], [1, D])) as tf.Tensor2D;
    return pos0 >= A ? tail : tf.concat([tf.slice(wpe, [pos0, 0], [A - pos0, D]), tail], 0);
  }

  private dense(x: tf.Tensor2D, w: string, b: string): tf.Tensor2D {
    return tf.add(linear(x, this.p(w) as tf.Tensor2D), this.p(b));
  }

  /** [B·T, D] -> [B·H, T, hd] */
  private heads(x: tf.Tensor2D, B: number, T: number): tf.Tensor3D {
    const { nHeads: H, dModel: D } = this.config;
    return tf.reshape(tf.transpose(tf.reshape(x, [B, T, H, D / H]), [0, 2, 1, 3]), [B * H, T, D / H]) as tf.Tensor3D;
  }

  /** CausalSelfAttention over a whole [B·T, D] block; also returns this layer's K^T and V. */
  private attention(i: number, x: tf.Tensor2D, B: number, T: number, cache?: KvCache, host?: HostKvCache): tf.Tensor2D {
    const { nHeads: H, dModel: D } = this.config;
    const hd = D / H;
    const p = `h.${i}.attn`;
    // Three products rather than one fused [D, 3D] one: splitting the fused result into heads
    // (a 5-D transpose and slices, whose gradients are pads) made the training step 1.9x slower
    // on wasm (measured).
    const q = this.heads(this.rotate(this.dense(x, `${p}.wq`, `${p}.bq`), B, T, 0), B, T);
    const k = this.rotate(this.dense(x, `${p}.wk`, `${p}.bk`), B, T, 0);
    const kT = tf.reshape(tf.transpose(tf.reshape(k, [B, T, H, hd]), [0, 2, 3, 1]), [B * H, hd, T]) as tf.Tensor3D;
    const vRows = this.dense(x, `${p}.wv`, `${p}.bv`);
    const v = this.heads(vRows, B, T);
    host?.write(i, 0, T, k.dataSync() as Float32Array, vRows.dataSync() as Float32Array);
    if (cache) {
      cache.k.push(this.heads(k, B, T));
      cache.v.push(v);
    }
    const scores = tf.add(tf.mul(bmm(q, kT), 1 / Math.sqrt(hd)), this.causalMask(T)); // [B·H, T, T]
    const att = tf.softmax(scores) as tf.Tensor3D;
    const yh = bmm(att, v); // [B·H, T, hd]
    const y = tf.reshape(tf.transpose(tf.reshape(yh, [B, H, T, hd]), [0, 2, 1, 3]), [B * T, D]) as tf.Tensor2D;
    return this.dense(y, `${p}.wo`, `${p}.bo`);
  }

  private mlp(i: number, x: tf.Tensor2D): tf.Tensor2D {
    const p = `h.${i}.mlp`;
    return this.dense(gelu(this.dense(x, `${p}.w1`, `${p}.b1`)), `${p}.w2`, `${p}.b2`);
  }

  /** LayerNorm for the decode step (no gradient): one SIMD pass on wasm, the tensor ops elsewhere. */
  private lnNoGrad(x: tf.Tensor2D, name: string): tf.Tensor2D {
    return (
      wasmLayerNormForward(x, this.p(`${name}.g`) as tf.Tensor1D, this.p(`${name}.b`) as tf.Tensor1D) ??
      this.ln(x, name)
    );
  }

  private ln(x: tf.Tensor2D, name: string): tf.Tensor2D {
    return layerNorm(x, this.p(`${name}.g`) as tf.Tensor1D, this.p(`${name}.b`) as tf.Tensor1D);
  }

  /**
   * Teacher-forced forward over a [B, T] batch from position 0: logits [B·T, V].
   * With `cache`, also returns each layer's K and V (the sampler's prefill).
   */
  forward(tokens: tf.Tensor2D, cache?: { out?: KvCache; host?: HostKvCache }, positions?: tf.Tensor2D): tf.Tensor2D {
    const [B, T] = tokens.shape;
    let x = this.embed(tokens, 0, positions);
    for (let i = 0; i < this.config.nLayers; i++) {
      x = tf.add(x, this.attention(i, this.ln(x, `h.${i}.ln1`), B, T, cache?.out, cache?.host));
      x = tf.add(x, this.mlp(i, this.ln(x, `h.${i}.ln2`)));
    }
    if (cache?.out) cache.out.length = T;
    if (cache?.host) cache.host.length = T;
    return linear(this.ln(x, 'lnf'), this.p('head') as tf.Tensor2D);
  }

  /**
   * One decoding step over a host KV cache (the wasm and cpu backends' path): the projections run
   * as tensors, the one-token attention on the host (kvcache.ts). `tokens` [B] at position
   * cache.length; returns the logits [B, V] and advances the cache by one position.
   */
  decodeHost(tokens: tf.Tensor1D, cache: HostKvCache): tf.Tensor2D {
    const B = tokens.shape[0];
    const D = this.config.dModel;
    const pos = cache.length;
    let x = this.embed(tf.reshape(tokens, [B, 1]) as tf.Tensor2D, pos);
    const q = new Float32Array(B * D);
    for (let i = 0; i < this.config.nLayers; i++) {
      const p = `h.${i}`;
      const qkvW = this.fusedQkv(i);
      const qkv = tf.fused
        .matMul({ a: this.lnNoGrad(x, `${p}.ln1`), b: qkvW.w, bias: qkvW.b })
        .dataSync() as Float32Array; // [B, 3D]
      if (this.config.positions === 'rope') {
        const host = this.ropeTensors().host;
        const nHeads = this.config.nHeads,
          headDim = D / nHeads;
        ropeRows(host, qkv, { rows: B, pos, offset: 0, stride: 3 * D, nHeads, headDim }); // q
        ropeRows(host, qkv, { rows: B, pos, offset: D, stride: 3 * D, nHeads, headDim }); // k
      }
      for (let b = 0; b < B; b++) q.set(qkv.subarray(3 * b * D, 3 * b * D + D), b * D);
      cache.write(i, pos, 1, qkv.subarray(D), qkv.subarray(2 * D), 3 * D); // k and v straight from the fused rows
      const y = cache.attend(i, q, pos + 1); // a fresh array: the cpu backend may alias it
      x = tf.add(
        x,
        tf.fused.matMul({ a: tf.tensor2d(y, [B, D]), b: this.p(`${p}.attn.wo`), bias: this.p(`${p}.attn.bo`) }),
      );
      const h = tf.fused.matMul({
        a: this.lnNoGrad(x, `${p}.ln2`),
        b: this.p(`${p}.mlp.w1`) as tf.Tensor2D,
        bias: this.p(`${p}.mlp.b1`),
      });
      x = tf.add(
        x,
        tf.fused.matMul({
          a: gelu(h as tf.Tensor2D),
          b: this.p(`${p}.mlp.w2`) as tf.Tensor2D,
          bias: this.p(`${p}.mlp.b2`),
        }),
      );
    }
    cache.length = pos + 1;
    return linear(this.lnNoGrad(x, 'lnf'), this.p('head') as tf.Tensor2D);
  }

  /**
   * Layer i's q/k/v projections as one [D, 3D] matrix and [3D] bias (one product and one read
   * back per decode step instead of three). Rebuilt when any of the six variables was assigned
   * since (tfjs gives an assigned variable new data, so the data ids tell).
   */
  private fusedQkv(i: number): { w: tf.Tensor2D; b: tf.Tensor1D } {
    const names = ['wq', 'wk', 'wv', 'bq', 'bk', 'bv'].map((n) => `h.${i}.attn.${n}`);
    const ids = names.map((n) => this.p(n).dataId);
    const hit = this.qkvCache.get(i);
    if (hit?.ids.every((id, j) => id === ids[j])) return hit;
    if (hit) tf.dispose([hit.w, hit.b]);
    const [wq, wk, wv, bq, bk, bv] = names.map((n) => this.p(n));
    const entry = {
      ids,
      w: tf.keep(tf.concat([wq!, wk!, wv!], 1)) as tf.Tensor2D,
      b: tf.keep(tf.concat([bq!, bk!, bv!], 0)) as tf.Tensor1D,
    };
    this.qkvCache.set(i, entry);
    return entry;
  }

  /**
   * One decoding step with a KV cache: `tokens` [B] at position cache.length.
   * Returns logits [B, V] and the extended cache (the caller disposes the old one).
   */
  decodeStep(tokens: tf.Tensor1D, cache: KvCache): { logits: tf.Tensor2D; cache: KvCache } {
    const B = tokens.shape[0];
    const { nHeads: H, dModel: D } = this.config;
    const hd = D / H;
    let x = this.embed(tf.reshape(tokens, [B, 1]) as tf.Tensor2D, cache.length);
    const next: KvCache = { k: [], v: [], length: cache.length + 1 };
    for (let i = 0; i < this.config.nLayers; i++) {
      const p = `h.${i}.attn`;
      const a = this.ln(x, `h.${i}.ln1`);
      const q = tf.reshape(this.rotate(this.dense(a, `${p}.wq`, `${p}.bq`), B, 1, cache.length), [B * H, 1, hd]);
      const k = tf.reshape(this.rotate(this.dense(a, `${p}.wk`, `${p}.bk`), B, 1, cache.length), [B * H, 1, hd]);
      const v = tf.reshape(this.dense(a, `${p}.wv`, `${p}.bv`), [B * H, 1, hd]);
      // Keys stay [B·H, L, hd] so the cache grows along axis 1 (concat on the last axis is
      // several times slower on wasm); the transpose flag is cheap in this tiny product.
      const kk = tf.concat([cache.k[i]!, k as tf.Tensor3D], 1) as tf.Tensor3D;
      const vv = tf.concat([cache.v[i]!, v as tf.Tensor3D], 1) as tf.Tensor3D;
      next.k.push(kk);
      next.v.push(vv);
      // [B·H, 1, L]
      const att = tf.softmax(tf.mul(tf.matMul(q as tf.Tensor3D, kk, false, true), 1 / Math.sqrt(hd))) as tf.Tensor3D;
      const y = tf.reshape(tf.matMul(att, vv), [B, D]) as tf.Tensor2D;
      x = tf.add(x, this.dense(y as tf.Tensor2D, `${p}.wo`, `${p}.bo`));
      x = tf.add(x, this.mlp(i, this.ln(x, `h.${i}.ln2`)));
    }
    return { logits: linear(this.ln(x, 'lnf'), this.p('head') as tf.Tensor2D), cache: next };
  }
}

let idCounter = 0;
function nextId(): number {
  return idCounter++;
}
