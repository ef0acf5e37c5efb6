/**
 * Tensor backend selection. `auto` tries, in order, tensorflow (tfjs-node-gpu / tfjs-node),
 * webgpu (Dawn via the `webgpu` package), wasm, cpu, and reports which one started.
 * A backend asked for by name that cannot start is an InputError naming what is missing:
 * never a silent fallback.
 */
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../util/errors.js';
import { installWasmKernels } from './wasmKernels.js';
import { BUNDLE_DIR } from '../runtime/bundle.js';

export { BACKENDS, parseBackend, type BackendName, type ConcreteBackend } from './backendNames.js';
import type { BackendName, ConcreteBackend } from './backendNames.js';

export interface BackendInfo {
  name: ConcreteBackend;
  /** What was loaded, e.g. "tfjs-backend-wasm 4.22.0 (simd, 1 thread)". */
  detail: string;
  /** For `auto`: why each earlier candidate did not start. */
  skipped: { name: ConcreteBackend; reason: string }[];
}

const require_ = createRequire(import.meta.url);

async function startTensorflow(): Promise<string> {
  const errors: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require_(pkg);
      if (!(await tf.setBackend('tensorflow'))) throw new Error('setBackend returned false');
      return pkg;
    } catch (e) {
      errors.push(`${pkg}: ${firstLine(e)}`);
    }
  }
  throw new Error(
    `neither tfjs-node-gpu nor tfjs-node could load (${errors.join('; ')}); they are optional dependencies that download libtensorflow at install time`,
  );
}

let gpuObject: unknown = null;

/** Dawn needs a Vulkan loader; without one it only prints warnings and finds no adapter. */
function vulkanLoaderPresent(): boolean {
  const dirs = [
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/usr/local/lib',
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
  ];
  return dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')));
}

async function startWebgpu(): Promise<string> {
  if (!vulkanLoaderPresent()) throw new Error('no Vulkan loader (libvulkan.so.1) on this machine; Dawn needs one');
  let webgpu: { create: (flags: string[]) => unknown; globals: Record<string, unknown> };
  try {
    webgpu = (await import('webgpu')) as unknown as typeof webgpu;
  } catch (e) {
    throw new Error(`the optional package 'webgpu' (Dawn) is not installed or does not load: ${firstLine(e)}`);
  }
  const g = globalThis as Record<string, unknown>;
  Object.assign(g, webgpu.globals);
  if (!g.navigator || !(g.navigator as { gpu?: unknown }).gpu) {
    gpuObject = webgpu.create([]);
    Object.defineProperty(g, 'navigator', { value: { gpu: gpuObject }, configurable: true, writable: true });
  }
  const adapter = await (gpuObject as { requestAdapter: () => Promise<unknown> }).requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter: Dawn found no usable Vulkan GPU (software Vulkan is refused)');
  try {
    await import('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    throw new Error(`the optional package '@tensorflow/tfjs-backend-webgpu' is not installed: ${firstLine(e)}`);
  }
  if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed');
  return 'tfjs-backend-webgpu over Dawn (webgpu npm)';
}

async function startWasm(): Promise<string> {
  // Imported here, not at the top: loading the package registers the backend, which should only
  // happen when it is asked for. (A literal import so that the single-file build includes it.)
  const mod = (await import('@tensorflow/tfjs-backend-wasm')) as unknown as {
    setWasmPaths?: (p: string) => void;
    default?: { setWasmPaths: (p: string) => void };
  };
  const setWasmPaths = mod.setWasmPaths ?? mod.default!.setWasmPaths;
  const dir =
    BUNDLE_DIR ?? path.dirname(require_.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
  setWasmPaths(dir + path.sep);
  const before = {
    uncaught: process.listeners('uncaughtException'),
    rejected: process.listeners('unhandledRejection'),
  };
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
  await tf.ready();
  // The Emscripten module adds process handlers that rethrow every uncaught error (exit 7, its
  // minified source on stderr); the process's own handlers (cli/main.ts) are the ones that should run.
  for (const l of process.listeners('uncaughtException'))
    if (!before.uncaught.includes(l)) process.off('uncaughtException', l);
  for (const l of process.listeners('unhandledRejection'))
    if (!before.rejected.includes(l)) process.off('unhandledRejection', l);
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const k =
    process.env.E3SIM_WASM_STOCK_KERNELS === '1'
      ? { batchMatMul: 'stock', reason: 'E3SIM_WASM_STOCK_KERNELS=1' }
      : installWasmKernels();
  return `tfjs-backend-wasm ${tf.version_core} (${simd ? 'simd' : 'no simd'}, 1 thread, ${k.batchMatMul} batched matmul${k.reason ? `: ${k.reason}` : ''})`;
}

async function startCpu(): Promise<string> {
  if (!(await tf.setBackend('cpu'))) throw new Error('tf.setBackend("cpu") failed');
  return `tfjs-backend-cpu ${tf.version_core} (plain JavaScript)`;
}

const STARTERS: Record<ConcreteBackend, () => Promise<string>> = {
  tensorflow: startTensorflow,
  webgpu: startWebgpu,
  wasm: startWasm,
  cpu: startCpu,
};

let current: BackendInfo | null = null;

/** Starts the requested backend once per thread; later calls must ask for the same one. */
export async function initBackend(requested: BackendName = 'auto'): Promise<BackendInfo> {
  if (current) {
    if (requested === 'auto' || requested === current.name) return current;
    throw new InputError(`--backend: this process already runs on '${current.name}', cannot switch to '${requested}'`);
  }
  tf.env().set('PROD', true);
  const order: ConcreteBackend[] = requested === 'auto' ? ['tensorflow', 'webgpu', 'wasm', 'cpu'] : [requested];
  const skipped: BackendInfo['skipped'] = [];
  for (const name of order) {
    try {
      const detail = await STARTERS[name]();
      await tf.ready();
      current = { name, detail, skipped };
      return current;
    } catch (e) {
      if (requested !== 'auto') throw new InputError(`--backend ${name}: cannot start: ${firstLine(e)}`);
      skipped.push({ name, reason: firstLine(e) });
    }
  }
  throw new Error(`no tensor backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!;
}
