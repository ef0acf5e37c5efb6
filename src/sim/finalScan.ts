/**
 * The virtual clock's last check (engine.run, when the run is done): a full scan of the dense
 * ledger — every rollout of every planned slot accounted exactly once, and a backfill slot
 * (core/dynamicSampling) generated exactly when the group before it in its chain was filtered.
 */
import { DISPOSITION_CODE } from '../core/staleness.js';
import type { SimEngine } from './engine.js';

export function finalScan(sim: SimEngine): void {
  const acc = sim.accounting;
  const { perStep: P, G } = sim;
  const FILTERED = DISPOSITION_CODE['dropped-filtered'];
  for (let step = 1; step <= sim.o.maxSteps; step++) {
    for (let slot = 0; slot < sim.slotsPerStep; slot++) {
      const base = sim.rolloutIndex(step, slot, 0);
      const at = `step ${step} slot ${slot}`;
      let owed = slot < P; // a plan's slot is always generated
      if (!owed) {
        const pred = sim.rolloutIndex(step, slot - P, 0);
        let filtered = false,
          invalid = 0;
        for (let j = 0; j < G; j++) {
          if (acc[pred + j] === FILTERED) filtered = true;
          else if (acc[pred + j] === DISPOSITION_CODE['dropped-invalid']) invalid++;
        }
        owed = filtered;
        // a group of invalid rollouts only may have been filtered or not: both are consistent
        if (!owed && invalid === G && acc[base] !== 0) owed = true;
        if (!owed && acc[base] !== 0)
          sim.fail(`rollout ${at}/0 backfilled, but the group before it in its chain was not filtered`);
      }
      if (!owed) continue;
      for (let j = 0; j < G; j++) {
        const a = acc[base + j]!;
        if (a < 2)
          sim.fail(`rollout ${at}/${j} ${a === 0 ? 'never generated' : 'generated but never trained or dropped'}`);
      }
    }
  }
}
