/**
 * KV policies on an in-flight weight swap (issue #19 item 6), on a planted swap: the model's
 * weights change from A (v0) to B (v1) before completion position 3.
 *   keep       positions < 3 are v0, the rest v1, sampled over A's cache of the prefix
 *   recompute  the same versions; from position 3 on the log-probs are exactly B's on the sequence
 *   abort      every token v1: the generation B makes from scratch with the same seeds
 * and the stale-prefix mask takes the v0 tokens out of the loss.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/tensor/backend.js';
import { Gpt } from '../src/policy/transformer/model.js';
import { scoreSequences } from '../src/policy/transformer/logprobs.js';
import { generateRollouts, type GenerateWork } from '../src/policy/generate.js';
import { loadCheckpoint } from '../src/policy/checkpoint.js';
import { PAD } from '../src/tasks/countdown/tokenizer.js';
import { Rng } from '../src/util/rng.js';
import { padRollouts } from '../src/rl/gptStep.js';
import { EXCLUDED } from '../src/rl/loss.js';
import type { KvPolicy } from '../src/policy/kvPolicy.js';
import type { Rollout } from '../src/runtime/messages.js';
import type { PackedWeights } from '../src/tensor/pack.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const base = loadCheckpoint('examples/checkpoints/base-countdown');
const cfg = base.manifest.config;
// B: the base weights moved by seeded noise (a different policy that still writes Countdown traces)
const rng = new Rng('kv-b');
const B: PackedWeights = {
  manifest: base.weights.manifest,
  data: base.weights.data.map((x) => x + 0.2 * rng.normal()),
};
const SWAP_AT = 3;

const work = (kv?: KvPolicy): GenerateWork => ({
  step: 2,
  problems: [{ id: '0:a', numbers: [3, 5, 7], target: 15, difficulty: 3 }],
  groupSize: 4,
  budgetTokens: 24,
  temperature: 1,
  seed: 11,
  kv,
});

function run(kv?: KvPolicy) {
  const m = Gpt.fromPacked(cfg, base.weights, 'A');
  let v = 0;
  const out = generateRollouts(m, work(kv), (position) => {
    if (position >= SWAP_AT && v === 0) {
      m.load(B, 'B');
      v = 1;
    }
    return v;
  });
  return out;
}

/** Teacher-forced log-probs of a rollout's completion under `w`. */
function scored(w: PackedWeights, r: Rollout): number[] {
  const m = Gpt.fromPacked(cfg, w, 'scorer');
  const toks = Int32Array.from([...r.prompt, ...r.completion]);
  const lp = scoreSequences(m, toks, 1, toks.length, PAD, 1).logprobs;
  return r.completion.map((_, j) => lp[r.prompt.length + j - 1]!);
}

const kv = (onSwap: KvPolicy['onSwap']): KvPolicy => ({ onSwap, abortsMax: 4, maskStalePrefix: false });

describe('rollout.kv on a planted swap', () => {
  it('keep and recompute: tokens before the swap are v0 and A’s; recompute makes the rest exactly B’s', () => {
    const keep = run(kv('keep'));
    const rec = run(kv('recompute'));
    expect(rec.recomputes).toBe(1);
    expect(keep.recomputes).toBe(0);
    let keepOff = 0;
    for (const [x, r] of [
      [keep, keep.rollouts],
      [rec, rec.rollouts],
    ] as const)
      for (const ro of r) {
        const long = ro.completion.length > SWAP_AT;
        expect(ro.versions).toEqual(ro.completion.map((_, t) => (t < SWAP_AT ? 0 : 1)));
        const a = scored(base.weights, ro);
        for (let t = 0; t < Math.min(SWAP_AT, ro.completion.length); t++)
          expect(ro.behaviourLogprobs[t]).toBeCloseTo(a[t]!, 4);
        if (!long) continue;
        const b = scored(B, ro);
        for (let t = SWAP_AT; t < ro.completion.length; t++) {
          if (x === rec) expect(ro.behaviourLogprobs[t]).toBeCloseTo(b[t]!, 4);
          else keepOff = Math.max(keepOff, Math.abs(ro.behaviourLogprobs[t]! - b[t]!));
        }
      }
    // keeping A's cache of the prefix is not B's policy
    expect(keepOff).toBeGreaterThan(1e-3);
  });

  it('abort: the generation starts over at v1 — B’s own rollouts, same seeds; bounded by abortsMax', () => {
    const ab = run(kv('abort'));
    expect(ab.aborts).toBe(1);
    const fresh = generateRollouts(Gpt.fromPacked(cfg, B, 'B'), work(), () => 1);
    expect(ab.rollouts).toEqual(fresh.rollouts);
    const capped = run({ onSwap: 'abort', abortsMax: 0, maskStalePrefix: false });
    expect(capped.aborts).toBe(0);
    expect(capped.rollouts).toEqual(run(kv('keep')).rollouts);
  });

  it('the stale-prefix mask takes the tokens older than a rollout’s newest version out of the loss', () => {
    const r = run(kv('keep')).rollouts.find((x) => x.completion.length > SWAP_AT)!;
    const batch = padRollouts([{ ...r, advantage: 1, maskStalePrefix: true }], PAD, cfg.contextLength, 2);
    const ex = Array.from(batch.data.exclude!).filter((_, i) => batch.data.mask[i] === 1);
    expect(ex).toEqual(r.completion.map((_, t) => (t < SWAP_AT ? EXCLUDED.stalePrefix : 0)));
  });
});
