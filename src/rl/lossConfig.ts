/** The loss settings' schemas (no tensors here: config validation loads this, not tfjs). See loss.ts. */
import { z } from 'zod';

export const CorrectionSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }),
  z.object({ kind: z.literal('tis'), c: z.number().positive().max(1e6) }),
  z.object({ kind: z.literal('decoupled'), c: z.number().positive().max(1e6).optional() }),
  z.object({ kind: z.literal('drop'), maxLag: z.number().int().min(0).max(1_000_000) }),
]);
export type Correction = z.infer<typeof CorrectionSchema>;

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
