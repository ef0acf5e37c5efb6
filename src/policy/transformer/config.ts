import { z } from 'zod';

/** Shape of the tiny GPT. All fields are validated when a checkpoint or config is read. */
export const GptConfigSchema = z
  .object({
    vocabSize: z.number().int().min(2).max(65536),
    dModel: z.number().int().min(4).max(8192),
    nHeads: z.number().int().min(1).max(128),
    nLayers: z.number().int().min(1).max(96),
    contextLength: z.number().int().min(2).max(16384),
  })
  .refine((c) => c.dModel % c.nHeads === 0, { message: 'dModel must be divisible by nHeads', path: ['nHeads'] });

export type GptConfig = z.infer<typeof GptConfigSchema>;

/** The reference shape used by `e3sim bench` (issue #2, item 10). */
export const REFERENCE_SHAPE = { dModel: 128, nHeads: 4, nLayers: 2, contextLength: 128 } as const;
