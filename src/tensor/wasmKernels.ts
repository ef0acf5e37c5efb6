/**
 * Two measured workarounds for tfjs-backend-wasm 4.22 kernels (DESIGN.md "Tensors"):
 *
 * - BatchMatMul with a batch dimension > 1 runs a naive loop at ~1.7 GFLOP/s, while the same
 *   product with batch 1 goes through XNNPACK at ~10–23 GFLOP/s. The replacement calls the
 *   backend's own BatchMatMul once per batch item on zero-copy views of the operands (tensor ids
 *   registered at offsets inside the existing buffers), so attention's [B·H, T, hd] products
 *   take the fast path.
 * - Slice copies its whole input (readSync) before copying the slice out; the replacement reads
 *   a view instead, for contiguous slices.
 *
 * - Sum over the leading axes (every bias and LayerNorm gradient: [B·T, D] -> [D]) transposes
 *   the input and loops, 33 ms for [8192, 512]; the replacement is a SIMD column sum on the
 *   backend's heap (simd.ts), 0.4 ms.
 * - Identity (which the autodiff tape runs on every tensor it saves for the backward pass) copies
 *   its input; the replacement shares the data like Reshape does (tensors are immutable and an
 *   assigned variable gets new data, so sharing is safe — the cpu backend does the same).
 *
 * All fall back to the stock kernel for any case they do not handle, and `installWasmKernels`
 * checks them against the stock kernels on random inputs before leaving them installed.
 */
import * as tf from '@tensorflow/tfjs';
import { instantiateSimd, type SimdKernels } from './simd.js';

interface WasmData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: string;
  refCount: number;
}
interface WasmBackend {
  incRef(dataId: unknown): void;
  disposeData(dataId: unknown): boolean;
  dataIdMap: { get(dataId: unknown): WasmData };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  wasm: {
    tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
    cwrap(name: string, ret: null, args: string[]): (...a: unknown[]) => void;
  };
}
type KernelArgs = { inputs: Record<string, tf.TensorInfo>; attrs: Record<string, unknown>; backend: WasmBackend };
type KernelFunc = (args: KernelArgs) => tf.TensorInfo;

let installed = false;

let heap: SimdKernels | null | undefined;
let heapMemory: WebAssembly.Memory | null = null;

/**
 * Asserts that [offset, offset + bytes) lies inside tfjs-wasm's heap before a kernel touches it:
 * a wrong offset would otherwise corrupt other tensors silently.
 */
function assertInHeap(offset: number, bytes: number, what: string): void {
  const size = heapMemory!.buffer.byteLength;
  if (!Number.isInteger(offset) || offset < 0 || offset % 4 !== 0 || offset + bytes > size)
    throw new Error(`SIMD kernel: ${what} at byte ${offset} (+${bytes}) is outside the ${size}-byte wasm heap`);
}

/**
 * The SIMD kernels (simd.ts) instantiated on tfjs-wasm's own WebAssembly.Memory (the emscripten
 * module's `asm.memory`), so they address tensors by their heap offsets; null where that memory
 * is not reachable or SIMD does not validate. One instance per thread.
 */
function heapKernels(): SimdKernels | null {
  if (heap === undefined) {
    const be = tf.backend() as unknown as { wasm?: { asm?: { memory?: unknown } } };
    const mem = be.wasm?.asm?.memory;
    heapMemory = mem instanceof WebAssembly.Memory ? mem : null;
    heap = heapMemory ? instantiateSimd(heapMemory) : null;
  }
  return heap;
}

/**
 * Below this many rows per item the per-call cost of XNNPACK (packing the right operand) exceeds
 * the naive loop's: the sampler's one-token attention products stay on the stock kernel.
 */
const MIN_ROWS = 16;

/** How often each SIMD path ran (tests check the path was taken, not only the numbers). */
export const SIMD_PATH_CALLS = { colsum: 0, layerNorm: 0 };

