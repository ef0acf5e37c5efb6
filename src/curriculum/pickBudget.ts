/**
 * The coupled curriculum's budget rule (E3.md, Ingredient 3):
 *
 *   B* = the smallest B ≥ B0 in the ladder with J(2B) ≤ κ · J(B)
 *
 * i.e. the smallest budget at which doubling it gains at most κ×. J is measured performance
 * (the paper's Countdown example: pass@128) at each budget of the ladder.
 *
 * Edge cases (the paper does not say; these are our choices):
 * - B qualifies only if J(B) > 0: with J(B) = 0 the ratio J(2B)/J(B) is undefined (both 0: no
 *   signal at all; J(2B) > 0: an infinite gain), so it is never "saturated".
 * - B can only be judged when 2B was measured; the ladder's top budget(s) without a doubled
 *   partner never qualify.
 * - When no budget qualifies (still gaining more than κ× at every doubling, or no signal), the
 *   rule returns the largest ladder budget ≥ B0 — explore as long as the ladder allows — with
 *   reason `none-qualified`, or `all-zero` when every J is 0.
 * - B0 above the whole ladder: the largest ladder budget, reason `min-above-ladder`.
 */
export interface BudgetChoice {
  budget: number;
  reason: 'rule' | 'none-qualified' | 'all-zero' | 'min-above-ladder';
  /** J(2B)/J(B) per budget B that has a doubled partner (null when J(B) = 0). */
  ratios: { budget: number; ratio: number | null }[];
}

export function pickBudget(
  ladder: readonly number[],
  scores: readonly number[],
  kappa: number,
  minBudget: number,
): BudgetChoice {
  if (ladder.length === 0 || ladder.length !== scores.length)
    throw new RangeError(`pickBudget: ${ladder.length} budgets and ${scores.length} scores`);
  if (!(kappa >= 1)) throw new RangeError(`pickBudget: kappa must be ≥ 1, got ${kappa}`);
  const order = ladder.map((b, i) => ({ b, j: scores[i]! })).sort((x, y) => x.b - y.b);
  const J = new Map(order.map((x) => [x.b, x.j]));
  const ratios = order
    .filter((x) => J.has(2 * x.b))
    .map((x) => ({ budget: x.b, ratio: x.j > 0 ? J.get(2 * x.b)! / x.j : null }));
  const eligible = order.filter((x) => x.b >= minBudget);
  if (eligible.length === 0) return { budget: order.at(-1)!.b, reason: 'min-above-ladder', ratios };
  for (const { b, j } of eligible) {
    const j2 = J.get(2 * b);
    if (j2 !== undefined && j > 0 && j2 <= kappa * j) return { budget: b, reason: 'rule', ratios };
  }
  return { budget: eligible.at(-1)!.b, reason: order.every((x) => x.j === 0) ? 'all-zero' : 'none-qualified', ratios };
}
