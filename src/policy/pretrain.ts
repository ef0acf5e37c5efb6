/**
 * Supervised pretraining of the tiny GPT on synthesized base traces (cross-entropy on the
 * completion tokens). Batches are length-bucketed: a pool of traces is sorted by length and cut
 * into batches of about `batchTokens` tokens, so the few long traces (which train the late
 * positions) do not pad every batch. Resumable: every checkpoint holds the optimiser state and
 * the data position, and the data of pool i depends only on (seed, i).
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { Rng } from '../util/rng.js';
import { Gpt } from './transformer/model.js';
import { parameterShapes } from './transformer/params.js';
import { Adam } from './transformer/adam.js';
import { tokenLogprobsTensor } from './transformer/logprobs.js';
import { GptConfigSchema } from './transformer/config.js';
import { loadCheckpoint, saveCheckpoint, type LoadedCheckpoint } from './checkpoint.js';
import { generateProblem } from '../tasks/countdown/problems.js';
import { synthesizeTrace, SynthKnobsSchema } from '../tasks/countdown/synth.js';
import { MAX_VALUE, PAD, VOCAB_SIZE } from '../tasks/countdown/tokenizer.js';
import { InputError } from '../util/errors.js';

export const PretrainConfigSchema = z
  .object({
    model: GptConfigSchema,
    knobs: SynthKnobsSchema,
    /** Mix of difficulties (number counts) in the training traces: weight per difficulty. */
    difficultyWeights: z.record(z.string().regex(/^[3-6]$/), z.number().min(0)),
    steps: z.number().int().min(1),
    batchTokens: z.number().int().min(64),
    /** Traces per pool (the unit of length bucketing). */
    poolTraces: z.number().int().min(16),
    lr: z.number().positive(),
    lrMin: z.number().min(0),
    warmupSteps: z.number().int().min(0),
    clipNorm: z.number().min(0),
    checkpointEvery: z.number().int().min(1),
    /**
     * Randomized positions (Ruoss et al. 2023, "Randomized Positional Encodings Boost Length
     * Generalization of Transformers"), learned positions only: a `share` of the traces has its
     * completion moved to start up to `max` positions later than right after the prompt (uniform,
     * within the context), the prompt staying at 0 … P − 1. Every position row then trains on every
     * attempt index, so a late place in the context no longer means "an attempt the data rarely
     * shows" (issue #28: learned positions wrote late attempts with numbers the problem lacks).
     */
    positionShift: z
      .object({ share: z.number().min(0).max(1), max: z.number().int().min(1).max(16_384) })
      .strict()
      .optional(),
  })
  .refine((c) => c.positionShift === undefined || c.model.positions !== 'rope', {
    message: 'needs learned positions (model.positions rope rotates by position inside attention)',
    path: ['positionShift'],
  });
export type PretrainConfig = z.infer<typeof PretrainConfigSchema>;

export const DEFAULT_PRETRAIN: PretrainConfig = {
  model: { vocabSize: VOCAB_SIZE, dModel: 128, nHeads: 4, nLayers: 2, contextLength: 320 },
  knobs: { generationSkill: 0.15, verifyAccuracy: 1, continueProb: 0.3, longFraction: 0.05 },
  difficultyWeights: { '3': 0.4, '4': 0.3, '5': 0.2, '6': 0.1 },
  steps: 3000,
  batchTokens: 4096,
  poolTraces: 1024,
  lr: 2e-3,
  lrMin: 1e-4,
  warmupSteps: 100,
  clipNorm: 1,
  checkpointEvery: 100,
};

export interface Batch {
  tokens: Int32Array;
  /** Each token's position, [B, T] (only with positionShift; else 0 … T − 1 in every row). */
  positions?: Int32Array;
  targets: Int32Array;
  mask: Float32Array;
  B: number;
  T: number;
  trainedTokens: number;
}

