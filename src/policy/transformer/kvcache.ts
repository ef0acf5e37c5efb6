/**
 * The sampler's KV cache on the host: per layer, keys and values preallocated for the whole
 * context as [B, H, L_max, hd] arrays, written in place one position per decode step, and the
 * one-token attention computed over them directly (SIMD kernels in src/tensor/simd.ts, the
 * JavaScript reference in attentionKernel.ts).
 *
 * Why not tensors: on the wasm and cpu backends a tensor cache must be re-concatenated every token
 * (tensors are immutable: an O(L) copy per step), and the one-row attention products run on
 * tfjs-wasm's naive batched-matmul loop at ~1 GFLOP/s — together about half of the sampling time
 * at the reference shape (profile in BENCHMARKS.md). On GPU backends the tensor cache stays (a
 * host round trip per layer would cost more than it saves there).
 *
 * All arrays are views into one WebAssembly.Memory so the SIMD kernels address them directly.
 */
import { jsAttention, softmaxRows } from './attentionKernel.js';
import { instantiateSimd, type SimdKernels } from '../../tensor/simd.js';

export class HostKvCache {
  readonly k: Float32Array[] = [];
  readonly v: Float32Array[] = [];
  /** Positions filled so far. */
  length = 0;
  /** Staging for one step's queries and outputs [B·H·hd], and scores [B·H·L_max]. */
  private readonly q: Float32Array;
  private readonly out: Float32Array;
  private readonly scores: Float32Array;
  private readonly simd: SimdKernels | null;
  /** Byte offsets of the arrays above inside the memory. */
  private readonly at: { k: number[]; v: number[]; q: number; out: number; scores: number };

  constructor(
    readonly batch: number,
    readonly nHeads: number,
    readonly headDim: number,
    readonly maxLength: number,
    nLayers: number,
    opts: { simd?: boolean } = {},
  ) {
    const rows = batch * nHeads;
    const n = rows * maxLength * headDim;
    const floats = 2 * nLayers * n + 2 * rows * headDim + rows * maxLength;
    if (floats * 4 > 2 ** 32 - 65536)
      throw new RangeError(`KV cache of ${((floats * 4) / 2 ** 30).toFixed(1)} GiB exceeds WebAssembly's 4 GiB memory`);
    const memory = new WebAssembly.Memory({ initial: Math.ceil((floats * 4) / 65536) });
    let off = 0;
    const take = (len: number): [number, Float32Array] => {
      const a = new Float32Array(memory.buffer, off, len);
      const at = off;
      off += len * 4;
      return [at, a];
    };
    const at = { k: [] as number[], v: [] as number[], q: 0, out: 0, scores: 0 };
    for (let i = 0; i < nLayers; i++) {
      const [ak, k] = take(n);
      const [av, v] = take(n);
      at.k.push(ak);
      at.v.push(av);
      this.k.push(k);
      this.v.push(v);
    }
    [at.q, this.q] = take(rows * headDim);
    [at.out, this.out] = take(rows * headDim);
    [at.scores, this.scores] = take(rows * maxLength);
    this.at = at;
    this.simd = opts.simd !== false && headDim % 4 === 0 ? instantiateSimd(memory) : null;
  }

  /** Which attention implementation runs. */
  get kernel(): 'simd' | 'js' {
    return this.simd ? 'simd' : 'js';
  }

  /**
   * Writes `T` positions starting at `pos` for layer `layer` from rows laid out [B, T, H, hd]
   * (the projections' natural [B·T, D] layout); `rowStride` (default H·hd) lets k and v be views
   * into a wider row, e.g. the fused [B, 3D] q/k/v projection.
   */
  write(
    layer: number,
    pos: number,
    T: number,
    k: Float32Array,
    v: Float32Array,
    rowStride = this.nHeads * this.headDim,
  ): void {
    const { batch: B, nHeads: H, headDim: hd, maxLength: L } = this;
    if (pos + T > L) throw new RangeError(`KV cache: position ${pos + T} exceeds its length ${L}`);
    const K = this.k[layer]!,
      V = this.v[layer]!;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const src = (b * T + t) * rowStride;
        for (let h = 0; h < H; h++) {
          const dst = ((b * H + h) * L + pos + t) * hd;
          const s = src + h * hd;
          K.set(k.subarray(s, s + hd), dst);
          V.set(v.subarray(s, s + hd), dst);
        }
      }
    }
  }

  /**
   * Attention of one new query per row (q [B, H·hd]) over positions 0..len-1 of `layer` (default
   * the filled ones); returns softmax(q·Kᵀ/√hd)·V as a new [B, H·hd] array.
   */
  attend(layer: number, q: Float32Array, len = this.length): Float32Array {
    const rows = this.batch * this.nHeads,
      hd = this.headDim,
      L = this.maxLength;
    if (!this.simd) {
      const out = new Float32Array(rows * hd);
      jsAttention(this.k[layer]!, this.v[layer]!, q, out, rows, hd, L, len, this.scores);
      return out;
    }
    this.q.set(q);
    this.simd.scores(this.at.k[layer]!, this.at.q, this.at.scores, rows, hd, L, len, 1 / Math.sqrt(hd));
    softmaxRows(this.scores, rows, len);
    this.simd.mix(this.at.v[layer]!, this.at.scores, this.at.out, rows, hd, L, len);
    return this.out.slice();
  }
}
