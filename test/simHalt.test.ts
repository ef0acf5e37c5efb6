/**
 * Issue #29 item 3: a virtual-clock run with real compute halts at its next work item — inside a
 * generation, before an optimizer update, inside an evaluation, or between events — writes a
 * checkpoint holding the state from before the abandoned event, and a resume from it reaches the
 * uninterrupted run's bytes and weights.
 */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { defaultSettings, runVirtual } from '../src/sim/run.js';
import type { Compute } from '../src/sim/compute.js';
import { freshDir, jitteryProfile, simConfig } from './helpers/sim.js';

const FIXED = { stages: [{ difficulty: 3, budgetTokens: 24, steps: 4 }] };
/** Issue #30: the curriculum actor on the virtual clock — buckets, then a measured budget per stage. */
const COUPLED = {
  kind: 'coupled',
  ladder: [24, 48],
  kappa: 1.2,
  k: 2,
  measure: { problems: 2, samples: 2 },
  pool: { difficulties: [3], perDifficulty: 6, samples: 4, k: 2, budgetTokens: 48 },
  stages: [
    { buckets: ['easy', 'medium'], steps: 2 },
    { buckets: ['medium', 'hard'], steps: 2 },
  ],
};
const cfg = (curriculum: object = FIXED) =>
  simConfig({
    staleness: { policy: 'one-step-off' },
    curriculum,
    eval: { every: 2, problems: 2, samples: 2, budgets: [24], ks: [1] },
  });
const settings = () => defaultSettings(jitteryProfile(), 4, { compute: 'real' });

/** The compute with `method` replaced by `around(call, nth)`: `call` runs the real method, `nth` counts from 1. */
function wrapMethod<M extends 'generate' | 'train' | 'evaluate' | 'measure'>(
  method: M,
  around: (call: () => unknown, nth: number) => unknown,
) {
  return (c: Compute): Compute => {
    let calls = 0;
    return new Proxy(c, {
      get(target, prop, recv) {
        const v = Reflect.get(target, prop, recv);
        if (prop !== method || typeof v !== 'function') return typeof v === 'function' ? v.bind(target) : v;
        return (...args: unknown[]) => around(() => v.apply(target, args), ++calls);
      },
    });
  };
}

/** Raises `halt` just before the n-th call of `method`, then lets the call run (and meet the check). */
function raiseAt(halt: Int32Array, method: 'generate' | 'train' | 'evaluate' | 'measure', n: number) {
  return wrapMethod(method, (call, nth) => {
    if (nth === n) Atomics.store(halt, 0, 1);
    return call();
  });
}

async function run(
  dir: string,
  o: {
    resume?: boolean;
    halt?: Int32Array;
    wrap?: (c: Compute) => Compute;
    onStep?: () => void;
    curriculum?: object;
  } = {},
) {
  const logs: string[] = [];
  const r = await runVirtual({
    onLog: (s) => logs.push(s),
    config: cfg(o.curriculum),
    settings: settings(),
    dir,
    resume: o.resume,
    halt: o.halt,
    wrapCompute: o.wrap,
    onStep: o.onStep,
  });
  const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
  return { ...r, logs, metrics: read('metrics.jsonl'), transitions: read('transitions.jsonl') };
}

describe('virtual clock: a halt between work items', () => {
  it('inside a generation, before an update, inside an evaluation and between events: each resumes to the same bytes and weights', async () => {
    const ref = await run(freshDir('halt-ref'));
    expect(ref.status).toBe('done');
    expect(ref.metrics).toContain('"type":"eval"');
    const cases: [string, (h: Int32Array) => Parameters<typeof run>[1], boolean][] = [
      ['generation 3', (h) => ({ halt: h, wrap: raiseAt(h, 'generate', 3) }), true],
      ['update 2', (h) => ({ halt: h, wrap: raiseAt(h, 'train', 2) }), true],
      ['evaluation 1', (h) => ({ halt: h, wrap: raiseAt(h, 'evaluate', 1) }), true],
      ['after step 1', (h) => ({ halt: h, onStep: () => Atomics.store(h, 0, 1) }), false],
    ];
    for (const [label, opts, inside] of cases) {
      const dir = freshDir('halt');
      const halt = new Int32Array(new SharedArrayBuffer(4));
      const halted = await run(dir, opts(halt));
      expect(halted.status, label).toBe('halted');
      // abandoned inside the call (not at a later boundary), or at the boundary after the step
      expect(
        halted.logs.some((l) => l.startsWith('halted inside event')),
        label,
      ).toBe(inside);
      // the checkpoint holds no more than the run had finished: its logs are a prefix of the reference's
      expect(ref.metrics.startsWith(halted.metrics), label).toBe(true);
      const resumed = await run(dir, { resume: true });
      expect(resumed.status, label).toBe('done');
      expect(resumed.metrics, label).toBe(ref.metrics);
      expect(resumed.transitions, label).toBe(ref.transitions);
      expect(resumed.summary.weightsSha256, label).toBe(ref.summary.weightsSha256);
    }
  }, 180_000);

  it('a coupled curriculum (issue #30): halted during a measurement or the next generation, it resumes to the same bytes and weights', async () => {
    const ref = await run(freshDir('halt-cur-ref'), { curriculum: COUPLED });
    expect(ref.status).toBe('done');
    const lines = ref.metrics
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type?: string; step: number });
    expect(lines.filter((l) => l.type === 'budget-choice').map((l) => l.step)).toEqual([0, 2]);
    expect(lines.filter((l) => l.type === 'buckets')).toHaveLength(1);
    const cases: [string, (h: Int32Array) => Parameters<typeof run>[1]][] = [
      ['stage 1 measurement', (h) => ({ halt: h, wrap: raiseAt(h, 'measure', 3), curriculum: COUPLED })],
      ['the buckets', (h) => ({ halt: h, wrap: raiseAt(h, 'measure', 1), curriculum: COUPLED })],
      ['generation 3', (h) => ({ halt: h, wrap: raiseAt(h, 'generate', 3), curriculum: COUPLED })],
    ];
    for (const [label, opts] of cases) {
      const dir = freshDir('halt-cur');
      const halt = new Int32Array(new SharedArrayBuffer(4));
      const halted = await run(dir, opts(halt));
      expect(halted.status, label).toBe('halted');
      expect(ref.metrics.startsWith(halted.metrics), label).toBe(true);
      const resumed = await run(dir, { resume: true, curriculum: COUPLED });
      expect(resumed.status, label).toBe('done');
      expect(resumed.metrics, label).toBe(ref.metrics);
      expect(resumed.transitions, label).toBe(ref.transitions);
      expect(resumed.summary.weightsSha256, label).toBe(ref.summary.weightsSha256);
    }
  }, 180_000);

  it("checks the learner's own count of what it trained against the ledger (issue #30: independent counters): an update that under-reports fails the run", async () => {
    let calls = 0;
    const underReport = wrapMethod('train', (call, nth) => {
      calls = nth;
      const stats = call() as Record<string, number>;
      return nth === 2 ? { ...stats, updateRollouts: stats.updateRollouts! - 1 } : stats;
    });
    await expect(run(freshDir('miscount'), { wrap: underReport })).rejects.toThrow(
      /the ledger says 16 rollouts trained, the learner trained 15/,
    );
    expect(calls).toBe(2); // it stopped at the update that miscounted
  }, 60_000);
});
