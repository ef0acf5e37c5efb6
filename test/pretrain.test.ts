import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/tensor/backend.js';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_PRETRAIN, poolBatches, runPretrain, sftLoss, type PretrainConfig } from '../src/policy/pretrain.js';
import { Gpt } from '../src/policy/transformer/model.js';
import { Rng } from '../src/util/rng.js';
import { BOS, COLON } from '../src/tasks/countdown/tokenizer.js';
import { loadCheckpoint } from '../src/policy/checkpoint.js';
import { weightsSha256 } from '../src/tensor/pack.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const cfg: PretrainConfig = {
  ...DEFAULT_PRETRAIN,
  model: { ...DEFAULT_PRETRAIN.model, dModel: 32, nHeads: 2, nLayers: 1, contextLength: 96 },
  difficultyWeights: { '3': 1 },
  steps: 30,
  batchTokens: 1024,
  poolTraces: 64,
  lr: 3e-3,
  warmupSteps: 5,
  checkpointEvery: 10,
};

describe('pretrain', () => {
  it('length-buckets batches within the token budget, deterministically per pool', () => {
    const a = poolBatches(cfg, 1, 0);
    expect(poolBatches(cfg, 1, 0)).toEqual(a);
    for (const b of a) {
      expect(b.B * b.T).toBeLessThanOrEqual(Math.max(cfg.batchTokens, b.T));
      expect(b.T % 16).toBe(0);
    }
    expect(a.reduce((n, b) => n + b.B, 0)).toBe(cfg.poolTraces);
  });

  it('positionShift: the prompt stays at 0 … P − 1, a share of completions starts later, inside the context', () => {
    const plain = poolBatches(cfg, 1, 0);
    expect(plain.every((b) => b.positions === undefined)).toBe(true);
    const shifted = poolBatches({ ...cfg, positionShift: { share: 0.5, max: 40 } }, 1, 0);
    // the same traces, only their positions differ (a paired comparison)
    const traces = (bs: typeof plain) =>
      bs.flatMap((b) => Array.from({ length: b.B }, (_, r) => b.tokens.subarray(r * b.T, (r + 1) * b.T).join())).sort();
    expect(traces(shifted)).toEqual(traces(plain));
    let rows = 0,
      moved = 0;
    for (const b of shifted) {
      for (let r = 0; r < b.B; r++) {
        const tok = b.tokens.subarray(r * b.T, (r + 1) * b.T);
        const pos = b.positions!.subarray(r * b.T, (r + 1) * b.T);
        expect(tok[0]).toBe(BOS);
        const colon = tok.indexOf(COLON); // the prompt ends at its colon
        for (let t = 0; t <= colon; t++) expect(pos[t]).toBe(t);
        const shift = pos[colon + 1]! - (colon + 1);
        expect(shift).toBeGreaterThanOrEqual(0);
        expect(shift).toBeLessThanOrEqual(40);
        for (let t = colon + 1; t < b.T; t++) expect(pos[t]).toBe(Math.min(cfg.model.contextLength - 1, t + shift));
        rows++;
        if (shift > 0) moved++;
      }
    }
    expect(moved / rows).toBeGreaterThan(0.3);
    expect(moved / rows).toBeLessThan(0.7);
    // positions 0 … T − 1 given explicitly are the default: the same loss
    const m = Gpt.create(cfg.model, new Rng(4));
    const b = plain[0]!;
    const identity = Int32Array.from({ length: b.B * b.T }, (_, i) => i % b.T);
    const l0 = tf.tidy(() => sftLoss(m, b).dataSync()[0]!);
    const l1 = tf.tidy(() => sftLoss(m, { ...b, positions: identity }).dataSync()[0]!);
    expect(l1).toBeCloseTo(l0, 5);
    const s = shifted.find((x) => x.positions!.some((p, i) => p !== i % x.T))!;
    const l2 = tf.tidy(() => sftLoss(m, s).dataSync()[0]!);
    const l3 = tf.tidy(() => sftLoss(m, { ...s, positions: undefined }).dataSync()[0]!);
    expect(Math.abs(l2 - l3)).toBeGreaterThan(1e-6); // the positions reach the model
    m.dispose();
  });

  it('lowers the loss on a tiny corpus, and a resumed run ends where an uninterrupted one does', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-pt-'));
    const losses: number[] = [];
    const common = { seed: 3, command: 'test', versions: {}, now: () => 0 };
    const full = runPretrain({
      ...common,
      out: path.join(root, 'full'),
      config: cfg,
      onProgress: (p) => losses.push(p.loss),
    });
    expect(losses.at(-1)!).toBeLessThan(losses[0]! - 0.5);
    expect(full.steps).toBe(30);
    // Interrupted at step 20 (its last checkpoint), then resumed to 30.
    runPretrain({ ...common, out: path.join(root, 'part'), config: cfg, stopAtStep: 20 });
    const ck20 = loadCheckpoint(path.join(root, 'part'));
    expect(ck20.manifest.step).toBe(20);
    runPretrain({ ...common, out: path.join(root, 'part'), config: cfg, resume: true });
    const a = loadCheckpoint(path.join(root, 'full'));
    const b = loadCheckpoint(path.join(root, 'part'));
    expect(b.manifest.step).toBe(30);
    expect(weightsSha256(b.weights.data)).toBe(weightsSha256(a.weights.data));
    // A finished run keeps only its weights; resuming an unfinished one with other flags is refused.
    expect(b.optimizer).toBeUndefined();
    expect(fs.existsSync(path.join(root, 'part', 'optimizer.bin'))).toBe(false);
    expect(() => runPretrain({ ...common, out: path.join(root, 'part'), config: cfg, resume: true })).toThrow(
      /no optimizer state/,
    );
    runPretrain({ ...common, out: path.join(root, 'other'), config: cfg, stopAtStep: 10 });
    expect(() =>
      runPretrain({ ...common, out: path.join(root, 'other'), config: { ...cfg, lr: 1e-3 }, resume: true }),
    ).toThrow(/differs/);
  });
});
