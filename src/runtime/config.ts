/**
 * The `e3sim train` config: YAML (or JSON) validated by zod. Every error names the file, the
 * field path and what was expected (exit 2). Defaults make a small config short.
 */
import fs from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { CorrectionSchema } from '../rl/loss.js';
import { BACKENDS } from '../tensor/backend.js';
import { InputError } from '../util/errors.js';
import { FaultSchema, parseFault } from './faults.js';

export const STALENESS_POLICIES = ['sync', 'one-step-off', 'async', 'inflight'] as const;
export type StalenessPolicy = (typeof STALENESS_POLICIES)[number];

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);

export const StageSchema = z.object({
  difficulty: int(3, 6),
  budgetTokens: int(1, 4096),
  /** Learner steps spent in this stage. */
  steps: int(1),
});

export const TrainConfigSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ - only').default('run'),
  seed: int(0, 2 ** 31 - 1).default(0),
  backend: z.enum(BACKENDS).default('auto'),
  model: z.object({
    /** Initial policy (also the frozen KL reference). */
    checkpoint: z.string().min(1),
  }).strict(),
  task: z.object({ name: z.literal('countdown') }).strict().default({ name: 'countdown' }),
  rollout: z.object({
    /** Problems (GRPO groups) per learner step. */
    problemsPerStep: int(1, 4096).default(4),
    /** Samples per problem (group size G). */
    groupSize: int(2, 1024).default(8),
    temperature: z.number().positive().max(10).default(1),
    /** Problems per sampler request (the sampling batch is problemsPerRequest × groupSize). */
    problemsPerRequest: int(1, 4096).optional(),
  }).strict().default({ problemsPerStep: 4, groupSize: 8, temperature: 1 }),
  curriculum: z.object({ stages: z.array(StageSchema).min(1) }).strict(),
  learner: z.object({
    lr: z.number().positive().max(1).default(1e-5),
    clipNorm: z.number().min(0).default(1),
    clipLow: z.number().min(0).max(1).default(0.2),
    clipHigh: z.number().min(0).max(10).default(0.35),
    klCoef: z.number().min(0).default(0.001),
    entropyCoef: z.number().min(0).default(0.001),
    negatives: z.enum(['keep', 'mask']).default('keep'),
    aggregation: z.enum(['token-mean', 'seq-mean-token-mean']).default('token-mean'),
    correction: CorrectionSchema.default({ kind: 'none' }),
  }).strict().default({ lr: 1e-5, clipNorm: 1, clipLow: 0.2, clipHigh: 0.35, klCoef: 0.001, entropyCoef: 0.001, negatives: 'keep', aggregation: 'token-mean', correction: { kind: 'none' } }),
  staleness: z.object({
    policy: z.enum(STALENESS_POLICIES).default('sync'),
    /** Bound η on (learner version at training) − (version that sampled); async and inflight only. */
    eta: int(0, 64).optional(),
  }).strict().default({ policy: 'sync' }),
  topology: z.object({
    samplers: int(1, 64).default(1),
    verifierThreads: int(1, 64).default(1),
  }).strict().default({ samplers: 1, verifierThreads: 1 }),
  limits: z.object({
    /** Scored groups the batcher may hold (backpressure beyond it). */
    queueGroupsMax: int(1, 100_000).default(256),
    samplerTimeoutMs: int(100).default(300_000),
    verifierTimeoutMs: int(100).default(10_000),
    learnerTimeoutMs: int(100).default(600_000),
    /** Restarts per actor before the run fails. */
    restartsMax: int(0, 100).default(3),
    /** Attempts per verification before its rollouts count as dropped-invalid. */
    verifyAttemptsMax: int(1, 10).default(3),
  }).strict().default({ queueGroupsMax: 256, samplerTimeoutMs: 300_000, verifierTimeoutMs: 10_000, learnerTimeoutMs: 600_000, restartsMax: 3, verifyAttemptsMax: 3 }),
  checkpoint: z.object({
    every: int(1).default(10),
    keep: int(1, 1000).default(2),
  }).strict().default({ every: 10, keep: 2 }),
  /** Held-out evaluation by the evaluator actor (on sampler-0's thread), every N steps and at the end. */
  eval: z.object({
    every: int(1).optional(),
    difficulty: int(3, 6).default(3),
    problems: int(1, 10_000).default(16),
    samples: int(1, 1024).default(4),
    budgets: z.array(int(1, 4096)).min(1).default([64, 128]),
    /** pass@k reported (unbiased); samples must be ≥ the largest k. */
    ks: z.array(int(1, 1024)).min(1).default([1, 4]),
  }).strict().optional(),
  faults: z.array(z.string()).default([]),
}).strict();

export type TrainConfig = z.infer<typeof TrainConfigSchema>;

/** The staleness bound η implied by the policy (sync 0, one-step-off 1, async/inflight: eta). */
export function stalenessBound(c: TrainConfig): number {
  switch (c.staleness.policy) {
    case 'sync': return 0;
    case 'one-step-off': return 1;
    default: return c.staleness.eta ?? 2;
  }
}

export function totalSteps(c: TrainConfig): number {
  return c.curriculum.stages.reduce((n, s) => n + s.steps, 0);
}

function describe(issue: z.core.$ZodIssue): string {
  const where = issue.path.length ? issue.path.join('.') : '(top level)';
  return `${where}: ${issue.message}`;
}

/** Validates a parsed config object; `source` names it in errors. */
export function parseTrainConfig(raw: unknown, source: string): TrainConfig {
  const r = TrainConfigSchema.safeParse(raw);
  if (!r.success) throw new InputError(`${source}: ${r.error.issues.slice(0, 5).map(describe).join('; ')}`);
  const c = r.data;
  if ((c.staleness.policy === 'sync' || c.staleness.policy === 'one-step-off') && c.staleness.eta !== undefined) {
    throw new InputError(`${source}: staleness.eta: only async and inflight take a bound; ${c.staleness.policy} fixes it at ${c.staleness.policy === 'sync' ? 0 : 1}`);
  }
  if (c.eval && c.eval.samples < Math.max(...c.eval.ks)) {
    throw new InputError(`${source}: eval.samples: pass@${Math.max(...c.eval.ks)} (eval.ks) needs at least ${Math.max(...c.eval.ks)} samples per problem, got ${c.eval.samples}`);
  }
  c.faults.forEach((f, i) => {
    try {
      FaultSchema.parse(parseFault(f));
    } catch (e) {
      throw new InputError(`${source}: faults.${i}: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  return c;
}

export function loadTrainConfig(file: string): TrainConfig {
  if (!fs.existsSync(file)) throw new InputError(`--config: '${file}' does not exist`);
  let raw: unknown;
  try {
    raw = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`--config: '${file}' is not valid YAML: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  return parseTrainConfig(raw, file);
}
