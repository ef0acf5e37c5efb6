import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/tensor/backend.js';
import { Rng } from '../src/util/rng.js';
import { SIMD_PATH_CALLS, wasmLayerNormForward } from '../src/tensor/wasmKernels.js';
import { layerNormReference } from '../src/policy/transformer/ops.js';
import { kernelBytes } from '../src/tensor/simd.js';

beforeAll(async () => {
  const info = await initBackend('wasm');
  expect(info.detail).toMatch(/fast batched matmul/);
});

const rng = new Rng('wasm-kernels');
const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

describe('the SIMD kernels', () => {
  it('kernels.wat (the source) compiles with wabt to exactly the committed kernels.wasm.ts', async () => {
    // @ts-expect-error: a plain .mjs build script, no type declarations
    const { compileKernels } = await import('../scripts/build-kernels.mjs');
    const compiled = (await compileKernels()) as Uint8Array;
    expect(Buffer.from(compiled).equals(Buffer.from(kernelBytes()))).toBe(true);
    expect(WebAssembly.validate(kernelBytes())).toBe(true);
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(kernelBytes())).map((e) => e.name);
    expect(exports).toEqual(['scores', 'mix', 'colsum', 'layerNorm']);
  });
});

describe('wasm kernel replacements', () => {
  it('Sum over leading axes (SIMD column sum) and Identity (shared data) equal the reference', () => {
    for (const [n, m] of [
      [37, 8],
      [5, 12],
      [9, 6],
    ] as const) {
      const xv = rand(n * m);
      const calls = SIMD_PATH_CALLS.colsum;
      const got = tf.tidy(() => tf.sum(tf.tensor2d(xv, [n, m]), 0).dataSync());
      // the SIMD column sum ran for m % 4 = 0, and the stock kernel for the rest
      expect(SIMD_PATH_CALLS.colsum - calls).toBe(m % 4 === 0 ? 1 : 0);
      for (let j = 0; j < m; j++) {
        let t = 0;
        for (let i = 0; i < n; i++) t += xv[i * m + j]!;
        expect(got[j]).toBeCloseTo(t, 4);
      }
    }
    const x = tf.tensor2d(rand(12), [3, 4]);
    const c = tf.clone(x);
    const before = tf.memory().numTensors;
    x.dispose(); // the clone keeps the shared data alive
    expect(Array.from(c.dataSync())).toHaveLength(12);
    expect(tf.memory().numTensors).toBe(before - 1);
    c.dispose();
  });

  it("the decode step's SIMD LayerNorm equals the tensor-op LayerNorm, and leaks nothing", () => {
    const x = tf.tensor2d(
      rand(6 * 16).map((v) => v * 3 + 1),
      [6, 16],
    );
    const g = tf.tensor1d(rand(16)),
      b = tf.tensor1d(rand(16));
    const before = tf.memory().numTensors;
    const calls = SIMD_PATH_CALLS.layerNorm;
    const fast = wasmLayerNormForward(x, g, b)!;
    expect(SIMD_PATH_CALLS.layerNorm - calls).toBe(1); // the SIMD kernel ran, not a fallback
    const ref = tf.tidy(() => layerNormReference(x, g, b));
    const [fv, rv] = [fast.dataSync(), ref.dataSync()];
    for (let i = 0; i < fv.length; i++) expect(Math.abs(fv[i]! - rv[i]!)).toBeLessThan(1e-5);
    tf.dispose([fast, ref]);
    expect(tf.memory().numTensors).toBe(before);
    // D % 4 ≠ 0: not handled
    expect(wasmLayerNormForward(tf.tensor2d(rand(6), [2, 3]), tf.tensor1d(rand(3)), tf.tensor1d(rand(3)))).toBeNull();
    tf.dispose([x, g, b]);
  });

  it('batched matmul equals a reference product, with and without transpose flags', () => {
    for (const [B, m, k, n] of [
      [8, 32, 16, 24],
      [3, 16, 5, 1],
      [2, 1, 4, 3],
      [5, 40, 1, 7],
    ] as const) {
      const av = rand(B * m * k),
        bv = rand(B * k * n);
      const got = tf.tidy(() => tf.matMul(tf.tensor3d(av, [B, m, k]), tf.tensor3d(bv, [B, k, n])).dataSync());
      const gotT = tf.tidy(() =>
        tf
          .matMul(tf.transpose(tf.tensor3d(av, [B, m, k]), [0, 2, 1]), tf.tensor3d(bv, [B, k, n]), true, false)
          .dataSync(),
      );
      for (let p = 0; p < B; p++)
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let q = 0; q < k; q++) s += av[p * m * k + i * k + q]! * bv[p * k * n + q * n + j]!;
            expect(got[p * m * n + i * n + j]).toBeCloseTo(s, 4);
            expect(gotT[p * m * n + i * n + j]).toBeCloseTo(s, 4);
          }
    }
  });

  it('slices equal the reference for contiguous and strided cases', () => {
    const xv = rand(4 * 5 * 6);
    const x = tf.tensor3d(xv, [4, 5, 6]);
    for (const [begin, size] of [
      [
        [1, 0, 0],
        [2, 5, 6],
      ],
      [
        [0, 1, 0],
        [4, 3, 6],
      ],
      [
        [2, 2, 1],
        [1, 2, 4],
      ],
      [
        [3, 4, 0],
        [1, 1, 6],
      ],
    ] as const) {
      const got = tf.tidy(() => tf.slice(x, [...begin], [...size]).dataSync());
      let idx = 0;
      for (let i = 0; i < size[0]; i++)
        for (let j = 0; j < size[1]; j++)
          for (let l = 0; l < size[2]; l++) {
            expect(got[idx++]).toBe(xv[(begin[0] + i) * 30 + (begin[1] + j) * 6 + begin[2] + l]);
          }
    }
    x.dispose();
  });
});
