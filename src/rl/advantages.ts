/**
 * Group-normalised advantages (GRPO): within each group of G trajectories for the same prompt,
 * A_i = (r_i − mean(r)) / (std(r) + ε), std the population standard deviation. A group whose
 * rewards are all equal carries no signal: its advantages are exactly 0 and it is counted.
 */
export interface GroupAdvantages {
  advantages: Float64Array;
  groups: number;
  zeroAdvantageGroups: number;
}

export function groupAdvantages(rewards: ArrayLike<number>, groupSize: number, eps = 1e-6): GroupAdvantages {
  if (!Number.isInteger(groupSize) || groupSize < 1)
    throw new RangeError(`groupAdvantages: groupSize must be a positive integer, got ${groupSize}`);
  if (rewards.length % groupSize !== 0)
    throw new RangeError(`groupAdvantages: ${rewards.length} rewards do not split into groups of ${groupSize}`);
  const advantages = new Float64Array(rewards.length);
  const groups = rewards.length / groupSize;
  let zeroAdvantageGroups = 0;
  for (let g = 0; g < groups; g++) {
    const lo = g * groupSize;
    let mean = 0;
    for (let i = 0; i < groupSize; i++) mean += rewards[lo + i]!;
    mean /= groupSize;
    let allEqual = true;
    let variance = 0;
    for (let i = 0; i < groupSize; i++) {
      const d = rewards[lo + i]! - mean;
      variance += d * d;
      if (rewards[lo + i] !== rewards[lo]) allEqual = false;
    }
    if (allEqual) {
      zeroAdvantageGroups++;
      continue; // advantages stay 0
    }
    const std = Math.sqrt(variance / groupSize);
    for (let i = 0; i < groupSize; i++) advantages[lo + i] = (rewards[lo + i]! - mean) / (std + eps);
  }
  return { advantages, groups, zeroAdvantageGroups };
}

/**
 * REINFORCE with a baseline: A_i = r_i − b for every trajectory, b a constant (E3.md's p^k figure:
 * one trajectory per update, so a failure gets A = −b even when no trajectory has succeeded).
 */
export function baselineAdvantages(rewards: ArrayLike<number>, baseline: number): Float64Array {
  if (!Number.isFinite(baseline)) throw new RangeError(`baselineAdvantages: baseline must be finite, got ${baseline}`);
  return Float64Array.from(rewards, (r) => r - baseline);
}
