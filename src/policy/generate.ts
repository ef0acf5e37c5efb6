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

/** Each completion's random streams (sampling, and logit noise under a controlled mismatch), keyed by its label. */
interface Streams {
  root: Rng;
  labels: string[];
  rngs: Rng[];
  noiseRngs: Rng[];
  sigma: number;
}

/** A completion as sampled: its tokens, log-probs, how it stopped, and the version behind each token. */
interface Sampled {
  tokens: number[];
  logprobs: number[];
  stop: 'eos' | 'budget';
  versions: number[];
}

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
  const sigma = w.mismatch?.logitNoise ?? 0;
  const streams: Streams = { root: new Rng(`rollout/${w.seed}`), labels: [], rngs: [], noiseRngs: [], sigma };
  const meta: { problemId: string; sampleIndex: number; prompt: number[] }[] = [];
  for (const p of w.problems) {
    const prompt = promptTokens(p);
    for (let j = 0; j < w.groupSize; j++) {
      const label = `${w.step}/${p.id}/${j}`;
      prompts.push(prompt);
      streams.labels.push(label);
      streams.rngs.push(streams.root.fork(label));
      if (sigma > 0) streams.noiseRngs.push(streams.root.fork(`noise/${label}`));
      meta.push({ problemId: p.id, sampleIndex: j, prompt });
    }
  }
  // A sampling batch needs equal-length prompts, so mixed difficulties are sampled one length at a time.
  const results: Sampled[] = new Array(prompts.length);
  const byLength = new Map<number, number[]>();
  prompts.forEach((p, i) => byLength.set(p.length, [...(byLength.get(p.length) ?? []), i]));
  const counts = { recomputes: 0, aborts: 0 };
  for (const rows of byLength.values()) {
    const out = sampleRows(model, w, rows, prompts, streams, beforeDecode, counts);
    rows.forEach((i, j) => {
      results[i] = out[j]!;
    });
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
  const generatedTokens = results.reduce((n, r) => n + r.tokens.length, 0);
  return { rollouts, generatedTokens, ...counts };
}

/**
 * The completions of `rows` (prompts of one length) sampled as one batch, each token's version
 * recorded. Under kv `abort`, a weight swap mid-generation starts the batch over at the new
 * weights with the same random streams, at most `kv.abortsMax` times.
 */
function sampleRows(
  model: Gpt,
  w: GenerateWork,
  rows: readonly number[],
  prompts: readonly number[][],
  streams: Streams,
  beforeDecode: (position: number) => number,
  counts: { recomputes: number; aborts: number },
): Sampled[] {
  const kv = w.kv?.onSwap ?? 'keep';
  const { sigma } = streams;
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
          rngs: rows.map((i) => streams.rngs[i]!),
          logitNoise: sigma > 0 ? { sigma, rngs: rows.map((i) => streams.noiseRngs[i]!) } : undefined,
          kvOnSwap: kv === 'recompute' ? 'recompute' : 'keep',
          onRecompute: () => counts.recomputes++,
          beforeDecode: (position) => {
            const v = beforeDecode(position);
            versionAt[position] = v;
            const swapped = v !== versionAt[position - 1];
            if (swapped && kv === 'abort' && counts.aborts < (w.kv?.abortsMax ?? 0)) throw ABORT;
            return swapped;
          },
        },
      );
    } catch (e) {
      if (e !== ABORT) throw e;
      // start over at the new weights, with the same random streams
      counts.aborts++;
      for (const i of rows) {
        streams.rngs[i] = streams.root.fork(streams.labels[i]!);
        if (sigma > 0) streams.noiseRngs[i] = streams.root.fork(`noise/${streams.labels[i]!}`);
      }
      continue;
    }
    return out.map((r) => ({
      tokens: r.tokens,
      logprobs: r.logprobs,
      stop: r.stop,
      versions: r.tokens.map((_, t) => versionAt[t]!),
    }));
  }
}
