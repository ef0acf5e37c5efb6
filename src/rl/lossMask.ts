/**
 * Which tokens reach the loss: the exclusions marked upstream (overlong, stale prefix), the
 * drop-past-lag correction and GRPOMask's negatives, counted for the step's metrics (loss.ts).
 */
import type { LossConfig, TokenData } from './loss.js';

/** Reasons a token leaves the loss before the correction sees it: TokenData.exclude codes. */
export const EXCLUDED = { overlong: 1, stalePrefix: 2 } as const;

/** Effective mask after GRPOMask and the drop-past-lag rule, with counts. */
export function effectiveMask(
  d: TokenData,
  cfg: LossConfig,
): {
  mask: Float32Array;
  maskedNegative: number;
  droppedStale: number;
  maskedOverlong: number;
  maskedStalePrefix: number;
  lagMax: number;
} {
  const mask = d.mask.slice();
  let maskedNegative = 0;
  let maskedOverlong = 0;
  let maskedStalePrefix = 0;
  let droppedStale = 0;
  let lagMax = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    const lag = d.versions && d.learnerVersion !== undefined ? d.learnerVersion - d.versions[i]! : 0;
    if (lag > lagMax) lagMax = lag;
    const why = d.exclude?.[i] ?? 0;
    if (why !== 0) {
      mask[i] = 0;
      if (why === EXCLUDED.overlong) maskedOverlong++;
      else maskedStalePrefix++;
    } else if (cfg.correction.kind === 'drop' && lag > cfg.correction.maxLag) {
      mask[i] = 0;
      droppedStale++;
    } else if (cfg.negatives === 'mask' && d.advantages[i]! < 0) {
      mask[i] = 0;
      maskedNegative++;
    }
  }
  return { mask, maskedNegative, droppedStale, maskedOverlong, maskedStalePrefix, lagMax };
}