/** Deterministic batches of pool `index` (depends only on seed, index and config). */
export function poolBatches(cfg: PretrainConfig, seed: number | string, index: number): Batch[] {
  const rng = new Rng(`pretrain/${seed}/pool/${index}`);
  const diffs = Object.keys(cfg.difficultyWeights).map(Number);
  const weights = diffs.map((d) => cfg.difficultyWeights[String(d)]!);
  const seqs: { toks: number[]; promptLen: number; shiftAt: number; shift: number }[] = [];
  const ps = cfg.positionShift;
  // its own stream: the traces are the same with or without positionShift (paired runs)
  const shiftRng = new Rng(`pretrain/${seed}/pool/${index}/shift`);
  for (let i = 0; i < cfg.poolTraces; i++) {
    const d = diffs[rng.categorical(weights)]!;
    const p = generateProblem(rng, d, 'train');
    const t = synthesizeTrace(p, cfg.knobs, rng, cfg.model.contextLength);
    const toks = [...t.prompt, ...t.given, ...t.completion];
    const room = cfg.model.contextLength - toks.length;
    const shift = ps && room > 0 && shiftRng.bernoulli(ps.share) ? shiftRng.int(Math.min(ps.max, room) + 1) : 0;
    seqs.push({ toks, promptLen: t.prompt.length + t.given.length, shiftAt: t.prompt.length, shift });
  }
  seqs.sort((a, b) => a.toks.length - b.toks.length);
  const batches: Batch[] = [];
  let i = 0;
  while (i < seqs.length) {
    // Grow the batch while (count × padded length) stays within batchTokens.
    let j = i + 1;
    while (j < seqs.length && (j + 1 - i) * roundUp(seqs[j]!.toks.length) <= cfg.batchTokens) j++;
    const group = seqs.slice(i, j);
    const T = roundUp(group.at(-1)!.toks.length);
    const B = group.length;
    const tokens = new Int32Array(B * T).fill(PAD);
    const targets = new Int32Array(B * T).fill(PAD);
    const mask = new Float32Array(B * T);
    const positions = ps ? new Int32Array(B * T) : undefined;
    let trained = 0;
    group.forEach((s, b) => {
      tokens.set(s.toks, b * T);
      // padding past the context's end keeps a valid row (its targets are masked)
      if (positions)
        for (let t = 0; t < T; t++)
          positions[b * T + t] = Math.min(cfg.model.contextLength - 1, t < s.shiftAt ? t : t + s.shift);
      for (let t = 0; t + 1 < s.toks.length; t++) {
        targets[b * T + t] = s.toks[t + 1]!;
        if (t + 1 >= s.promptLen) {
          mask[b * T + t] = 1;
          trained++;
        }
      }
    });
    batches.push({ tokens, targets, mask, B, T, trainedTokens: trained, ...(positions ? { positions } : {}) });
    i = j;
  }
  return rng.shuffle(batches);
}

function roundUp(n: number): number {
  return Math.ceil(n / 16) * 16;
}

export function lrAt(cfg: PretrainConfig, step: number): number {
  if (step < cfg.warmupSteps) return (cfg.lr * (step + 1)) / cfg.warmupSteps;
  const t = Math.min(1, (step - cfg.warmupSteps) / Math.max(1, cfg.steps - cfg.warmupSteps));
  return cfg.lrMin + 0.5 * (cfg.lr - cfg.lrMin) * (1 + Math.cos(Math.PI * t));
}

export function sftLoss(model: Gpt, batch: Batch): tf.Scalar {
  const tokens = tf.tensor2d(batch.tokens, [batch.B, batch.T], 'int32');
  const targets = tf.tensor2d(batch.targets, [batch.B, batch.T], 'int32');
  const mask = tf.tensor1d(batch.mask);
  const positions = batch.positions ? tf.tensor2d(batch.positions, [batch.B, batch.T], 'int32') : undefined;
  const { logprobs } = tokenLogprobsTensor(model, tokens, targets, 1, positions);
  return tf.div(tf.neg(tf.sum(tf.mul(logprobs, mask))), Math.max(1, batch.trainedTokens)) as tf.Scalar;
}

export interface PretrainProgress {
  step: number;
  steps: number;
  loss: number;
  lr: number;
  tokensPerSec: number;
  trainedTokens: number;
}

export interface PretrainOptions {
  out: string;
  seed: number | string;
  config: PretrainConfig;
  command: string;
  versions: Record<string, string>;
  /** Start from these weights (fine-tuning); the run's own step counter starts at 0. */
  init?: string;
  resume?: boolean;
  /** Stop (after checkpointing) once this step is reached; the schedule still runs to config.steps. */
  stopAtStep?: number;
  now: () => number;
  onProgress?: (p: PretrainProgress) => void;
  onCheckpoint?: (dir: string, step: number) => void;
}

export interface PretrainResult {
  steps: number;
  finalLoss: number;
  trainedTokens: number;
  seconds: number;
}

/**
 * Where a pretraining starts: a resumed checkpoint (its weights, step and data position, refused
 * when its recorded config differs), `--init` weights (their model config must match), or a fresh
 * GPT-2 initialisation from the seed.
 */
