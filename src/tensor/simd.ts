/**
 * SIMD kernels for what tfjs-wasm lacks a fast form of, in one small WebAssembly module with
 * 128-bit SIMD, assembled below from its instructions (no toolchain needed; a few hundred bytes):
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

// ---- a tiny WebAssembly assembler: just what the kernels below need ----
const I32 = 0x7f,
  F32 = 0x7d,
  V128 = 0x7b,
  VOID = 0x40;
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
};
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];

const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const i32c = (n: number) => [0x41, ...sleb(n)];
const add = [0x6a],
  mul = [0x6c],
  geU = [0x4f];
const block = [0x02, VOID],
  loop = [0x03, VOID],
  end = [0x0b];
const br = (d: number) => [0x0c, d],
  brIf = (d: number) => [0x0d, d];
const f32Load = [0x2a, 0x02, 0x00],
  f32Store = [0x38, 0x02, 0x00],
  f32Add = [0x92],
  f32Mul = [0x94],
  f32Div = [0x95],
  f32Sqrt = [0x91];
const f32FromU32 = [0xb3];
const f32c = (x: number) => [0x43, ...new Uint8Array(new Float32Array([x]).buffer)];
const f32x4Sub = [0xfd, 0xe5, 0x01];
const v128Load = [0xfd, 0x00, 0x00, 0x00],
  v128Store = [0xfd, 0x0b, 0x00, 0x00];
const v128Zero = [0xfd, 0x0c, ...new Array(16).fill(0)];
const f32x4Add = [0xfd, 0xe4, 0x01],
  f32x4Mul = [0xfd, 0xe6, 0x01],
  f32x4Splat = [0xfd, 0x13];
const lane = (i: number) => [0xfd, 0x1f, i];
/** `for (x = 0; x < limit; x += step) body` with limit and step as instruction lists. */
const forLoop = (x: number, limit: number[], step: number[], body: number[]) => [
  ...i32c(0),
  ...set(x),
  ...block,
  ...loop,
  ...get(x),
  ...limit,
  ...geU,
  ...brIf(1),
  ...body,
  ...get(x),
  ...step,
  ...add,
  ...set(x),
  ...br(0),
  ...end,
  ...end,
];

/**
 * scores(K, Q, S, rows, hd, maxLen, len, scale): S[r·len + l] = scale · Q[r]·K[r, l]
 * params 0..7; locals r 8, l 9, d 10 (bytes), qo 11, kb 12, ko 13, so 14, acc 15 (v128)
 */
function scoresBody(): number[] {
  const [K, Q, S, rows, hd, maxLen, len, scale, r, l, d, qo, kb, ko, so, acc] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  ];
  const hdBytes = [...get(hd), ...i32c(4), ...mul];
  const dotRow = [
    ...get(kb),
    ...get(l),
    ...hdBytes,
    ...mul,
    ...add,
    ...set(ko),
    ...v128Zero,
    ...set(acc),
    ...forLoop(d, hdBytes, i32c(16), [
      ...get(acc),
      ...get(qo),
      ...get(d),
      ...add,
      ...v128Load,
      ...get(ko),
      ...get(d),
      ...add,
      ...v128Load,
      ...f32x4Mul,
      ...f32x4Add,
      ...set(acc),
    ]),
    ...get(so),
    ...get(l),
    ...i32c(4),
    ...mul,
    ...add,
    ...get(acc),
    ...lane(0),
    ...get(acc),
    ...lane(1),
    ...f32Add,
    ...get(acc),
    ...lane(2),
    ...f32Add,
    ...get(acc),
    ...lane(3),
    ...f32Add,
    ...get(scale),
    ...f32Mul,
    ...f32Store,
  ];
  const body = forLoop(r, get(rows), i32c(1), [
    ...get(Q),
    ...get(r),
    ...hdBytes,
    ...mul,
    ...add,
    ...set(qo),
    ...get(K),
    ...get(r),
    ...get(maxLen),
    ...mul,
    ...hdBytes,
    ...mul,
    ...add,
    ...set(kb),
    ...get(S),
    ...get(r),
    ...get(len),
    ...mul,
    ...i32c(4),
    ...mul,
    ...add,
    ...set(so),
    ...forLoop(l, get(len), i32c(1), dotRow),
  ]);
  return [
    ...vec([
      [7, I32],
      [1, V128],
    ]),
    ...body,
    ...end,
  ];
}

/**
 * mix(V, P, O, rows, hd, maxLen, len): O[r] = Σ_l P[r·len + l] · V[r, l]
 * params 0..6; locals r 7, l 8, d 9 (bytes), vb 10, po 11, oo 12, vo 13, acc 14 (v128)
 */
function mixBody(): number[] {
  const [V, P, O, rows, hd, maxLen, len, r, l, d, vb, po, oo, vo, acc] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
  ];
  const hdBytes = [...get(hd), ...i32c(4), ...mul];
  const column = [
    ...v128Zero,
    ...set(acc),
    ...get(vb),
    ...get(d),
    ...add,
    ...set(vo),
    ...forLoop(l, get(len), i32c(1), [
      ...get(acc),
      ...get(po),
      ...get(l),
      ...i32c(4),
      ...mul,
      ...add,
      ...f32Load,
      ...f32x4Splat,
      ...get(vo),
      ...v128Load,
      ...f32x4Mul,
      ...f32x4Add,
      ...set(acc),
      ...get(vo),
      ...hdBytes,
      ...add,
      ...set(vo),
    ]),
    ...get(oo),
    ...get(d),
    ...add,
    ...get(acc),
    ...v128Store,
  ];
  const body = forLoop(r, get(rows), i32c(1), [
    ...get(V),
    ...get(r),
    ...get(maxLen),
    ...mul,
    ...hdBytes,
    ...mul,
    ...add,
    ...set(vb),
    ...get(P),
    ...get(r),
    ...get(len),
    ...mul,
    ...i32c(4),
    ...mul,
    ...add,
    ...set(po),
    ...get(O),
    ...get(r),
    ...hdBytes,
    ...mul,
    ...add,
    ...set(oo),
    ...forLoop(d, hdBytes, i32c(16), column),
  ]);
  return [
    ...vec([
      [7, I32],
      [1, V128],
    ]),
    ...body,
    ...end,
  ];
}

