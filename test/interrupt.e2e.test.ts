/**
 * Crash consistency on the real clock (issue #17): five seeded interruptions — SIGINT or SIGKILL
 * at random moments of a sync run, some interrupted again during the resume — each resumed
 * until done, must end with the uninterrupted run's weights, accounting, staleness per step,
 * each step once in metrics.jsonl, and logs that parse. The 20-interruption version is
 * bench/interrupt-stress.ts (docs/TRAIN.md "Crash consistency").
 */
import { describe, expect, it } from 'vitest';
import { runStress, stressTable } from '../src/bench/interruptStress.js';
import { E3SIM } from './helpers/bin.js';

describe('interruptions', () => {
  it('SIGINT and SIGKILL at seeded moments, then --resume: the same run as never interrupted', async () => {
    // with dynamic sampling: an interruption also finds backfills in flight and filtered groups held
    const r = await runStress({ bin: E3SIM, trials: 5, seed: 3, steps: 3, dynamicSampling: { backfillRounds: 2 } });
    const table = stressTable(r);
    expect(
      r.trials.filter((t) => !t.ok),
      table,
    ).toEqual([]);
    expect(
      r.trials.some((t) => t.resumes > 0),
      table,
    ).toBe(true); // at least one trial was really interrupted
  }, 600_000);
});
