/**
 * The virtual clock on the cpu backend (its own file: a process runs one backend): the same seed
 * and config give byte-identical metrics, transitions and weights, across a halt and resume too.
 */
import { describe, expect, it } from 'vitest';
import { freshDir, jitteryProfile, simConfig, simRun } from './helpers/sim.js';

describe('virtual clock, real compute (cpu backend)', () => {
  it('replays byte for byte, and a halted run resumes to the same bytes and weights', async () => {
    const cfg = () =>
      simConfig({
        backend: 'cpu',
        staleness: { policy: 'one-step-off' },
        curriculum: { stages: [{ difficulty: 3, budgetTokens: 24, steps: 3 }] },
      });
    const settings = { compute: 'real' as const, profile: jitteryProfile(), maxSteps: 3 };
    const a = await simRun(cfg(), settings);
    expect(a.summary.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
    // The halted run replays a's start from the seed (its lines up to the halt are its own), and the
    // resumed one its rest: equal bytes check the replay and the resume at once (a second
    // uninterrupted run, 12 s of the cpu backend, checked nothing more).
    const dir = freshDir('cpu-halt');
    expect((await simRun(cfg(), settings, { dir, halt: true })).status).toBe('halted');
    const r = await simRun(cfg(), settings, { dir, resume: true });
    expect(r.metrics).toBe(a.metrics);
    expect(r.transitions).toBe(a.transitions);
    expect(r.summary.weightsSha256).toBe(a.summary.weightsSha256);
  });
});
