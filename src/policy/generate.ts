/**
 * A sampler's unit of work, shared by the sampler worker (real clock) and the virtual clock's
 * policy compute: sample `groupSize` completions for each problem, with seeds that depend only on
 * (seed, step, problem id, sample index) — so re-issued work regenerates the same rollouts — and
 * record, per completion token, the policy version that produced it.
 */
import type { Gpt } from './transformer/model.js';
import { sample } from './transformer/sample.js';
import { promptTokens } from '../tasks/countdown/trace.js';
import { EOS, PAD } from '../tasks/countdown/tokenizer.js';
import { Rng } from '../util/rng.js';
import { rolloutId, type Rollout } from '../runtime/messages.js';
import type { Mismatch } from './mismatch.js';
import type { KvPolicy } from './kvPolicy.js';

export interface GenerateWork {
  step: number;
  problems: readonly { id: string; numbers: number[]; target: number; difficulty: number }[];
  groupSize: number;
  budgetTokens: number;
  temperature: number;
  seed: number;
  /** Controlled mismatch: only its logit noise acts here (weights are rounded where they are loaded). */
  mismatch?: Mismatch;
  /** What a weight swap does to the KV cache (policy/kvPolicy.ts); absent = keep. */
  kv?: KvPolicy;
}

/** Thrown inside the sampling loop to start a generation over (kv abort). */
const ABORT = Symbol('abort generation');

/**
 * `beforeDecode(position)` runs before the logits of completion position `position` are computed
 * (position 0 by the prefill); it may swap the model's weights and returns the version in use.
 */
export function generateRollouts(
  model: Gpt,
  w: GenerateWork,
  beforeDecode: (position: number) => number,
): { rollouts: Rollout[]; generatedTokens: number; recomputes: number; aborts: number } {
  const prompts: number[][] = [];
  const labels: string[] = [];
  const rngs: Rng[] = [];
  const noiseRngs: Rng[] = [];
  const sigma = w.mismatch?.logitNoise ?? 0;
  const meta: { problemId: string; sampleIndex: number; prompt: number[] }[] = [];
  const root = new Rng(`rollout/${w.seed}`);
  for (const p of w.problems) {
    const prompt = promptTokens(p);
    for (let j = 0; j < w.groupSize; j++) {
      prompts.push(prompt);
      labels.push(`${w.step}/${p.id}/${j}`);
      rngs.push(root.fork(labels.at(-1)!));
      if (sigma > 0) noiseRngs.push(root.fork(`noise/${labels.at(-1)!}`));
      meta.push({ problemId: p.id, sampleIndex: j, prompt });
    }
  }
  // A sampling batch needs equal-length prompts, so mixed difficulties are sampled one length at a time.
  const results: { tokens: number[]; logprobs: number[]; stop: 'eos' | 'budget'; versions: number[] }[] = new Array(
    prompts.length,
  );
  const byLength = new Map<number, number[]>();
  prompts.forEach((p, i) => byLength.set(p.length, [...(byLength.get(p.length) ?? []), i]));
  const kv = w.kv?.onSwap ?? 'keep';
  let recomputes = 0;
  let aborts = 0;
  for (const rows of byLength.values()) {
    for (;;) {
      const versionAt: number[] = [beforeDecode(0)];
      let out: ReturnType<typeof sample>;
      try {
        out = sample(
          model,
          rows.map((i) => prompts[i]!),
          {
            budgetTokens: w.budgetTokens,
            temperature: w.temperature,
            eosId: EOS,
            padId: PAD,
            rngs: rows.map((i) => rngs[i]!),
            logitNoise: sigma > 0 ? { sigma, rngs: rows.map((i) => noiseRngs[i]!) } : undefined,
            kvOnSwap: kv === 'recompute' ? 'recompute' : 'keep',
            onRecompute: () => recomputes++,
            beforeDecode: (position) => {
              const v = beforeDecode(position);
              versionAt[position] = v;
              const swapped = v !== versionAt[position - 1];
              if (swapped && kv === 'abort' && aborts < (w.kv?.abortsMax ?? 0)) throw ABORT;
              return swapped;
            },
          },
        );
      } catch (e) {
        if (e !== ABORT) throw e;
        // start over at the new weights, with the same random streams
        aborts++;
        for (const i of rows) {
          rngs[i] = root.fork(labels[i]!);
          if (sigma > 0) noiseRngs[i] = root.fork(`noise/${labels[i]!}`);
        }
        continue;
      }
      rows.forEach((i, j) => {
        const r = out[j]!;
        results[i] = {
          tokens: r.tokens,
          logprobs: r.logprobs,
          stop: r.stop,
          versions: r.tokens.map((_, t) => versionAt[t]!),
        };
      });
      break;
    }
  }
  const rollouts: Rollout[] = results.map((r, i) => ({
    id: rolloutId(w.step, meta[i]!.problemId, meta[i]!.sampleIndex),
    problemId: meta[i]!.problemId,
    sampleIndex: meta[i]!.sampleIndex,
    prompt: meta[i]!.prompt,
    completion: r.tokens,
    behaviourLogprobs: r.logprobs,
    versions: r.versions,
    stop: r.stop,
  }));
  return { rollouts, generatedTokens: results.reduce((n, r) => n + r.tokens.length, 0), recomputes, aborts };
}
