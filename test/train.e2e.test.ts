/**
 * End-to-end `e3sim train` runs in worker threads (the real topology on the shipped base model):
 * every staleness policy keeps its invariants, the coupled curriculum records its decisions, and
 * bad configs exit 2 naming the field. Faults, checkpoints and resume: supervision.e2e.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { setThreadBundle, threadBundleDir } from '../src/runtime/bundle.js';
import { SMOKE, checkInvariants, config, metricsOf, summaryOf, tmp, train, type Summary } from './helpers/train.js';

let baseline: Summary;
beforeAll(async () => {
  const r = await train('--config', config('base'), '--out', path.join(tmp, 'base'));
  expect(r.code, r.err).toBe(0);
  expect(r.out).toMatch(
    new RegExp(`next: e3sim report ${path.join(tmp, 'base').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
  ); // the next step, named
  baseline = checkInvariants(path.join(tmp, 'base'), 4);
  // The evaluator ran at the last step on held-out problems, at every configured budget.
  const ev = (
    baseline as unknown as {
      eval: { step: number; rows: { budget: number; passAt: Record<string, number>; correct: number[] }[] };
    }
  ).eval;
  expect(ev.step).toBe(4);
  expect(ev.rows.map((r) => r.budget)).toEqual(SMOKE.eval.budgets);
  // Each pass@k is the unbiased estimator over the per-problem correct counts c of n samples,
  // 1 − C(n − c, k) / C(n, k), averaged over the problems: recomputed here from the counts.
  const n = SMOKE.eval.samples;
  const choose = (a: number, b: number) => {
    let x = 1;
    for (let i = 0; i < b; i++) x = (x * (a - i)) / (i + 1);
    return a < b ? 0 : x;
  };
  for (const r of ev.rows) {
    expect(r.correct).toHaveLength(SMOKE.eval.problems);
    for (const c of r.correct) expect(Number.isInteger(c) && c >= 0 && c <= n).toBe(true);
    for (const [k, got] of Object.entries(r.passAt)) {
      const want =
        r.correct.reduce((a, c) => a + 1 - choose(n - c, Number(k)) / choose(n, Number(k)), 0) / r.correct.length;
      expect(got).toBeCloseTo(want, 12);
    }
  }
}, 180_000);

describe('e3sim train, each staleness policy', () => {
  it.each([
    ['one-step-off', { staleness: { policy: 'one-step-off' }, learner: { correction: { kind: 'tis', c: 2 } } }, 1],
    [
      'async',
      {
        staleness: { policy: 'async', eta: 2 },
        topology: { samplers: 2, verifierThreads: 1 },
        learner: { correction: { kind: 'decoupled', c: 2 } },
      },
      2,
    ],
    [
      'inflight',
      {
        staleness: { policy: 'inflight', eta: 1 },
        topology: { samplers: 2, verifierThreads: 1 },
        learner: { correction: { kind: 'drop', maxLag: 0 } },
      },
      1,
    ],
  ] as const)(
    '%s keeps every rollout accounted and staleness within %s',
    async (name, over, bound) => {
      const dir = path.join(tmp, name);
      const r = await train('--config', config(name, over), '--out', dir);
      expect(r.code, r.err).toBe(0);
      const s = checkInvariants(dir, 4);
      expect(s.stalenessBound).toBe(bound);
      if (name === 'inflight') expect(s.rolloutsDroppedStale).toBe(s.rolloutsGenerated - s.rolloutsTrained); // drop past lag 0
    },
    180_000,
  );

  it('sync is reproducible: the same seed gives the same weights, with worker threads from the source (tsx) or the bundle', async () => {
    expect(baseline.stalenessMax).toBe(0);
    // The suite's in-process runs start their threads from its bundle (test/helpers/cli.ts); this
    // one starts them from the TypeScript entries through tsx (actors/boot.mjs), as `npm start` does.
    const bundle = threadBundleDir();
    expect(bundle).not.toBeNull();
    setThreadBundle(null);
    try {
      const r = await train('--config', config('base2'), '--out', path.join(tmp, 'base2'));
      expect(r.code, r.err).toBe(0);
    } finally {
      setThreadBundle(bundle);
    }
    expect(summaryOf(path.join(tmp, 'base2')).weightsSha256).toBe(baseline.weightsSha256);
  }, 180_000);
});

describe('the coupled curriculum', () => {
  it('buckets the pool on the base model, picks each stage budget by the rule, and records every decision', async () => {
    const dir = path.join(tmp, 'coupled');
    const r = await train(
      '--config',
      config('coupled', {
        curriculum: {
          kind: 'coupled',
          ladder: [16, 32, 64],
          k: 2,
          measure: { problems: 4, samples: 4 },
          pool: { difficulties: [3, 4], perDifficulty: 6, samples: 4, k: 4, budgetTokens: 64 },
          stages: [
            { buckets: ['easy'], steps: 2 },
            { buckets: ['medium', 'hard'], steps: 2 },
          ],
        },
      }),
      '--out',
      dir,
    );
    expect(r.code, r.err).toBe(0);
    checkInvariants(dir, 4);
    const lines = metricsOf(dir).filter((x) => ['buckets', 'budget-choice', 'stage'].includes(x.type));
    expect(lines.map((x) => x.type)).toEqual(['buckets', 'budget-choice', 'stage', 'budget-choice']);
    const choices = lines.filter((x) => x.type === 'budget-choice');
    for (const c of choices) {
      expect(c.ladder).toEqual([16, 32, 64]);
      expect([16, 32, 64]).toContain(c.budget);
      expect(['rule', 'none-qualified', 'all-zero', 'min-above-ladder']).toContain(c.reason);
    }
    // Each trained step ran at its stage's chosen budget, on its stage's buckets.
    const steps = metricsOf(dir).filter((x) => x.type === undefined);
    expect(steps.map((x) => x.budgetTokens)).toEqual([
      choices[0].budget,
      choices[0].budget,
      choices[1].budget,
      choices[1].budget,
    ]);
    expect(steps.map((x) => x.buckets.join('+'))).toEqual(['easy', 'easy', 'medium+hard', 'medium+hard']);
    const buckets = JSON.parse(fs.readFileSync(path.join(dir, 'buckets.json'), 'utf8'));
    expect(buckets.summary.reduce((n: number, b: { problems: number }) => n + b.problems, 0)).toBe(12);
    const stageChanges = fs
      .readFileSync(path.join(dir, 'transitions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((t) => t.actor === 'curriculum')
      .map((t) => t.to);
    expect(stageChanges).toEqual(['measuring', 'running', 'measuring', 'running', 'finished']);
  }, 180_000);
});

describe('bad input', () => {
  it.each([
    [['--config', '/nonexistent.yaml'], /--config: '\/nonexistent\.yaml' does not exist/],
    [[], /--config: required/],
    [
      ['--config', 'examples/smoke.yaml', '--inject', 'crash:gpu@step=1'],
      /--inject: 'crash:gpu@step=1': expected crash:ROLE@step=N/,
    ],
    [
      ['--config', 'examples/smoke.yaml', '--max-steps', '0', '--out', path.join(tmp, 'never')],
      /--max-steps: expected an integer in 1\.\./,
    ],
    [['--resume', '/nonexistent-run'], /--resume: '\/nonexistent-run' has no config\.json/],
    // The machine around the run directory (issue #29 item 4): one line naming the path and the errno.
    [['--config', 'examples/smoke.yaml', '--out', path.join(tmp, 'a-file')], /--out: '.*a-file' is a file/],
    [
      ['--config', 'examples/smoke.yaml', '--out', path.join(tmp, 'a-file', 'run')],
      /a-file\/run: cannot use it as a run directory: a path component is a file, not a directory \(ENOTDIR\)/,
    ],
  ])('exits 2 naming the input: %s', async (args, message) => {
    fs.writeFileSync(path.join(tmp, 'a-file'), '');
    const r = await train(...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('exits 2 naming the field of a bad config', async () => {
    const file = path.join(tmp, 'bad.yaml');
    fs.writeFileSync(file, YAML.stringify({ ...SMOKE, staleness: { policy: 'async', eta: -1 } }));
    const r = await train('--config', file, '--out', path.join(tmp, 'bad'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad\.yaml: staleness\.eta: Too small/);
    expect(fs.existsSync(path.join(tmp, 'bad'))).toBe(false);
  });
});
