/**
 * Rotary position embeddings (Su et al., RoFormer; the `rotate_half` form of Llama and Qwen3):
 * in each head, dimension i and i + hd/2 form a pair rotated by the angle pos · base^(−2i/hd), so
 * the score q·k of two positions depends on their distance only.
 *
 * On tensors the rotation is x ⊙ C + (x · R) ⊙ S, with C and S the cosines and sines of each
 * position ([L, D], tiled over the heads) and R the block-diagonal [D, D] matrix of rotate_half —
 * products and elementwise ops only, whose gradients are cheap on wasm (slices and concats are not:
 * model.ts). The decode step rotates the one new row on the host.
 */
import { ROPE_BASE } from './config.js';

export interface RopeTables {
  /** cos and sin of each position and model dimension, [L, D] row-major. */
  cos: Float32Array;
  sin: Float32Array;
  /** rotate_half as a [D, D] matrix: (x · R) = [−x₂, x₁] in every head. */
  rotate: Float32Array;
}

/**
 * `ropeDims` (even, ≤ headDim; default headDim) of each head rotate: pairs i < ropeDims/2 at the
 * frequencies base^(−2i/ropeDims), the other pairs not at all (cos 1, sin 0: partial rotary, as
 * GPT-NeoX), so those dimensions match by content at any distance.
 */
export function ropeTables(contextLength: number, nHeads: number, headDim: number, ropeDims = headDim): RopeTables {
  const D = nHeads * headDim,
    half = headDim / 2,
    rotating = ropeDims / 2;
  const cos = new Float32Array(contextLength * D);
  const sin = new Float32Array(contextLength * D);
  for (let pos = 0; pos < contextLength; pos++) {
    for (let i = 0; i < half; i++) {
      const angle = i < rotating ? pos * ROPE_BASE ** (-(2 * i) / ropeDims) : 0;
      const c = Math.cos(angle),
        s = Math.sin(angle);
      for (let h = 0; h < nHeads; h++) {
        const at = pos * D + h * headDim + i;
        cos[at] = cos[at + half] = c;
        sin[at] = sin[at + half] = s;
      }
    }
  }
  const rotate = new Float32Array(D * D);
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      const a = h * headDim + i,
        b = a + half;
      rotate[b * D + a] = -1; // out[a] = −x[b]
      rotate[a * D + b] = 1; // out[b] = x[a]
    }
  }
  return { cos, sin, rotate };
}

/**
 * Rotates `rows` rows of width D in place, row r at position `pos`, each starting at
 * `offset + r · stride` (e.g. the q or k part of the fused [B, 3D] projection).
 */
export function ropeRows(
  t: RopeTables,
  x: Float32Array,
  o: { rows: number; pos: number; offset: number; stride: number; nHeads: number; headDim: number },
): void {
  const D = o.nHeads * o.headDim,
    half = o.headDim / 2;
  const base = o.pos * D;
  for (let r = 0; r < o.rows; r++) {
    for (let h = 0; h < o.nHeads; h++) {
      const at = o.offset + r * o.stride + h * o.headDim;
      for (let i = 0; i < half; i++) {
        const c = t.cos[base + h * o.headDim + i]!,
          s = t.sin[base + h * o.headDim + i]!;
        const x1 = x[at + i]!,
          x2 = x[at + i + half]!;
        x[at + i] = x1 * c - x2 * s;
        x[at + i + half] = x2 * c + x1 * s;
      }
    }
  }
}
