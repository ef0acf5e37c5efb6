/**
 * Rotary positions (config `positions: rope`, issue #28): the rotation is relative, the three
 * paths (teacher forcing, the host KV cache, the tensor KV cache) agree past the learned table's
 * end, gradients are right, and the config refuses what rope cannot do.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/tensor/backend.js';
import { Gpt } from '../src/policy/transformer/model.js';
import { parameterShapes } from '../src/policy/transformer/params.js';
import { sample } from '../src/policy/transformer/sample.js';
import { scoreSequences, tokenLogprobsTensor } from '../src/policy/transformer/logprobs.js';
import { GptConfigSchema, ROPE_ABSOLUTE, type GptConfig } from '../src/policy/transformer/config.js';
import { ropeRows, ropeTables } from '../src/policy/transformer/rope.js';
import { Rng } from '../src/util/rng.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const ROPE: GptConfig = { vocabSize: 20, dModel: 16, nHeads: 2, nLayers: 2, contextLength: 48, positions: 'rope' };

describe('rotary positions', () => {
  it('a rotated query and key score by their distance only', () => {
    const H = 2,
      hd = 8,
      D = H * hd;
    const t = ropeTables(64, H, hd);
    const rng = new Rng(3);
    const q = Float32Array.from({ length: D }, () => rng.normal());
    const k = Float32Array.from({ length: D }, () => rng.normal());
    const score = (pq: number, pk: number, head: number) => {
      const a = q.slice(),
        b = k.slice();
      ropeRows(t, a, { rows: 1, pos: pq, offset: 0, stride: D, nHeads: H, headDim: hd });
      ropeRows(t, b, { rows: 1, pos: pk, offset: 0, stride: D, nHeads: H, headDim: hd });
      let s = 0;
      for (let i = head * hd; i < (head + 1) * hd; i++) s += a[i]! * b[i]!;
      return s;
    };
    for (const head of [0, 1]) {
      expect(score(9, 4, head)).toBeCloseTo(score(45, 40, head), 4);
      expect(score(20, 20, head)).toBeCloseTo(score(0, 0, head), 4);
      expect(Math.abs(score(9, 4, head) - score(9, 2, head))).toBeGreaterThan(1e-3); // distance matters
    }
    // position 0 is the identity
    const a = q.slice();
    ropeRows(t, a, { rows: 1, pos: 0, offset: 0, stride: D, nHeads: H, headDim: hd });
    expect([...a]).toEqual([...q]);
  });

  it('keeps a learned table of ROPE_ABSOLUTE rows', () => {
    const wpe = parameterShapes(ROPE).find((s) => s.name === 'wpe')!;
    expect(wpe.shape).toEqual([ROPE_ABSOLUTE, ROPE.dModel]);
    expect(parameterShapes({ ...ROPE, positions: 'learned' }).find((s) => s.name === 'wpe')!.shape[0]).toBe(48);
  });

  for (const [label, cfg] of [
    ['full', ROPE],
    ['partial (ropeDims 4)', { ...ROPE, ropeDims: 4 }],
  ] as const)
    it(`${label}: teacher forcing, the host KV cache and the tensor KV cache agree past the table (to position 47)`, () => {
      const m = Gpt.create(cfg, new Rng(5));
      const prompts = [
        [1, 3, 4, 5],
        [1, 6, 7, 8],
      ];
      const run = (hostKvCache: boolean) => {
        const rng = new Rng('rope');
        return sample(m, prompts, {
          budgetTokens: 44,
          temperature: 1,
          eosId: -1,
          padId: 0,
          rngs: prompts.map((_, i) => rng.fork(i)),
          hostKvCache,
        });
      };
      const host = run(true),
        tensor = run(false);
      expect(host.every((r) => r.tokens.length === 44)).toBe(true);
      expect(host.map((r) => r.tokens)).toEqual(tensor.map((r) => r.tokens));
      let maxDiff = 0;
      host.forEach((r, b) => {
        const seq = [...prompts[b]!, ...r.tokens];
        const s = scoreSequences(m, Int32Array.from(seq), 1, seq.length, 0);
        r.tokens.forEach((_, t) => {
          maxDiff = Math.max(maxDiff, Math.abs(s.logprobs[prompts[b]!.length - 1 + t]! - r.logprobs[t]!));
          maxDiff = Math.max(maxDiff, Math.abs(tensor[b]!.logprobs[t]! - r.logprobs[t]!));
        });
      });
      expect(maxDiff).toBeLessThan(1e-4);
      m.dispose();
    });

  it('passes a finite-difference gradient check, the shared last position row included', () => {
    const m = Gpt.create({ ...ROPE, nLayers: 1 }, new Rng(9));
    const rng = new Rng(4);
    const B = 2,
      T = 24; // past ROPE_ABSOLUTE: the last wpe row is shared by positions 15 … 23
    const ints = () => Int32Array.from({ length: B * T }, () => rng.int(ROPE.vocabSize));
    const toks = tf.tensor2d(ints(), [B, T], 'int32');
    const tg = tf.tensor2d(ints(), [B, T], 'int32');
    const loss = () => tf.neg(tf.mean(tokenLogprobsTensor(m, toks, tg).logprobs)) as tf.Scalar;
    const { grads } = tf.variableGrads(loss, m.variables);
    const lossValue = () => tf.tidy(() => loss().dataSync()[0]!);
    const D = ROPE.dModel;
    const picks: [string, number][] = [
      ['wpe', (ROPE_ABSOLUTE - 1) * D + 3], // the shared row
      ['wpe', 2 * D + 5],
      ['h.0.attn.wq', 17],
      ['h.0.attn.wk', 40],
      ['h.0.attn.bk', 7],
    ];
    for (const [name, i] of picks) {
      const v = m.params.get(name)!;
      const g = grads[v.name]!.dataSync();
      const base = v.dataSync().slice();
      const bump = (d: number) => {
        const a = base.slice();
        a[i] = base[i]! + d;
        v.assign(tf.tensor(a, v.shape));
        return lossValue();
      };
      const eps = 1e-2;
      const numeric = (bump(eps) - bump(-eps)) / (2 * eps);
      v.assign(tf.tensor(base, v.shape));
      expect(Math.abs(g[i]!)).toBeGreaterThan(0);
      expect(Math.abs(numeric - g[i]!)).toBeLessThan(2e-3 + 0.05 * Math.abs(g[i]!));
    }
    m.dispose();
  });

  it('partial rotary: the dimensions past ropeDims carry no position, the rest still score by distance', () => {
    const H = 2,
      hd = 8,
      D = H * hd;
    const t = ropeTables(64, H, hd, 4); // per head: pairs (0,4) and (1,5) rotate, (2,6) and (3,7) do not
    const rng = new Rng(5);
    const q = Float32Array.from({ length: D }, () => rng.normal());
    const rotated = (pos: number) => {
      const a = q.slice();
      ropeRows(t, a, { rows: 1, pos, offset: 0, stride: D, nHeads: H, headDim: hd });
      return a;
    };
    const at37 = rotated(37);
    // untouched at any position
    const still = [0, 1].flatMap((h) => [2, 3, 6, 7].map((i) => h * hd + i));
    expect(still.map((i) => at37[i])).toEqual(still.map((i) => q[i]));
    expect(Math.abs(at37[0]! - q[0]!)).toBeGreaterThan(1e-3); // a rotating pair moved
    // the rotating pairs span the whole frequency range: pair 1 turns at base^(−2/4) = 1/100 per position
    expect(t.cos[1 * D + 1]).toBeCloseTo(Math.cos(0.01), 6);
    // full rope is ropeDims = headDim
    expect([...ropeTables(8, H, hd, hd).cos]).toEqual([...ropeTables(8, H, hd).cos]);
  });

  it('refuses an odd head size and an unknown scheme, naming the field', () => {
    const partial = GptConfigSchema.safeParse({ ...ROPE, ropeDims: 6 }); // head size 8: even, ≤ 8
    expect(partial.success).toBe(true);
    for (const bad of [
      { ...ROPE, ropeDims: 5 },
      { ...ROPE, ropeDims: 10 },
      { ...ROPE, positions: 'learned', ropeDims: 4 },
    ]) {
      const r = GptConfigSchema.safeParse(bad);
      expect(r.success).toBe(false);
      expect(r.error!.issues[0]!.path).toEqual(['ropeDims']);
    }
    const odd = GptConfigSchema.safeParse({ ...ROPE, dModel: 6, nHeads: 2 });
    expect(odd.success).toBe(false);
    expect(odd.error!.issues[0]!.path).toEqual(['positions']);
    const unknown = GptConfigSchema.safeParse({ ...ROPE, positions: 'alibi' });
    expect(unknown.success).toBe(false);
    expect(unknown.error!.issues[0]!.path).toEqual(['positions']);
  });
});
