/**
 * The messages between actors: plain JSON-safe objects with a `type`, each with a zod schema
 * (validated where they cross a thread). Weights are the one exception: they travel as a
 * transferred ArrayBuffer beside the message (see weights.ts).
 *
 * A rollout's id is `${step}/${problemId}/${sampleIndex}`: `step` is the learner step that will
 * train it, so every id is known before it is generated and accounted exactly once.
 */
import { z } from 'zod';
import { MismatchSchema } from '../policy/mismatch.js';
import { KvPolicySchema } from '../policy/kvPolicy.js';

export const ProblemSchema = z.object({
  id: z.string(),
  numbers: z.array(z.number().int()),
  target: z.number().int(),
  difficulty: z.number().int(),
});

export const GenerateSchema = z.object({
  type: z.literal('Generate'),
  requestId: z.string(),
  /** The learner step whose batch these groups belong to. */
  step: z.number().int().min(1),
  problems: z.array(ProblemSchema).min(1),
  groupSize: z.number().int().min(1),
  budgetTokens: z.number().int().min(1),
  temperature: z.number().positive(),
  /** Lowest policy version allowed to sample this request (admission control). */
  minVersion: z.number().int().min(0),
  /** Swap weights between tokens when a newer version arrives (PipelineRL in-flight updates). */
  inflight: z.boolean(),
  seed: z.number().int(),
  fault: z.enum(['crash', 'hang']).nullable(),
  slowFactor: z.number().min(1),
  /** Milliseconds added to the work (`slow:ROLE=+MSms`). */
  slowMs: z.number().int().min(0).max(600_000).default(0),
  /** rollout.mismatch: the sampler's perturbation of the policy (policy/mismatch.ts); absent = exact. */
  mismatch: MismatchSchema.optional(),
  /** rollout.kv: the KV cache on an in-flight weight swap (policy/kvPolicy.ts); absent = keep. */
  kv: KvPolicySchema.optional(),
});
export type Generate = z.infer<typeof GenerateSchema>;

export const RolloutSchema = z.object({
  id: z.string(),
  problemId: z.string(),
  sampleIndex: z.number().int().min(0),
  prompt: z.array(z.number().int()),
  completion: z.array(z.number().int()),
  behaviourLogprobs: z.array(z.number()),
  /** Policy version that sampled each completion token. */
  versions: z.array(z.number().int().min(0)),
  stop: z.enum(['eos', 'budget']),
});
export type Rollout = z.infer<typeof RolloutSchema>;

export const RolloutsSchema = z.object({
  type: z.literal('Rollouts'),
  requestId: z.string(),
  samplerId: z.string(),
  step: z.number().int().min(1),
  rollouts: z.array(RolloutSchema),
  generatedTokens: z.number().int().min(0),
  computeMs: z.number().min(0),
  /** Weight swaps applied between tokens (inflight only). */
  swaps: z.number().int().min(0),
  /** Of those, the ones that recomputed the KV cache / started the generation over (rollout.kv). */
  recomputes: z.number().int().min(0).default(0),
  aborts: z.number().int().min(0).default(0),
  /** Live tensors in the sampler's thread after the request (must stay flat across requests). */
  numTensors: z.number().int().min(0),
});
export type Rollouts = z.infer<typeof RolloutsSchema>;

export const VerdictSchema = z.object({
  correct: z.boolean(),
  reason: z.string(),
  attempts: z.number().int().min(0),
  selfChecks: z.number().int().min(0),
});
export type VerdictMsg = z.infer<typeof VerdictSchema>;

/** A whole group (one problem, G rollouts) after verification and grading. */
export interface ScoredGroup {
  type: 'ScoredGroup';
  step: number;
  problemId: string;
  rollouts: Rollout[];
  verdicts: VerdictMsg[];
  rewards: number[];
  advantages: number[];
  /** Rollouts whose verification failed every attempt (dropped-invalid; not trained). */
  invalid: boolean[];
}

export interface TrainBatch {
  type: 'TrainBatch';
  step: number;
  learnerVersion: number;
  groups: ScoredGroup[];
}

export const TrainStatsSchema = z.object({
  loss: z.number(),
  policyLoss: z.number(),
  klLoss: z.number(),
  entropyBonus: z.number(),
  kl: z.number(),
  entropy: z.number(),
  clipFracLow: z.number(),
  clipFracHigh: z.number(),
  isWeightMean: z.number(),
  isWeightMax: z.number(),
  tokens: z.number(),
  tokensMaskedNegative: z.number(),
  tokensDroppedStale: z.number(),
  lagMax: z.number(),
  gradNorm: z.number(),
  optimizerSteps: z.number().int().optional(),
  /** Rollouts the update trained on, by the learner's own count. */
  updateRollouts: z.number().int().min(0),
  computeMs: z.number(),
  numTensors: z.number().int(),
});
export type TrainStats = z.infer<typeof TrainStatsSchema>;

export function rolloutId(step: number, problemId: string, sampleIndex: number): string {
  return `${step}/${problemId}/${sampleIndex}`;
}