export interface WasmKernelReport {
  batchMatMul: 'fast' | 'stock';
  slice: 'fast' | 'stock';
  sum?: 'fast' | 'stock';
  identity?: 'fast' | 'stock';
  reason?: string;
}

/** BatchMatMul of [B, m, k] · [B, k, n] (B > 1, m ≥ MIN_ROWS) as B stock matmuls over views of the heap. */
function fastBatchMatMul(stockBmm: tf.KernelConfig): KernelFunc {
  let bmmCall: ((...a: unknown[]) => void) | null = null;
  return (args: KernelArgs): tf.TensorInfo => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const be = args.backend;
    if (
      args.attrs.transposeA ||
      args.attrs.transposeB ||
      a.shape.length !== 3 ||
      b.shape.length !== 3 ||
      a.dtype !== 'float32' ||
      b.dtype !== 'float32' ||
      a.shape[0] !== b.shape[0] ||
      a.shape[0] === 1 ||
      a.shape[1]! < MIN_ROWS
    ) {
      return stockBmm.kernelFunc(args as never) as tf.TensorInfo;
    }
    const [batch, m, k] = a.shape as [number, number, number];
    const n = b.shape[2]!;
    bmmCall ??= be.wasm.cwrap('BatchMatMul', null, [
      'number',
      'array',
      'number',
      'number',
      'array',
      'number',
      'number',
      'number',
      'number',
    ]);
    const out = be.makeOutput([batch, m, n], 'float32');
    // Offsets are read after makeOutput (which may grow the heap).
    const aOff = be.dataIdMap.get(a.dataId).memoryOffset;
    const bOff = be.dataIdMap.get(b.dataId).memoryOffset;
    const oOff = be.dataIdMap.get(out.dataId).memoryOffset;
    const aShape = new Uint8Array(new Int32Array([1, m, k]).buffer);
    const bShape = new Uint8Array(new Int32Array([1, k, n]).buffer);
    for (let i = 0; i < batch; i++) {
      const ia = be.dataIdNextNumber++;
      const ib = be.dataIdNextNumber++;
      const io = be.dataIdNextNumber++;
      be.wasm.tfjs.registerTensor(ia, m * k, aOff + i * m * k * 4);
      be.wasm.tfjs.registerTensor(ib, k * n, bOff + i * k * n * 4);
      be.wasm.tfjs.registerTensor(io, m * n, oOff + i * m * n * 4);
      bmmCall(ia, aShape, 3, ib, bShape, 3, false, false, io);
      // Views only: unregister the ids, never free their memory.
      be.wasm.tfjs.disposeData(ia);
      be.wasm.tfjs.disposeData(ib);
      be.wasm.tfjs.disposeData(io);
    }
    return out;
  };
}

/** Slice of a contiguous region: one copy on the heap. */
function fastSlice(stockSlice: tf.KernelConfig): KernelFunc {
  return (args: KernelArgs): tf.TensorInfo => {
    const x = args.inputs.x!;
    const be = args.backend;
    const begin = args.attrs.begin as number[];
    const size = args.attrs.size as number[];
    if (
      x.dtype === 'string' ||
      !Array.isArray(begin) ||
      !Array.isArray(size) ||
      begin.length !== x.shape.length ||
      size.some((s) => s < 0) ||
      !tf.slice_util.isSliceContinous(x.shape, begin, size)
    ) {
      return stockSlice.kernelFunc(args as never) as tf.TensorInfo;
    }
    const out = be.makeOutput(size, x.dtype);
    const strides = tf.util.computeStrides(x.shape);
    const offset = tf.slice_util.computeFlatOffset(begin, strides);
    const n = tf.util.sizeFromShape(size);
    be.typedArrayFromHeap(out).set(be.typedArrayFromHeap(x).subarray(offset, offset + n));
    return out;
  };
}

