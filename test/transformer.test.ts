import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/tensor/backend.js';
import { Gpt } from '../src/policy/transformer/model.js';
import { parameterShapes } from '../src/policy/transformer/params.js';
import { sample, sampleAsync } from '../src/policy/transformer/sample.js';
import { Adam } from '../src/policy/transformer/adam.js';
import { HostKvCache } from '../src/policy/transformer/kvcache.js';
import { scoreSequences, tokenLogprobsTensor } from '../src/policy/transformer/logprobs.js';
import { packArrays, unpackArrays, weightsSha256 } from '../src/tensor/pack.js';
import { loadCheckpoint, saveCheckpoint } from '../src/policy/checkpoint.js';
import { bmm, layerNorm, layerNormReference, linear } from '../src/policy/transformer/ops.js';
import { Rng } from '../src/util/rng.js';
import { TINY } from './helpers/tiny.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const prompts = [
  [1, 3, 4, 5],
  [1, 6, 7, 8],
  [1, 9, 9, 9],
];
const draw = (m: Gpt, seed: string) => {
  const rng = new Rng(seed);
  return sample(m, prompts, {
    budgetTokens: 16,
    temperature: 0.8,
    eosId: 2,
    padId: 0,
    rngs: prompts.map((_, i) => rng.fork(i)),
  });
};

