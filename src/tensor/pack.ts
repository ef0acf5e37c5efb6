/**
 * Weights travel as one packed Float32Array plus a manifest of names and shapes, so that a
 * whole policy crosses a thread (or a socket) as a single transferred ArrayBuffer.
 */
import { createHash } from 'node:crypto';
import { InputError } from '../util/errors.js';

export interface TensorEntry {
  name: string;
  shape: number[];
  /** Offset in float32 elements. */
  offset: number;
}

export interface PackedWeights {
  manifest: TensorEntry[];
  data: Float32Array;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Packs named arrays in the given order. Copies: the result never aliases the inputs. */
export function packArrays(items: { name: string; shape: number[]; values: ArrayLike<number> }[]): PackedWeights {
  const total = items.reduce((n, it) => n + sizeOf(it.shape), 0);
  const data = new Float32Array(total);
  const manifest: TensorEntry[] = [];
  let offset = 0;
  for (const it of items) {
    const n = sizeOf(it.shape);
    if (it.values.length !== n)
      throw new Error(`packArrays: '${it.name}' has ${it.values.length} values, shape [${it.shape}] needs ${n}`);
    data.set(it.values, offset);
    manifest.push({ name: it.name, shape: [...it.shape], offset });
    offset += n;
  }
  return { manifest, data };
}

/** Views (no copy) into the packed buffer, by name. */
export function unpackArrays(
  packed: PackedWeights,
  source = 'weights',
): Map<string, { shape: number[]; values: Float32Array }> {
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const e of packed.manifest) {
    const n = sizeOf(e.shape);
    if (!Number.isInteger(e.offset) || e.offset < 0 || e.offset + n > packed.data.length) {
      throw new InputError(
        `${source}: tensor '${e.name}' [${e.shape}] at offset ${e.offset} lies outside the ${packed.data.length}-float buffer`,
      );
    }
    if (out.has(e.name)) throw new InputError(`${source}: tensor '${e.name}' appears twice in the manifest`);
    out.set(e.name, { shape: e.shape, values: packed.data.subarray(e.offset, e.offset + n) });
  }
  return out;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function weightsSha256(data: Float32Array): string {
  return sha256(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}