/**
 * Sum over axes 0..k-1 only (k < rank, m % 4 = 0): a SIMD column sum over the backend's own
 * heap (heapKernels). An XNNPACK product
 * ones[1, n] · x[n, m] was tried first: it packs x as weights on every call (7 ms for
 * [8192, 128]), and reusing the stock kernel's per-tensor operator cache crashed once a reshape
 * of the same data came through with other dimensions.
 */
function fastSum(stockSum: tf.KernelConfig, simd: ReturnType<typeof heapKernels>): KernelFunc {
  return (args: KernelArgs): tf.TensorInfo => {
    const x = args.inputs.x!;
    const be = args.backend;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(args.attrs.axis as number | number[], x.shape).sort((a, b) => a - b);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    const n = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
    const m = x.shape.slice(axes.length).reduce((a, b) => a * b, 1);
    if (!simd || x.dtype !== 'float32' || !leading || m % 4 !== 0)
      return stockSum.kernelFunc(args as never) as tf.TensorInfo;
    const outShape = args.attrs.keepDims
      ? x.shape.map((d, i) => (i < axes.length ? 1 : d))
      : x.shape.slice(axes.length);
    const out = be.makeOutput(outShape, 'float32');
    be.typedArrayFromHeap(out).fill(0);
    const xOff = be.dataIdMap.get(x.dataId).memoryOffset;
    const oOff = be.dataIdMap.get(out.dataId).memoryOffset;
    assertInHeap(xOff, n * m * 4, 'Sum input');
    assertInHeap(oOff, m * 4, 'Sum output');
    simd.colsum(xOff, oOff, n, m);
    SIMD_PATH_CALLS.colsum++;
    return out;
  };
}

