/** The GPT's parameters: names and shapes in packing order, and GPT-2's initialisation. */
import type { Rng } from '../../util/rng.js';
import { packArrays, type PackedWeights } from '../../tensor/pack.js';
import { positionRows, type GptConfig } from './config.js';

/** Parameter names and shapes, in packing order. */
export function parameterShapes(c: GptConfig): { name: string; shape: number[] }[] {
  const D = c.dModel;
  const out: { name: string; shape: number[] }[] = [
    { name: 'wte', shape: [c.vocabSize, D] },
    { name: 'wpe', shape: [positionRows(c), D] },
  ];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `h.${i}`;
    out.push(
      { name: `${p}.ln1.g`, shape: [D] },
      { name: `${p}.ln1.b`, shape: [D] },
      { name: `${p}.attn.wq`, shape: [D, D] },
      { name: `${p}.attn.wk`, shape: [D, D] },
      { name: `${p}.attn.wv`, shape: [D, D] },
      { name: `${p}.attn.bq`, shape: [D] },
      { name: `${p}.attn.bk`, shape: [D] },
      { name: `${p}.attn.bv`, shape: [D] },
      { name: `${p}.attn.wo`, shape: [D, D] },
      { name: `${p}.attn.bo`, shape: [D] },
      { name: `${p}.ln2.g`, shape: [D] },
      { name: `${p}.ln2.b`, shape: [D] },
      { name: `${p}.mlp.w1`, shape: [D, 4 * D] },
      { name: `${p}.mlp.b1`, shape: [4 * D] },
      { name: `${p}.mlp.w2`, shape: [4 * D, D] },
      { name: `${p}.mlp.b2`, shape: [D] },
    );
  }
  out.push({ name: 'lnf.g', shape: [D] }, { name: 'lnf.b', shape: [D] }, { name: 'head', shape: [D, c.vocabSize] });
  return out;
}

/** GPT-2 initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2·nLayers). */
export function initialWeights(c: GptConfig, rng: Rng): PackedWeights {
  const residStd = 0.02 / Math.sqrt(2 * c.nLayers);
  return packArrays(
    parameterShapes(c).map(({ name, shape }) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const values = new Float32Array(n);
      const leaf = name.split('.').at(-1)!;
      if (leaf === 'g') values.fill(1);
      else if (leaf.startsWith('b') && shape.length === 1) values.fill(0);
      else {
        const std = leaf === 'wo' || leaf === 'w2' ? residStd : 0.02;
        for (let i = 0; i < n; i++) values[i] = rng.normal() * std;
      }
      return { name, shape, values };
    }),
  );
}
