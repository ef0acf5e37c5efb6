/**
 * SIMD kernels for what tfjs-wasm lacks a fast form of, in one small WebAssembly module with
 * 128-bit SIMD. Its source is kernels/kernels.wat (text, named locals); `npm run kernels` compiles
 * it with wabt into kernels/kernels.wasm.ts, which is what loads here (about a kilobyte):
 *
 * - `scores` and `mix`: the two products of one-query attention over a host KV cache
 *   (src/policy/transformer/kvcache.ts), for every (batch, head) row r:
 *     out[r] = Σ_l softmax_l(q[r]·K[r, l] / √hd) · V[r, l]
 *   K and V are [R, L_max, hd]; q and out are [R, hd] (R = B·H, the heads of a batch row
 *   contiguous). The softmax between them runs in JavaScript (WebAssembly has no `exp`).
 * - `colsum`: Sum over leading axes, and `layerNorm`: the decode step's LayerNorm — both on
 *   tfjs-wasm's own heap (wasmKernels.ts).
 *
 * Plain JavaScript loops reached ~0.6 GFLOP/s for the attention, slower than tfjs-wasm's naive
 * batched matmul; the SIMD module reaches 8–11 GFLOP/s.
 */

import { KERNELS_WASM_BASE64 } from './kernels/kernels.wasm.js';

/** The compiled kernels (kernels.wasm.ts). */
export function kernelBytes(): Uint8Array<ArrayBuffer> {
  const b = Buffer.from(KERNELS_WASM_BASE64, 'base64');
  const out = new Uint8Array(new ArrayBuffer(b.length));
  out.set(b);
  return out;
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled SIMD module, or null where this runtime does not validate it. */
export function simdModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = kernelBytes();
    compiled = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

export interface SimdKernels {
  scores(K: number, Q: number, S: number, rows: number, hd: number, maxLen: number, len: number, scale: number): void;
  mix(V: number, P: number, O: number, rows: number, hd: number, maxLen: number, len: number): void;
  colsum(X: number, O: number, n: number, m: number): void;
  layerNorm(X: number, G: number, B: number, O: number, rows: number, D: number, eps: number): void;
}

export function instantiateSimd(memory: WebAssembly.Memory): SimdKernels | null {
  const m = simdModule();
  if (!m) return null;
  return new WebAssembly.Instance(m, { env: { memory } }).exports as unknown as SimdKernels;
}