/** Identity without a copy: the output shares the input's data (one more reference). */
function fastIdentity(stockIdentity: tf.KernelConfig): KernelFunc {
  return (args: KernelArgs): tf.TensorInfo => {
    const x = args.inputs.x!;
    if (x.dtype === 'string') return stockIdentity.kernelFunc(args as never) as tf.TensorInfo;
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

export function installWasmKernels(): WasmKernelReport {
  if (installed) return { batchMatMul: 'fast', slice: 'fast', sum: 'fast', identity: 'fast' };
  const stock = {
    BatchMatMul: tf.getKernel('BatchMatMul', 'wasm'),
    Slice: tf.getKernel('Slice', 'wasm'),
    Sum: tf.getKernel('Sum', 'wasm'),
    Identity: tf.getKernel('Identity', 'wasm'),
  };
  if (!stock.BatchMatMul || !stock.Slice || !stock.Sum || !stock.Identity)
    return { batchMatMul: 'stock', slice: 'stock', reason: 'kernels not registered' };
  const fast: [tf.KernelConfig, KernelFunc][] = [
    [stock.BatchMatMul, fastBatchMatMul(stock.BatchMatMul)],
    [stock.Slice, fastSlice(stock.Slice)],
    [stock.Sum, fastSum(stock.Sum, heapKernels())],
    [stock.Identity, fastIdentity(stock.Identity)],
  ];
  for (const [k, fn] of fast) {
    tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel({ ...k, kernelFunc: fn as never });
  }
  installed = true;
  const problem = selfCheck();
  if (problem) {
    for (const [k] of fast) {
      tf.unregisterKernel(k.kernelName, 'wasm');
      tf.registerKernel(k);
    }
    installed = false;
    return { batchMatMul: 'stock', slice: 'stock', sum: 'stock', identity: 'stock', reason: problem };
  }
  return { batchMatMul: 'fast', slice: 'fast', sum: 'fast', identity: 'fast' };
}

/** Compares the replacements with the stock kernels; returns a description of the first mismatch. */
function selfCheck(): string | null {
  tf.engine().startScope();
  try {
    const vals = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + s) * 2);
    const M = MIN_ROWS + 1;
    const a = tf.tensor3d(vals(3 * M * 7, 1), [3, M, 7]);
    const b = tf.tensor3d(vals(3 * 7 * 4, 2), [3, 7, 4]);
    const fast = tf.matMul(a, b).dataSync();
    const ref = new Float32Array(3 * M * 4);
    const av = a.dataSync(),
      bv = b.dataSync();
    for (let p = 0; p < 3; p++)
      for (let i = 0; i < M; i++)
        for (let j = 0; j < 4; j++) {
          let s = 0;
          for (let q = 0; q < 7; q++) s += av[p * M * 7 + i * 7 + q]! * bv[p * 28 + q * 4 + j]!;
          ref[p * M * 4 + i * 4 + j] = s;
        }
    for (let i = 0; i < ref.length; i++)
      if (Math.abs(ref[i]! - fast[i]!) > 1e-4) return `BatchMatMul self-check failed at ${i}`;
    const x = tf.tensor3d(vals(4 * 3 * 2, 3), [4, 3, 2]);
    const s = tf.slice(x, [1, 0, 0], [2, 3, 2]).dataSync();
    const xv = x.dataSync();
    for (let i = 0; i < s.length; i++) if (s[i] !== xv[6 + i]) return `Slice self-check failed at ${i}`;
    // Sum over the leading axes (the SIMD path needs m % 4 = 0), with and without keepDims, against a host loop
    const y = tf.tensor3d(vals(5 * 3 * 8, 4), [5, 3, 8]);
    const yv = y.dataSync();
    for (const keepDims of [false, true]) {
      const r = tf.sum(y, [0, 1], keepDims);
      if (r.shape.join() !== (keepDims ? '1,1,8' : '8')) return `Sum self-check: shape [${r.shape}]`;
      const rv = r.dataSync();
      for (let j = 0; j < 8; j++) {
        let t = 0;
        for (let i = 0; i < 15; i++) t += yv[i * 8 + j]!;
        if (Math.abs(t - rv[j]!) > 1e-4) return `Sum self-check failed at ${j}`;
      }
    }
    const c = tf.clone(x);
    x.dispose();
    const cv = c.dataSync();
    for (let i = 0; i < cv.length; i++) if (cv[i] !== xv[i]) return `Identity self-check failed at ${i}`;
    return null;
  } finally {
    tf.engine().endScope();
  }
}

/**
 * LayerNorm forward (no gradient) in one SIMD pass per row on the wasm heap — the sampler's
 * decode step runs five of them per token, and the op-by-op form is nine kernels each. Returns
 * null where it does not apply (another backend, D % 4 ≠ 0, non-float input): the caller falls
 * back to the tensor ops.
 */
export function wasmLayerNormForward(x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D, eps = 1e-5): tf.Tensor2D | null {
  if (tf.getBackend() !== 'wasm' || x.dtype !== 'float32' || x.shape[1] % 4 !== 0) return null;
  const k = heapKernels();
  if (!k) return null;
  const be = tf.backend() as unknown as WasmBackend;
  const [rows, D] = x.shape;
  if (g.shape[0] !== D || b.shape[0] !== D || g.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const out = be.makeOutput([rows, D], 'float32');
  const off = (t: tf.Tensor) => be.dataIdMap.get(t.dataId).memoryOffset;
  const [xo, go, bo, oo] = [off(x), off(g), off(b), be.dataIdMap.get(out.dataId).memoryOffset];
  assertInHeap(xo, rows * D * 4, 'LayerNorm input');
  assertInHeap(go, D * 4, 'LayerNorm gain');
  assertInHeap(bo, D * 4, 'LayerNorm bias');
  assertInHeap(oo, rows * D * 4, 'LayerNorm output');
  k.layerNorm(xo, go, bo, oo, rows, D, eps);
  SIMD_PATH_CALLS.layerNorm++;
  return tf.engine().makeTensorFromTensorInfo(out) as tf.Tensor2D;
}
