/** The loss settings' schemas (no tensors here: config validation loads this, not tfjs). See loss.ts. */
import { z } from 'zod';

const ratio = () => z.number().min(0).max(1e6);

/**
 * Masked importance sampling (issue #19): the behaviour weight π_prox/μ at one level, zeroed outside
 * [low, high]. Defaults by level are the peers' (docs/STALENESS.md "Corrections"): token = IcePop's
 * [0.5, 5], sequence = TRL's sequence mask (cap 3), geometric = SkyRL's geometric mask [0.99, 1.01].
 */
export const MASKED_DEFAULTS = {
  token: { low: 0.5, high: 5 },
  sequence: { low: 0, high: 3 },
  geometric: { low: 0.99, high: 1.01 },
} as const;
export type IsLevel = keyof typeof MASKED_DEFAULTS;

export const CorrectionSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }).strict(),
  z
    .object({
      kind: z.literal('tis'),
      c: z.number().positive().max(1e6),
      /** token (when absent): min(π_θ/μ, c) per token (PipelineRL); sequence: min(Π_t π_θ/μ, c) per rollout (VCPO's sequence TIS). */
      level: z.enum(['token', 'sequence']).optional(),
    })
    .strict(),
  z.object({ kind: z.literal('decoupled'), c: z.number().positive().max(1e6).optional() }).strict(),
  z
    .object({
      kind: z.literal('masked'),
      level: z.enum(['token', 'sequence', 'geometric']),
      low: ratio(),
      high: ratio(),
    })
    .strict()
    .refine((m) => m.low < m.high, { message: 'low must be below high', path: ['low'] }),
  z.object({ kind: z.literal('drop'), maxLag: z.number().int().min(0).max(1_000_000) }).strict(),
  /**
   * TOPR (Tapered Off-Policy REINFORCE, arXiv 2503.14286), per token: a token with A ≥ 0 keeps
   * weight 1 (plain REINFORCE), a token with A < 0 gets min(π_θ/μ, c) (c = 1 when absent); no clip.
   */
  z.object({ kind: z.literal('topr'), c: z.number().positive().max(1e6).optional() }).strict(),
  /**
   * Asymmetric clipping for stale negatives (what practitioners report fixes the collapse stale
   * negative samples cause): PPO's clipped ratio to μ, and for a token with A < 0 at least
   * `minLag` versions old (1 when absent) the objective is floored at high·A — dual-clip PPO's
   * bound, applied to stale negatives only — so a large ratio cannot push them down without limit.
   */
  z
    .object({
      kind: z.literal('asym-clip'),
      high: z.number().gt(1).max(1e6),
      minLag: z.number().int().min(0).max(1_000_000).optional(),
    })
    .strict(),
]);
export type Correction = z.infer<typeof CorrectionSchema>;

/** Whether a correction's PPO ratio is taken to π_prox (the learner at the batch's start) rather than μ. */
export const usesProximal = (c: Correction): boolean => c.kind === 'decoupled' || c.kind === 'masked';

export const LossConfigSchema = z.object({
  clipLow: z.number().min(0).max(1),
  clipHigh: z.number().min(0),
  klCoef: z.number().min(0),
  entropyCoef: z.number().min(0),
  negatives: z.enum(['keep', 'mask']),
  correction: CorrectionSchema,
  /** token-mean over the batch (e3, DAPO) or the mean over trajectories of each one's token mean (the p^k model). */
  aggregation: z.enum(['token-mean', 'seq-mean-token-mean']),
});
export type LossConfig = z.infer<typeof LossConfigSchema>;
