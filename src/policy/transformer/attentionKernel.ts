/**
 * One-query attention over a host KV cache in plain JavaScript — the reference for the SIMD
 * kernels (src/tensor/simd.ts) and the fallback where SIMD does not validate or hd % 4 ≠ 0 —
 * and the row softmax both paths use between their two products.
 */

/** Softmax of each of `rows` rows of length `len` (row stride `len`), in place. */
export function softmaxRows(S: Float32Array, rows: number, len: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * len;
    let max = -Infinity;
    for (let l = 0; l < len; l++) if (S[o + l]! > max) max = S[o + l]!;
    let z = 0;
    for (let l = 0; l < len; l++) {
      const e = Math.exp(S[o + l]! - max);
      S[o + l] = e;
      z += e;
    }
    const inv = 1 / z;
    for (let l = 0; l < len; l++) S[o + l]! *= inv;
  }
}

/** Reference implementation in plain JavaScript (and the fallback). */
export function jsAttention(
  K: Float32Array,
  V: Float32Array,
  q: Float32Array,
  out: Float32Array,
  rows: number,
  hd: number,
  maxLength: number,
  length: number,
  scores: Float32Array,
): void {
  const scale = 1 / Math.sqrt(hd);
  for (let r = 0; r < rows; r++) {
    const qo = r * hd,
      base = r * maxLength * hd,
      so = r * length;
    for (let l = 0; l < length; l++) {
      let s = 0;
      for (let d = 0; d < hd; d++) s += q[qo + d]! * K[base + l * hd + d]!;
      scores[so + l] = s * scale;
    }
  }
  softmaxRows(scores, rows, length);
  for (let r = 0; r < rows; r++) {
    const qo = r * hd,
      base = r * maxLength * hd,
      so = r * length;
    for (let d = 0; d < hd; d++) out[qo + d] = 0;
    for (let l = 0; l < length; l++) {
      const w = scores[so + l]!;
      for (let d = 0; d < hd; d++) out[qo + d] += w * V[base + l * hd + d]!;
    }
  }
}
