import { z } from 'zod';

/** Shape of the tiny GPT. All fields are validated when a checkpoint or config is read. */
export const GptConfigSchema = z
  .object({
    vocabSize: z.number().int().min(2).max(65536),
    dModel: z.number().int().min(4).max(8192),
    nHeads: z.number().int().min(1).max(128),
    nLayers: z.number().int().min(1).max(96),
    contextLength: z.number().int().min(2).max(16384),
    /**
     * How the model knows positions. `learned` (absent: every checkpoint before base v6): one
     * learned embedding per position of the context. `rope`: rotary embeddings in every attention
     * layer (relative positions, as Qwen3 and Llama) plus learned embeddings for the first
     * ROPE_ABSOLUTE positions only, later positions sharing the last one — the prompt keeps its
     * absolute places, and an attempt late in the context looks to the model like an early one
     * (issue #28: learned positions trained mostly on early attempts wrote late attempts with
     * numbers the problem does not have).
     */
    positions: z.enum(['learned', 'rope']).optional(),
    /**
     * With `rope`: how many dimensions of each head rotate (even; absent: all of them). The rest
     * carry no position at all, so a head can find a token by its content at any distance — GPT-NeoX's
     * and GPT-J's partial rotary (rotary_pct). Issue #28: with every dimension rotating, the base
     * never learned its verdict (✓ as often after a wrong value as after the target), which
     * needs the prompt's target from anywhere in the trace.
     */
    ropeDims: z.number().int().min(2).max(1024).optional(),
  })
  .refine((c) => c.dModel % c.nHeads === 0, { message: 'dModel must be divisible by nHeads', path: ['nHeads'] })
  .refine((c) => c.positions !== 'rope' || (c.dModel / c.nHeads) % 2 === 0, {
    message: 'rope needs an even head size (dModel / nHeads)',
    path: ['positions'],
  })
  .refine((c) => c.ropeDims === undefined || c.positions === 'rope', {
    message: 'ropeDims needs positions: rope',
    path: ['ropeDims'],
  })
  .refine((c) => c.ropeDims === undefined || (c.ropeDims % 2 === 0 && c.ropeDims <= c.dModel / c.nHeads), {
    message: 'ropeDims must be even and at most the head size (dModel / nHeads)',
    path: ['ropeDims'],
  });

export type GptConfig = z.infer<typeof GptConfigSchema>;

/** Learned absolute positions kept by a `rope` model (the longest prompt, 6 numbers, is 10 tokens). */
export const ROPE_ABSOLUTE = 16;
/** RoPE's base frequency (Su et al.; Llama's 10,000). */
export const ROPE_BASE = 10_000;

/** Rows of the learned position table: the context, or ROPE_ABSOLUTE for `rope`. */
export function positionRows(c: GptConfig): number {
  return c.positions === 'rope' ? Math.min(ROPE_ABSOLUTE, c.contextLength) : c.contextLength;
}