describe('tiny GPT', () => {
  it('samples deterministically for a seed, and differently for another', () => {
    const m = Gpt.create(TINY, new Rng(1));
    expect(draw(m, 'a')).toEqual(draw(m, 'a'));
    expect(draw(m, 'a').map((r) => r.tokens)).not.toEqual(draw(m, 'b').map((r) => r.tokens));
    m.dispose();
  });

  it('the asynchronous drivers (the webgpu path) equal the synchronous ones: sampling and an Adam step', async () => {
    const m = Gpt.create(TINY, new Rng(1));
    const rng = new Rng('a');
    const opts = { budgetTokens: 16, temperature: 0.8, eosId: 2, padId: 0 };
    const viaAsync = await sampleAsync(m, prompts, { ...opts, rngs: prompts.map((_, i) => rng.fork(i)) });
    expect(viaAsync).toEqual(draw(m, 'a'));
    const twin = Gpt.create(TINY, new Rng(1));
    const [a, b] = [new Adam(m.variables), new Adam(twin.variables)];
    const loss = (g: Gpt) => () =>
      tf.mean(tf.square(g.forward(tf.tensor2d([[1, 3, 4, 5]], [1, 4], 'int32')))) as tf.Scalar;
    const s1 = a.minimize(loss(m), 1e-2);
    const s2 = await b.minimizeAsync(loss(twin), 1e-2);
    expect(s2).toEqual(s1);
    expect(weightsSha256(twin.pack().data)).toBe(weightsSha256(m.pack().data));
    a.dispose();
    b.dispose();
    twin.dispose();
    m.dispose();
  });

  it('stops at EOS or at the token budget', () => {
    const m = Gpt.create(TINY, new Rng(1));
    for (const r of draw(m, 'c')) {
      if (r.stop === 'eos') expect(r.tokens.at(-1)).toBe(2);
      else expect(r.tokens).toHaveLength(16);
      expect(r.tokens.slice(0, -1)).not.toContain(2);
      expect(r.logprobs).toHaveLength(r.tokens.length);
    }
    m.dispose();
  });

  it('KV-cache sampling log-probs and entropies agree with teacher forcing within 1e-4', () => {
    const m = Gpt.create(TINY, new Rng(7));
    const res = draw(m, 'tf');
    let maxDiff = 0;
    res.forEach((r, b) => {
      const seq = [...prompts[b]!, ...r.tokens];
      const s = scoreSequences(m, Int32Array.from(seq), 1, seq.length, 0, 0.8);
      r.tokens.forEach((_, t) => {
        maxDiff = Math.max(maxDiff, Math.abs(s.logprobs[prompts[b]!.length - 1 + t]! - r.logprobs[t]!));
        maxDiff = Math.max(maxDiff, Math.abs(s.entropies[prompts[b]!.length - 1 + t]! - r.entropies[t]!));
      });
    });
    expect(maxDiff).toBeLessThan(1e-4);
    m.dispose();
  });

  it('the host KV cache (SIMD attention) and the tensor KV cache sample alike', () => {
    const m = Gpt.create(TINY, new Rng(9));
    const run = (hostKvCache: boolean) => {
      const rng = new Rng('kv');
      return sample(m, prompts, {
        budgetTokens: 16,
        temperature: 0.8,
        eosId: 2,
        padId: 0,
        rngs: prompts.map((_, i) => rng.fork(i)),
        hostKvCache,
      });
    };
    const host = run(true),
      tensor = run(false);
    expect(host.map((r) => r.tokens)).toEqual(tensor.map((r) => r.tokens));
    const diff = host.flatMap((r, b) => r.logprobs.map((lp, t) => Math.abs(lp - tensor[b]!.logprobs[t]!)));
    expect(Math.max(...diff)).toBeLessThan(1e-5);
    // in-flight swaps: new weights between tokens reach both paths the same way
    const other = Gpt.create(TINY, new Rng(10)).pack();
    const swap = (hostKvCache: boolean) => {
      const mm = Gpt.create(TINY, new Rng(9));
      const rng = new Rng('kv');
      const r = sample(mm, prompts, {
        budgetTokens: 16,
        temperature: 0.8,
        eosId: -1,
        padId: 0,
        rngs: prompts.map((_, i) => rng.fork(i)),
        hostKvCache,
        beforeDecode: (pos) => {
          if (pos === 5) mm.load(other);
          return pos === 5;
        },
      });
      mm.dispose();
      return r;
    };
    const a = swap(true),
      b = swap(false);
    expect(a.map((r) => r.tokens)).toEqual(b.map((r) => r.tokens));
    expect(a.every((r) => r.tokens.length === 16)).toBe(true);
    const noSwap = (() => {
      const rng = new Rng('kv');
      return sample(m, prompts, {
        budgetTokens: 16,
        temperature: 0.8,
        eosId: -1,
        padId: 0,
        rngs: prompts.map((_, i) => rng.fork(i)),
      });
    })();
    // before the swap: the same
    expect(a.map((r) => r.tokens.slice(0, 5))).toEqual(noSwap.map((r) => r.tokens.slice(0, 5)));
    expect(a.map((r) => r.tokens)).not.toEqual(noSwap.map((r) => r.tokens)); // after it: the other weights
    m.dispose();
  });

  it('the SIMD attention kernels equal the JavaScript reference', () => {
    const rng = new Rng('simd');
    for (const [B, H, hd, L, len] of [
      [3, 2, 8, 10, 7],
      [2, 4, 4, 5, 1],
      [5, 1, 32, 33, 33],
    ] as const) {
      const simd = new HostKvCache(B, H, hd, L, 1);
      const js = new HostKvCache(B, H, hd, L, 1, { simd: false });
      expect([simd.kernel, js.kernel]).toEqual(['simd', 'js']);
      for (let pos = 0; pos < len; pos++) {
        const k = Float32Array.from({ length: B * H * hd }, () => rng.normal());
        const v = Float32Array.from({ length: B * H * hd }, () => rng.normal());
        const q = Float32Array.from({ length: B * H * hd }, () => rng.normal() * 3);
        for (const c of [simd, js]) {
          c.write(0, pos, 1, k, v);
          c.length = pos + 1;
        }
        const a = simd.attend(0, q),
          b = js.attend(0, q);
        for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-5);
      }
    }
  });

  it('custom-gradient matmuls equal the built-in gradients', () => {
    const rng = new Rng(3);
    const rnd = (shape: number[]) =>
      tf.tensor(
        Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal()),
        shape,
      );
    const x = rnd([5, 4]) as tf.Tensor2D,
      w = rnd([4, 3]) as tf.Tensor2D,
      up = rnd([5, 3]);
    const ours = tf.grads((a, b) => tf.sum(tf.mul(linear(a as tf.Tensor2D, b as tf.Tensor2D), up)))([x, w]);
    const ref = tf.grads((a, b) => tf.sum(tf.mul(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D), up)))([x, w]);
    ours.forEach((g, i) => expect(tf.max(tf.abs(tf.sub(g, ref[i]!))).dataSync()[0]).toBeLessThan(1e-5));
    const a = rnd([2, 5, 4]) as tf.Tensor3D,
      c = rnd([2, 4, 3]) as tf.Tensor3D,
      up3 = rnd([2, 5, 3]);
    const ours3 = tf.grads((p, q) => tf.sum(tf.mul(bmm(p as tf.Tensor3D, q as tf.Tensor3D), up3)))([a, c]);
    const ref3 = tf.grads((p, q) => tf.sum(tf.mul(tf.matMul(p as tf.Tensor3D, q as tf.Tensor3D), up3)))([a, c]);
    ours3.forEach((g, i) => expect(tf.max(tf.abs(tf.sub(g, ref3[i]!))).dataSync()[0]).toBeLessThan(1e-5));
  });

  it('LayerNorm with its hand-written gradient equals the autodiff one', () => {
    const rng = new Rng(8);
    const rnd = (shape: number[]) =>
      tf.tensor(
        Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal()),
        shape,
      );
    const x = rnd([6, 8]) as tf.Tensor2D,
      g = rnd([8]) as tf.Tensor1D,
      b = rnd([8]) as tf.Tensor1D,
      up = rnd([6, 8]);
    const y = layerNorm(x, g, b),
      yr = layerNormReference(x, g, b);
    expect(tf.max(tf.abs(tf.sub(y, yr))).dataSync()[0]).toBeLessThan(1e-5);
    const ours = tf.grads((p, q, r) =>
      tf.sum(tf.mul(layerNorm(p as tf.Tensor2D, q as tf.Tensor1D, r as tf.Tensor1D), up)),
    )([x, g, b]);
    const ref = tf.grads((p, q, r) =>
      tf.sum(tf.mul(layerNormReference(p as tf.Tensor2D, q as tf.Tensor1D, r as tf.Tensor1D), up)),
    )([x, g, b]);
    ours.forEach((gr, i) => expect(tf.max(tf.abs(tf.sub(gr, ref[i]!))).dataSync()[0]).toBeLessThan(1e-4));
  });

  it('passes a finite-difference gradient check on a tiny config', () => {
    const m = Gpt.create({ ...TINY, nLayers: 1 }, new Rng(9));
    const rng = new Rng(4);
    const B = 2,
      T = 6;
    const toks = tf.tensor2d(
      Int32Array.from({ length: B * T }, () => rng.int(TINY.vocabSize)),
      [B, T],
      'int32',
    );
    const tg = tf.tensor2d(
      Int32Array.from({ length: B * T }, () => rng.int(TINY.vocabSize)),
      [B, T],
      'int32',
    );
    const loss = () => tf.neg(tf.mean(tokenLogprobsTensor(m, toks, tg).logprobs)) as tf.Scalar;
    const { grads } = tf.variableGrads(loss, m.variables);
    const lossValue = () => tf.tidy(() => loss().dataSync()[0]!);
    let checked = 0;
    for (const name of ['wte', 'h.0.attn.wq', 'h.0.attn.wk', 'h.0.mlp.w1', 'h.0.ln1.g', 'head']) {
      const v = m.params.get(name)!;
      const g = grads[v.name]!.dataSync();
      const base = v.dataSync().slice();
      for (let trial = 0; trial < 3; trial++) {
        const i = rng.int(base.length);
        const eps = 1e-2;
        const bump = (d: number) => {
          const a = base.slice();
          a[i] = base[i]! + d;
          v.assign(tf.tensor(a, v.shape));
          return lossValue();
        };
        const numeric = (bump(eps) - bump(-eps)) / (2 * eps);
        v.assign(tf.tensor(base, v.shape));
        expect(Math.abs(numeric - g[i]!)).toBeLessThan(2e-3 + 0.05 * Math.abs(g[i]!));
        checked++;
      }
    }
    expect(checked).toBe(18);
    m.dispose();
  });

  it('packs and unpacks weights exactly', () => {
    const m = Gpt.create(TINY, new Rng(5));
    const packed = m.pack();
    expect(packed.manifest.map((e) => e.name)).toEqual(parameterShapes(TINY).map((p) => p.name));
    const m2 = Gpt.fromPacked(TINY, { manifest: packed.manifest, data: packed.data.slice() });
    expect(weightsSha256(m2.pack().data)).toBe(weightsSha256(packed.data));
    const arrays = unpackArrays(packed);
    const repacked = packArrays([...arrays].map(([name, a]) => ({ name, shape: a.shape, values: a.values })));
    expect(repacked.data).toEqual(packed.data);
    expect(() => Gpt.fromPacked({ ...TINY, dModel: 32 }, packed)).toThrow(/shape/);
    m.dispose();
    m2.dispose();
  });

  it('saves and loads checkpoints, and refuses one whose bytes were modified', () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-ck-')), 'ck');
    const m = Gpt.create(TINY, new Rng(6));
    const packed = m.pack();
    saveCheckpoint(
      dir,
      {
        kind: 'gpt',
        config: TINY,
        tokenizer: { name: 'test', vocabSize: 20 },
        seed: 6,
        command: 'test',
        versions: {},
        step: 0,
      },
      packed,
    );
    const ck = loadCheckpoint(dir);
    expect(ck.weights.data).toEqual(packed.data);
    const file = path.join(dir, 'weights.bin');
    const bytes = fs.readFileSync(file);
    bytes[100] = bytes[100]! ^ 0xff;
    fs.writeFileSync(file, bytes);
    expect(() => loadCheckpoint(dir)).toThrow(/sha256 .* the manifest expects/);
    fs.writeFileSync(path.join(dir, 'manifest.json'), '{"format": "e3sim-checkpoint"');
    expect(() => loadCheckpoint(dir)).toThrow(/manifest.json is not valid JSON/);
    expect(() => loadCheckpoint(path.join(dir, 'nope'))).toThrow(/not a directory/);
    m.dispose();
  });
});
