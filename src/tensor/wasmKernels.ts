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
 * Both fall back to the stock kernel for any case they do not handle, and `installWasmKernels`
 * checks them against the stock kernels on random inputs before leaving them installed.
 */
import * as tf from '@tensorflow/tfjs';

interface WasmData { id: number; memoryOffset: number; shape: number[]; dtype: string; refCount: number }
interface WasmBackend {
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

let installed = false;

/**
 * Below this many rows per item the per-call cost of XNNPACK (packing the right operand) exceeds
 * the naive loop's: the sampler's one-token attention products stay on the stock kernel.
 */
const MIN_ROWS = 16;

export interface WasmKernelReport {
  batchMatMul: 'fast' | 'stock';
  slice: 'fast' | 'stock';
  reason?: string;
}

export function installWasmKernels(): WasmKernelReport {
  if (installed) return { batchMatMul: 'fast', slice: 'fast' };
  const stockBmm = tf.getKernel('BatchMatMul', 'wasm');
  const stockSlice = tf.getKernel('Slice', 'wasm');
  if (!stockBmm || !stockSlice) return { batchMatMul: 'stock', slice: 'stock', reason: 'kernels not registered' };
  let bmmCall: ((...a: unknown[]) => void) | null = null;

  const fastBmm = (args: KernelArgs): tf.TensorInfo => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const be = args.backend;
    if (args.attrs.transposeA || args.attrs.transposeB || a.shape.length !== 3 || b.shape.length !== 3 ||
        a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape[0] !== b.shape[0] || a.shape[0] === 1 || a.shape[1]! < MIN_ROWS) {
      return stockBmm.kernelFunc(args as never) as tf.TensorInfo;
    }
    const [batch, m, k] = a.shape as [number, number, number];
    const n = b.shape[2]!;
    bmmCall ??= be.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
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

  const fastSlice = (args: KernelArgs): tf.TensorInfo => {
    const x = args.inputs.x!;
    const be = args.backend;
    const begin = args.attrs.begin as number[];
    const size = args.attrs.size as number[];
    if (x.dtype === 'string' || !Array.isArray(begin) || !Array.isArray(size) || begin.length !== x.shape.length ||
        size.some((s) => s < 0) || !tf.slice_util.isSliceContinous(x.shape, begin, size)) {
      return stockSlice.kernelFunc(args as never) as tf.TensorInfo;
    }
    const out = be.makeOutput(size, x.dtype);
    const strides = tf.util.computeStrides(x.shape);
    const offset = tf.slice_util.computeFlatOffset(begin, strides);
    const n = tf.util.sizeFromShape(size);
    be.typedArrayFromHeap(out).set(be.typedArrayFromHeap(x).subarray(offset, offset + n));
    return out;
  };

  const swap = (name: string, stock: tf.KernelConfig, fn: (a: KernelArgs) => tf.TensorInfo) => {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...stock, kernelFunc: fn as never });
  };
  const restore = (name: string, stock: tf.KernelConfig) => {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(stock);
  };

  swap('BatchMatMul', stockBmm, fastBmm);
  swap('Slice', stockSlice, fastSlice);
  installed = true;
  const problem = selfCheck();
  if (problem) {
    restore('BatchMatMul', stockBmm);
    restore('Slice', stockSlice);
    installed = false;
    return { batchMatMul: 'stock', slice: 'stock', reason: problem };
  }
  return { batchMatMul: 'fast', slice: 'fast' };
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
    const av = a.dataSync(), bv = b.dataSync();
    for (let p = 0; p < 3; p++) for (let i = 0; i < M; i++) for (let j = 0; j < 4; j++) {
      let s = 0;
      for (let q = 0; q < 7; q++) s += av[p * M * 7 + i * 7 + q]! * bv[p * 28 + q * 4 + j]!;
      ref[p * M * 4 + i * 4 + j] = s;
    }
    for (let i = 0; i < ref.length; i++) if (Math.abs(ref[i]! - fast[i]!) > 1e-4) return `BatchMatMul self-check failed at ${i}`;
    const x = tf.tensor3d(vals(4 * 3 * 2, 3), [4, 3, 2]);
    const s = tf.slice(x, [1, 0, 0], [2, 3, 2]).dataSync();
    const xv = x.dataSync();
    for (let i = 0; i < s.length; i++) if (s[i] !== xv[6 + i]) return `Slice self-check failed at ${i}`;
    return null;
  } finally {
    tf.engine().endScope();
  }
}
