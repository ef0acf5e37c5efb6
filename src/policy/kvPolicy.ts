/**
 * What a sampler does with its KV cache when new weights arrive mid-generation (in-flight
 * updates, staleness policy `inflight`; issue #19 item 6), `rollout.kv`, both clocks:
 *
 *   keep       the cache of earlier positions stays as the old weights computed it (PipelineRL;
 *              the default): later tokens come from new weights over a stale cache
 *   recompute  the prompt and the tokens so far are prefilled again under the new weights
 *              (NeMo-RL): later tokens are exactly the new policy's; earlier tokens keep their
 *              version and log-probs (the policy that sampled them)
 *   abort      the generation starts over at the new weights (SkyRL clears the cache on a weight
 *              sync), at most `abortsMax` times per request — then it keeps the cache
 *
 * `maskStalePrefix` takes the tokens of a rollout older than its newest version out of the loss
 * (counted as tokensMaskedStalePrefix). Metrics: inflightSwaps, inflightRecomputes, inflightAborts.
 */
import { z } from 'zod';

export const KvPolicySchema = z
  .object({
    onSwap: z.enum(['keep', 'recompute', 'abort']).default('keep'),
    abortsMax: z.number().int().min(0).max(16).default(4),
    maskStalePrefix: z.boolean().default(false),
  })
  .strict();
export type KvPolicy = z.infer<typeof KvPolicySchema>;
