/**
 * End-to-end `e3sim train` runs in worker threads (the real topology on the shipped base model):
 * every staleness policy keeps its invariants, crashes and hangs are survived with nothing lost,
 * an interrupted run resumes to the same weights, and bad configs exit 2 naming the field.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';

const BIN = path.resolve('bin/e3sim.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-train-'));
const SMOKE = YAML.parse(fs.readFileSync('examples/smoke.yaml', 'utf8'));

function config(name: string, over: Record<string, unknown> = {}): string {
  const file = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(file, YAML.stringify({ ...SMOKE, name, backend: 'wasm', ...over }));
  return file;
}

function train(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'train', '--quiet', ...args], { encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface Summary {
  steps: number;
  rolloutsGenerated: number;
  rolloutsTrained: number;
  rolloutsDroppedStale: number;
  rolloutsDroppedInvalid: number;
  rolloutsLost: number;
  stalenessMax: number;
  stalenessBound: number;
  restarts: number;
  finalVersion: number;
  weightsSha256: string;
  transitions: number;
  faultsFired: string[];
  replayMismatches: number;
  interrupted: boolean;
}
const summaryOf = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as Summary;
const metricsOf = (dir: string) =>
  fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

function checkInvariants(dir: string, steps: number): Summary {
  const s = summaryOf(dir);
  expect(s.steps).toBe(steps);
  expect(s.finalVersion).toBe(steps);
  expect(s.rolloutsLost).toBe(0);
  expect(s.rolloutsGenerated).toBe(s.rolloutsTrained + s.rolloutsDroppedStale + s.rolloutsDroppedInvalid);
  expect(s.rolloutsGenerated).toBe(steps * SMOKE.rollout.problemsPerStep * SMOKE.rollout.groupSize);
  expect(s.stalenessMax).toBeLessThanOrEqual(s.stalenessBound);
  const m = metricsOf(dir).filter((x) => x.type === undefined);
  expect(m.map((x) => x.step)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
  // Tensors stay flat in every worker after the first step.
  expect(new Set(m.slice(1).map((x) => x.learnerNumTensors)).size).toBe(1);
  for (const id of Object.keys(m.at(-1).samplerNumTensors))
    expect(
      new Set(
        m
          .slice(1)
          .map((x) => x.samplerNumTensors[id])
          .filter((x) => x !== undefined),
      ).size,
    ).toBe(1);
  const roles = new Set(
    fs
      .readFileSync(path.join(dir, 'transitions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).role),
  );
  for (const r of [
    'coordinator',
    'sampler',
    'verifier',
    'grader',
    'batcher',
    'learner',
    'weightStore',
    'curriculum',
    'supervisor',
    'evaluator',
  ])
    expect(roles).toContain(r);
  return s;
}

let baseline: Summary;
beforeAll(() => {
  const r = train('--config', config('base'), '--out', path.join(tmp, 'base'));
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
    (name, over, bound) => {
      const dir = path.join(tmp, name);
      const r = train('--config', config(name, over), '--out', dir);
      expect(r.code, r.err).toBe(0);
      const s = checkInvariants(dir, 4);
      expect(s.stalenessBound).toBe(bound);
      if (name === 'inflight') expect(s.rolloutsDroppedStale).toBe(s.rolloutsGenerated - s.rolloutsTrained); // drop past lag 0
    },
    180_000,
  );

  it('sync is reproducible: the same seed gives the same weights', () => {
    expect(baseline.stalenessMax).toBe(0);
    const r = train('--config', config('base2'), '--out', path.join(tmp, 'base2'));
    expect(r.code, r.err).toBe(0);
    expect(summaryOf(path.join(tmp, 'base2')).weightsSha256).toBe(baseline.weightsSha256);
  }, 180_000);
});

describe('the coupled curriculum', () => {
  it('buckets the pool on the base model, picks each stage budget by the rule, and records every decision', () => {
    const dir = path.join(tmp, 'coupled');
    const r = train(
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

describe('supervision', () => {
  it.each([
    ['crash:sampler@step=3'],
    ['crash:verifier@step=2'],
    ['crash:learner@step=3'],
    ['hang:sampler@step=2'],
    ['hang:verifier@step=2'],
    ['hang:learner@step=4'],
    ['crash:grader@step=2'],
    ['hang:grader@step=3'],
  ])(
    'survives %s: the run completes, nothing lost, the restart counted, same weights as without the fault',
    (fault) => {
      const dir = path.join(tmp, fault.replace(/[^a-z0-9]/g, '-'));
      const r = train(
        '--config',
        config(`f-${fault.replace(/[^a-z0-9]/g, '-')}`, {
          limits: { samplerTimeoutMs: 6000, verifierTimeoutMs: 1500, learnerTimeoutMs: 6000 },
        }),
        '--out',
        dir,
        '--inject',
        fault,
      );
      expect(r.code, r.err).toBe(0);
      const s = checkInvariants(dir, 4);
      expect(s.restarts).toBe(1);
      expect(s.faultsFired).toHaveLength(1);
      expect(s.replayMismatches).toBe(0);
      expect(s.weightsSha256).toBe(baseline.weightsSha256);
    },
    180_000,
  );

  it.each([['real'], ['virtual']])(
    'an invariant broken inside batch forming aborts the %s clock the same way: exit 1 naming it, last checkpoint kept',
    (clock) => {
      const dir = path.join(tmp, `broken-${clock}`);
      const r = train(
        '--config',
        config(`broken-${clock}`),
        '--out',
        dir,
        '--clock',
        clock,
        '--inject',
        'break:batch@step=3',
      );
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(/invariant broken in batch forming of step 3 \(injected: break:batch@step=3\)/);
      // the smoke config checkpoints every 2 steps: step 2's checkpoint is the last, and it is whole
      const ck = path.join(dir, 'checkpoints');
      expect(fs.readFileSync(path.join(ck, 'latest'), 'utf8').trim()).toBe('step-2');
      expect(fs.existsSync(path.join(ck, 'step-2'))).toBe(true);
      expect(fs.readdirSync(ck).filter((d) => d.startsWith('step-') && d > 'step-2')).toEqual([]);
    },
    180_000,
  );

  it('weight publications late or lost (then sent again) change the timing, never the result', () => {
    const dir = path.join(tmp, 'publications');
    const r = train(
      '--config',
      config('publications'),
      '--out',
      dir,
      '--inject',
      'delay:publication@version=1=400ms',
      '--inject',
      'drop:publication@version=3',
    );
    expect(r.code, r.err).toBe(0);
    const s = checkInvariants(dir, 4);
    expect(s.faultsFired.sort()).toEqual(['delay-publication@1', 'drop-publication@3']);
    expect(s.restarts).toBe(0);
    expect(s.weightsSha256).toBe(baseline.weightsSha256);
  }, 180_000);
});

describe('checkpoints and resume', () => {
  it('SIGINT writes a checkpoint; --resume finishes with the same steps, accounting and weights', async () => {
    const dir = path.join(tmp, 'interrupted');
    const child = spawn(process.execPath, [BIN, 'train', '--quiet', '--config', config('interrupted'), '--out', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const metrics = path.join(dir, 'metrics.jsonl');
    for (let i = 0; i < 600 && !(fs.existsSync(metrics) && fs.readFileSync(metrics, 'utf8').length > 0); i++)
      await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code, err).toBe(130);
    const first = summaryOf(dir);
    expect(first.interrupted).toBe(true);
    expect(first.steps).toBeLessThan(4);
    expect(fs.readFileSync(path.join(dir, 'checkpoints', 'latest'), 'utf8').trim()).toBe(`step-${first.steps}`);
    // A hand-edited config.json is refused, naming the fields, not mixed into the resumed run (issue #29).
    const cfgFile = path.join(dir, 'config.json');
    const saved = fs.readFileSync(cfgFile, 'utf8');
    const edited = JSON.parse(saved);
    fs.writeFileSync(cfgFile, JSON.stringify({ ...edited, seed: 5, learner: { ...edited.learner, lr: 1e-3 } }));
    const refused = train('--resume', dir);
    expect(refused.code, refused.err).toBe(2);
    expect(refused.err).toMatch(/differs from the config the run's checkpoint .* recorded, in seed, learner\.lr;/);
    fs.writeFileSync(cfgFile, saved);
    // A log shorter than its checkpoint recorded is refused, naming it (a cut metrics.jsonl would merge rows).
    const metricsSaved = fs.readFileSync(metrics);
    fs.writeFileSync(metrics, metricsSaved.subarray(0, metricsSaved.length - 50));
    const short = train('--resume', dir);
    expect(short.code, short.err).toBe(2);
    expect(short.err).toMatch(/metrics\.jsonl has \d+ bytes, fewer than the \d+ its last checkpoint recorded/);
    fs.writeFileSync(metrics, metricsSaved);
    const r = train('--resume', dir);
    expect(r.code, r.err).toBe(0);
    const s = checkInvariants(dir, 4);
    expect(s.weightsSha256).toBe(baseline.weightsSha256);
    expect(s.rolloutsTrained).toBe(baseline.rolloutsTrained);
    // Totals across the two pieces (issue #29 item 6): every token once, the wall time of both pieces.
    type Totals = Summary & {
      tokensGenerated: number;
      wallMs: number;
      lastPiece: { tokensGenerated: number; wallMs: number };
    };
    const whole = s as Totals;
    expect(whole.tokensGenerated).toBe((baseline as Totals).tokensGenerated);
    expect(whole.lastPiece.tokensGenerated).toBeLessThan(whole.tokensGenerated);
    expect(first.steps).toBeGreaterThanOrEqual(1); // so the first piece's checkpoint recorded its wall time
    expect(whole.wallMs).toBeGreaterThan(whole.lastPiece.wallMs);
  }, 180_000);

  it('one run per directory: a second train or --resume on a held directory exits 2 naming the holder', async () => {
    const dir = path.join(tmp, 'locked');
    // A slow learner (timing only: sync results do not depend on it) keeps the first run going while the others try.
    const args = ['train', '--quiet', '--config', config('locked'), '--out', dir, '--inject', 'slow:learner=15x'];
    const first = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    first.stderr.on('data', (d) => (err += d));
    const lock = path.join(dir, '.lock');
    for (let i = 0; i < 600 && !fs.existsSync(lock); i++) await new Promise((r) => setTimeout(r, 20));
    expect(fs.existsSync(lock)).toBe(true);
    // Both a fresh run with another seed and a --resume while the first runs (issue #29's two writers).
    const second = train('--config', config('locked'), '--seed', '7', '--out', dir);
    const resumed = train('--resume', dir);
    for (const r of [second, resumed]) {
      expect(r.code, r.err).toBe(2);
      expect(r.err).toContain(`in use by process ${first.pid}`);
    }
    expect(await new Promise<number | null>((r) => first.on('exit', r)), err).toBe(0);
    expect(fs.existsSync(lock)).toBe(false); // released at exit
    const s = checkInvariants(dir, 4); // one run's rows, not two
    expect(s.weightsSha256).toBe(baseline.weightsSha256);
    // A lock left by a process that no longer runs (SIGKILL): taken over with a line naming it.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    fs.writeFileSync(lock, JSON.stringify({ pid: Number(dead.stdout), startedAt: 'then', argv: ['train'] }));
    const again = train('--resume', dir);
    expect(again.code, again.err).toBe(0);
    expect(again.err).toContain(`taking over the lock of process ${dead.stdout}`);
    expect(fs.existsSync(lock)).toBe(false);
    // Bad input found after the lock was taken (a backend that cannot start) leaves no directory behind.
    const bad = path.join(tmp, 'never-made');
    const r = train('--config', config('bad-lock', { backend: 'webgpu' }), '--out', bad);
    expect(r.code, r.err).toBe(2);
    expect(fs.existsSync(bad)).toBe(false);
  }, 180_000);

  it('a half-written checkpoint is never loaded; a corrupt one is refused with exit 2', () => {
    const dir = path.join(tmp, 'base');
    const ckDir = path.join(dir, 'checkpoints');
    // A crash while writing step-9 leaves only a temp directory: `latest` still names step-4.
    fs.mkdirSync(path.join(ckDir, 'step-9.tmp-4242'));
    fs.writeFileSync(path.join(ckDir, 'step-9.tmp-4242', 'weights.bin'), 'half');
    const r = train('--resume', dir, '--max-steps', '5');
    expect(r.code, r.err).toBe(0);
    expect(summaryOf(dir).steps).toBe(5);
    // Tampered weights in the checkpoint `latest` names: refused, nothing overwritten.
    const latest = fs.readFileSync(path.join(ckDir, 'latest'), 'utf8').trim();
    fs.appendFileSync(path.join(ckDir, latest, 'weights.bin'), Buffer.from([0, 0, 0, 0]));
    const bad = train('--resume', dir, '--max-steps', '6');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/weights\.bin has \d+ bytes, the manifest says/);
    expect(summaryOf(dir).steps).toBe(5);
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
  ])('exits 2 naming the input: %s', (args, message) => {
    fs.writeFileSync(path.join(tmp, 'a-file'), '');
    const r = train(...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('exits 2 naming the field of a bad config', () => {
    const file = path.join(tmp, 'bad.yaml');
    fs.writeFileSync(file, YAML.stringify({ ...SMOKE, staleness: { policy: 'async', eta: -1 } }));
    const r = train('--config', file, '--out', path.join(tmp, 'bad'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad\.yaml: staleness\.eta: Too small/);
    expect(fs.existsSync(path.join(tmp, 'bad'))).toBe(false);
  });
});