function startingPoint(o: PretrainOptions): {
  model: Gpt;
  step: number;
  pool: number;
  inPool: number;
  trainedTokens: number;
  resumed: LoadedCheckpoint | null;
} {
  const cfg = o.config;
  if (o.resume) {
    const ck = loadCheckpoint(o.out, { optimizer: true });
    const ts = ck.manifest.trainState as
      | { pool: number; inPool: number; trainedTokens: number; pretrainConfig?: unknown }
      | undefined;
    if (!ts || !ck.optimizer)
      throw new InputError(`--resume: checkpoint ${o.out} has no optimizer state or data position`);
    if (JSON.stringify(ts.pretrainConfig) !== JSON.stringify(cfg)) {
      throw new InputError(
        `--resume: the pretrain config (flags/--config) differs from the one recorded in ${o.out}/manifest.json; resume with the same flags`,
      );
    }
    const model = Gpt.fromPacked(ck.manifest.config, ck.weights, o.out);
    return {
      model,
      step: ck.manifest.step,
      pool: ts.pool,
      inPool: ts.inPool,
      trainedTokens: ts.trainedTokens,
      resumed: ck,
    };
  }
  const fresh = { step: 0, pool: 0, inPool: 0, trainedTokens: 0, resumed: null };
  if (o.init) {
    const ck = loadCheckpoint(o.init);
    if (JSON.stringify(ck.manifest.config) !== JSON.stringify(cfg.model)) {
      throw new InputError(
        `--init: checkpoint ${o.init} has model config ${JSON.stringify(ck.manifest.config)}, the pretrain config has ${JSON.stringify(cfg.model)}`,
      );
    }
    return { model: Gpt.fromPacked(cfg.model, ck.weights, o.init), ...fresh };
  }
  return { model: Gpt.create(cfg.model, new Rng(`pretrain/${o.seed}/init`)), ...fresh };
}

/** Where a pretraining run stands: its step, the pool and batch it reads next, its tokens and loss so far. */
interface PretrainPosition {
  step: number;
  pool: number;
  inPool: number;
  trainedTokens: number;
  emaLoss: number;
}

/**
 * A checkpoint of the run at `at`. A finished run keeps only its weights (the shipped checkpoints
 * must stay small); an unfinished one keeps the optimiser state it needs to resume.
 */
function savePretrain(o: PretrainOptions, model: Gpt, adam: Adam, at: PretrainPosition, finished: boolean): void {
  const cfg = o.config;
  const names = parameterShapes(cfg.model).map((p) => p.name);
  const { step, pool, inPool, trainedTokens } = at;
  saveCheckpoint(
    o.out,
    {
      kind: 'gpt',
      config: cfg.model,
      tokenizer: { name: 'countdown', vocabSize: VOCAB_SIZE, maxValue: MAX_VALUE },
      seed: o.seed,
      command: o.command,
      versions: o.versions,
      step,
      trainState: { pool, inPool, trainedTokens, pretrainConfig: cfg, init: o.init ?? null },
      notes: { lastLoss: at.emaLoss },
    },
    model.pack(),
    finished ? undefined : { state: adam.packState(names), step: adam.step },
  );
  o.onCheckpoint?.(o.out, step);
}

export function runPretrain(o: PretrainOptions): PretrainResult {
  const cfg = o.config;
  const start = startingPoint(o);
  const model = start.model;
  let { step, pool, inPool, trainedTokens } = start;
  const resumed = start.resumed;
  const adam = new Adam(model.variables, { lr: cfg.lr, beta1: 0.9, beta2: 0.99, eps: 1e-8, clipNorm: cfg.clipNorm });
  if (resumed) {
    const names = parameterShapes(cfg.model).map((p) => p.name);
    adam.loadState(names, resumed.optimizer!, resumed.manifest.optimizer!.step, `checkpoint ${o.out}`);
  }
  const save = (finished: boolean) =>
    savePretrain(o, model, adam, { step, pool, inPool, trainedTokens, emaLoss }, finished);

  const t0 = o.now();
  let batches = poolBatches(cfg, o.seed, pool);
  let emaLoss = NaN;
  let windowTokens = 0;
  let windowStart = o.now();
  const last = Math.min(cfg.steps, o.stopAtStep ?? cfg.steps);
  while (step < last) {
    if (inPool >= batches.length) {
      pool++;
      inPool = 0;
      batches = poolBatches(cfg, o.seed, pool);
    }
    const batch = batches[inPool++]!;
    const lr = lrAt(cfg, step);
    const { loss } = adam.minimize(() => sftLoss(model, batch), lr);
    if (!Number.isFinite(loss)) throw new Error(`pretrain: loss became ${loss} at step ${step}`);
    emaLoss = Number.isNaN(emaLoss) ? loss : 0.95 * emaLoss + 0.05 * loss;
    step++;
    trainedTokens += batch.trainedTokens;
    windowTokens += batch.trainedTokens;
    if (step % 10 === 0 || step === cfg.steps) {
      const now = o.now();
      o.onProgress?.({
        step,
        steps: cfg.steps,
        loss: emaLoss,
        lr,
        tokensPerSec: (windowTokens / (now - windowStart)) * 1000,
        trainedTokens,
      });
      windowTokens = 0;
      windowStart = now;
    }
    if (step % cfg.checkpointEvery === 0 || step === last) save(step === cfg.steps);
  }
  adam.dispose();
  model.dispose();
  return { steps: step, finalLoss: emaLoss, trainedTokens, seconds: (o.now() - t0) / 1000 };
}