/**
 * colsum(X, O, n, m): O[j] += Σ_i X[i, j] for X [n, m] (m % 4 = 0; O zeroed by the caller).
 * params 0..3; locals i 4, j 5 (bytes), xo 6
 */
function colsumBody(): number[] {
  const [X, O, n, m, i, j, xo] = [0, 1, 2, 3, 4, 5, 6];
  const mBytes = [...get(m), ...i32c(4), ...mul];
  const body = forLoop(i, get(n), i32c(1), [
    ...get(X),
    ...get(i),
    ...mBytes,
    ...mul,
    ...add,
    ...set(xo),
    ...forLoop(j, mBytes, i32c(16), [
      ...get(O),
      ...get(j),
      ...add,
      ...get(O),
      ...get(j),
      ...add,
      ...v128Load,
      ...get(xo),
      ...get(j),
      ...add,
      ...v128Load,
      ...f32x4Add,
      ...v128Store,
    ]),
  ]);
  return [...vec([[3, I32]]), ...body, ...end];
}

/**
 * layerNorm(X, G, B, O, rows, D, eps): O[r] = (X[r] − mean) / sqrt(var + eps) · G + B per row
 * (D % 4 = 0). params 0..6; locals r 7, j 8 (bytes), xo 9, oo 10, acc 11 (v128), mean 12, rs 13, mv 14, rv 15 (v128)
 */
function layerNormBody(): number[] {
  const [X, G, B, O, rows, D, eps, r, j, xo, oo, acc, mean, rs, mv, rv] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  ];
  const dBytes = [...get(D), ...i32c(4), ...mul];
  const hsum = [
    ...get(acc),
    ...lane(0),
    ...get(acc),
    ...lane(1),
    ...f32Add,
    ...get(acc),
    ...lane(2),
    ...f32Add,
    ...get(acc),
    ...lane(3),
    ...f32Add,
  ];
  const body = forLoop(r, get(rows), i32c(1), [
    ...get(X),
    ...get(r),
    ...dBytes,
    ...mul,
    ...add,
    ...set(xo),
    ...get(O),
    ...get(r),
    ...dBytes,
    ...mul,
    ...add,
    ...set(oo),
    ...v128Zero,
    ...set(acc),
    ...forLoop(j, dBytes, i32c(16), [
      ...get(acc),
      ...get(xo),
      ...get(j),
      ...add,
      ...v128Load,
      ...f32x4Add,
      ...set(acc),
    ]),
    ...hsum,
    ...get(D),
    ...f32FromU32,
    ...f32Div,
    ...set(mean),
    ...get(mean),
    ...f32x4Splat,
    ...set(mv),
    ...v128Zero,
    ...set(acc),
    ...forLoop(j, dBytes, i32c(16), [
      ...get(xo),
      ...get(j),
      ...add,
      ...v128Load,
      ...get(mv),
      ...f32x4Sub,
      ...set(rv),
      ...get(acc),
      ...get(rv),
      ...get(rv),
      ...f32x4Mul,
      ...f32x4Add,
      ...set(acc),
    ]),
    ...f32c(1),
    ...hsum,
    ...get(D),
    ...f32FromU32,
    ...f32Div,
    ...get(eps),
    ...f32Add,
    ...f32Sqrt,
    ...f32Div,
    ...set(rs),
    ...get(rs),
    ...f32x4Splat,
    ...set(rv),
    ...forLoop(j, dBytes, i32c(16), [
      ...get(oo),
      ...get(j),
      ...add,
      ...get(xo),
      ...get(j),
      ...add,
      ...v128Load,
      ...get(mv),
      ...f32x4Sub,
      ...get(rv),
      ...f32x4Mul,
      ...get(G),
      ...get(j),
      ...add,
      ...v128Load,
      ...f32x4Mul,
      ...get(B),
      ...get(j),
      ...add,
      ...v128Load,
      ...f32x4Add,
      ...v128Store,
    ]),
  ]);
  return [
    ...vec([
      [4, I32],
      [1, V128],
      [2, F32],
      [2, V128],
    ]),
    ...body,
    ...end,
  ];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const types = vec([
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32], [F32]]), 0x00],
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32]]), 0x00],
    [0x60, ...vec([[I32], [I32], [I32], [I32]]), 0x00],
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [F32]]), 0x00],
  ]);
  const imports = vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]]);
  const funcs = vec([[0], [1], [2], [3]]);
  const exports = vec([
    [...name('scores'), 0x00, 0x00],
    [...name('mix'), 0x00, 0x01],
    [...name('colsum'), 0x00, 0x02],
    [...name('layerNorm'), 0x00, 0x03],
  ]);
  const code = vec([scoresBody(), mixBody(), colsumBody(), layerNormBody()].map((b) => [...uleb(b.length), ...b]));
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, types),
    ...section(2, imports),
    ...section(3, funcs),
    ...section(7, exports),
    ...section(10, code),
  ]);
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled SIMD module, or null where this runtime does not validate it. */
export function simdModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = moduleBytes();
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
