/**
 * Overlong handling (issue #19 item 5; DAPO §3.4), one setting `rollout.overlong` for both clocks:
 *
 *   none   a rollout cut at the token budget is scored like any other (incorrect: reward 0)
 *   mask   "overlong filtering": its tokens are masked out of the loss (it still counts in its
 *          group's advantage baseline); counted as tokensMaskedOverlong
 *   soft   "soft overlong punishment": reward += −penalty · (|y| − (B − buffer)) / buffer when
 *          |y| > B − buffer, B the step's token budget — so a rollout that reaches the budget loses
 *          `penalty`, and one within `buffer` tokens of it a linear share
 *
 * B is the stage's budget, which the coupled curriculum moves (E3.md): the punishment zone moves
 * with it.
 */
import { z } from 'zod';

export const OverlongSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }).strict(),
  z.object({ kind: z.literal('mask') }).strict(),
  z
    .object({
      kind: z.literal('soft'),
      /** L_cache: the tokens before the budget over which the penalty grows from 0 to `penalty`. */
      buffer: z.number().int().min(1).max(100_000),
      penalty: z.number().min(0).max(100).default(1),
    })
    .strict(),
]);
export type Overlong = z.infer<typeof OverlongSchema>;

/** The length penalty (≤ 0) of a completion of `length` tokens under budget `budget`. */
export function overlongPenalty(length: number, budget: number, o: Overlong | undefined): number {
  if (o?.kind !== 'soft') return 0;
  const start = budget - o.buffer;
  if (length <= start) return 0;
  return (-o.penalty * Math.min(length - start, o.buffer)) / o.buffer;
}

/** Whether a rollout's tokens leave the loss: `mask` and a completion cut at the budget. */
export const overlongMasked = (stop: 'eos' | 'budget', o: Overlong | undefined): boolean =>
  o?.kind === 'mask' && stop === 'budget';
