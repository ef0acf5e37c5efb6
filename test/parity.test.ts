/**
 * Clock parity (issue #18): the topology's rules live once (src/core), so one config run on the
 * real clock (worker threads, xstate actors) and on the virtual clock (the discrete-event engine
 * with the real tiny GPT) trains the same rollouts in the same order and ends with the same
 * weights. In sync and one-step-off modes the schedule is forced by the order of events, not by
 * speed (a request runs at the newest published version when it starts: core/admission), so the
 * metrics rows agree apart from the clock's own fields (core/metrics CLOCK_FIELDS).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { CLOCK_FIELDS } from '../src/core/metrics.js';
import { COMMON_SUMMARY_KEYS } from '../src/core/summary.js';
import { runCli } from './helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-parity-'));
const SMOKE = YAML.parse(fs.readFileSync('examples/smoke.yaml', 'utf8'));

/** `e3sim train` in-process (test/helpers/cli.ts): no process start per run. */
async function train(dir: string, config: string, clock: 'real' | 'virtual') {
  const extra = clock === 'virtual' ? ['--clock', 'virtual', '--compute', 'real'] : [];
  const r = await runCli('train', '--quiet', '--config', config, '--out', dir, ...extra);
  expect(r.code, r.err).toBe(0);
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as Record<string, unknown>;
  const lines = fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { dir, summary, lines };
}

/**
 * Each actor's path through its machine, from transitions.jsonl: the states it entered, in order,
 * each with the machine's event that took it there (both clocks write the machine's events). The
 * real learner's `snapshotting` for a checkpoint is left out: the virtual clock's checkpoint is a
 * copy of its state, taken between events.
 */
function statePaths(dir: string, actors: readonly string[]): Record<string, string[]> {
  const paths: Record<string, string[]> = Object.fromEntries(actors.map((a) => [a, []]));
  for (const l of fs.readFileSync(path.join(dir, 'transitions.jsonl'), 'utf8').trim().split('\n')) {
    const t = JSON.parse(l) as { actor: string; from: string | null; to: string; event: string };
    if (paths[t.actor] && t.to !== 'snapshotting' && t.from !== 'snapshotting')
      paths[t.actor]!.push(`${t.event} → ${t.to}`);
  }
  return paths;
}

/** A metrics line without the fields that depend on the clock. */
function clockFree(line: Record<string, unknown>): Record<string, unknown> {
  const out = { ...line };
  for (const k of CLOCK_FIELDS) delete out[k];
  return out;
}

describe('clock parity: one config on both clocks', () => {
  it.each([
    ['sync, one sampler', { policy: 'sync' }, 1],
    [
      // dynamic sampling: which groups are filtered and which problems replace them is forced in sync mode;
      // DAPO's filter on verdicts, with rewards shaped by length (each clock reads its own verdicts)
      'sync, two samplers, dynamic sampling on accuracy, soft overlong',
      { policy: 'sync' },
      2,
      {
        rollout: {
          ...SMOKE.rollout,
          dynamicSampling: { backfillRounds: 2, metric: 'accuracy' },
          overlong: { kind: 'soft', buffer: 16 },
        },
      },
    ],
    [
      // a fixed list of two stages: its stage line (steps/curriculum.ts) on both clocks
      'one-step-off, one sampler, two fixed stages',
      { policy: 'one-step-off' },
      1,
      {
        curriculum: {
          stages: [
            { difficulty: 3, budgetTokens: 48, steps: 2 },
            { difficulty: 4, budgetTokens: 40, steps: 2 },
          ],
        },
      },
    ],
    [
      // issue #19's knobs: controlled mismatch, masked IS against π_prox, soft overlong punishment
      'one-step-off, bf16 + noisy samplers, two minibatches, masked IS, soft overlong',
      { policy: 'one-step-off' },
      1,
      {
        rollout: {
          ...SMOKE.rollout,
          mismatch: { weights: 'bf16', logitNoise: 0.5 },
          overlong: { kind: 'soft', buffer: 16 },
        },
        learner: {
          ...SMOKE.learner,
          minibatches: 2,
          correction: { kind: 'masked', level: 'token', low: 0.5, high: 5 },
        },
      },
    ],
    [
      // issue #30: every restart path on both clocks — the sampler's request issued again, the
      // learner's batch trained again (core/topology learnerNext 'again'), the verifier's group
      // verified again — and a lost publication sent again; each fault named and recorded alike
      // (summary.json faultsFired, the `fault` lines of metrics.jsonl)
      'sync, one sampler, a crash of the sampler, the learner and the verifier, a publication dropped, a slow verifier',
      { policy: 'sync' },
      1,
      {
        faults: [
          'crash:sampler@step=2',
          'crash:learner@step=2',
          'crash:verifier@step=3',
          'drop:publication@version=3',
          'slow:verifier=+20ms',
        ],
      },
    ],
    [
      // issue #30: the curriculum actor on both clocks — difficulty buckets measured on the base, each
      // stage's budget by the coupled rule at its start (a measurement during which nothing of the
      // new stage is planned), and the stage change drains the one-step-off pipeline
      'one-step-off, coupled curriculum with difficulty buckets',
      { policy: 'one-step-off' },
      1,
      {
        curriculum: {
          kind: 'coupled',
          ladder: [24, 48, 96],
          kappa: 1.2,
          k: 2,
          measure: { problems: 4, samples: 4 },
          pool: { difficulties: [3, 4], perDifficulty: 6, samples: 4, k: 2, budgetTokens: 48 },
          stages: [
            { buckets: ['easy', 'medium'], steps: 2 },
            { buckets: ['medium', 'hard'], steps: 2 },
          ],
        },
      },
    ],
  ] as [string, { policy: string }, number, object?][])(
    '%s: same trained rollouts per step, same metrics rows apart from time, same final weights',
    async (name, staleness, samplers, extra = {}) => {
      const slug = name.replace(/[^a-z0-9]+/g, '-');
      const file = path.join(tmp, `${slug}.yaml`);
      fs.writeFileSync(
        file,
        YAML.stringify({
          ...SMOKE,
          name: slug,
          backend: 'wasm',
          curriculum: { stages: [{ difficulty: 3, budgetTokens: 48, steps: 4 }] },
          staleness,
          topology: { samplers, verifierThreads: 1 },
          eval: { ...SMOKE.eval, every: 2 },
          ...extra,
        }),
      );
      const real = await train(path.join(tmp, `${slug}-real`), file, 'real');
      const virtual = await train(path.join(tmp, `${slug}-virtual`), file, 'virtual');

      const steps = (r: typeof real) => r.lines.filter((l) => l.type === undefined);
      expect(steps(real)).toHaveLength(4);
      expect(steps(real).map((l) => l.trainedDigest)).toEqual(steps(virtual).map((l) => l.trainedDigest));
      // the digests name the rollouts: different steps trained different ones
      expect(new Set(steps(real).map((l) => l.trainedDigest)).size).toBe(4);
      expect(steps(real).map(clockFree)).toEqual(steps(virtual).map(clockFree));
      if ('mismatch' in ((extra as { rollout?: object }).rollout ?? {})) {
        // the knobs acted: the samplers' μ differs from the learner's policy at the same version
        expect(Math.max(...steps(real).map((l) => (l.mismatchKlBehaviour as number | null) ?? 0))).toBeGreaterThan(0);
        expect(Math.max(...steps(real).map((l) => l.optimizerSteps as number))).toBe(2);
      }
      // Typed lines (eval, …) by type and step: an evaluation runs beside training, so where its
      // line lands among the step rows is a matter of time, what it says is not.
      const typed = (r: typeof real) =>
        r.lines
          .filter((l) => l.type !== undefined)
          .map(clockFree)
          .sort((a, b) => `${a.type}/${a.step}`.localeCompare(`${b.type}/${b.step}`));
      expect(typed(real)).toEqual(typed(virtual));
      expect(real.lines.filter((l) => l.type === 'eval')).toHaveLength(2);
      const coupled = (extra as { curriculum?: { kind?: string } }).curriculum?.kind === 'coupled';
      if ('curriculum' in extra)
        expect(real.lines.filter((l) => l.type === 'stage').map((l) => [l.step, l.stage])).toEqual([[2, 1]]);
      if (staleness.policy === 'one-step-off')
        expect(steps(real).map((l) => l.stalenessMax)).toEqual(coupled ? [0, 1, 0, 1] : [0, 1, 1, 1]);
      if (coupled) {
        // it acted: buckets measured, a budget chosen per stage at the version the stage began, step
        // rows naming their stage's buckets and budget
        expect(real.lines.filter((l) => l.type === 'budget-choice').map((l) => l.step)).toEqual([0, 2]);
        expect(real.lines.filter((l) => l.type === 'buckets')).toHaveLength(1);
        expect(real.lines.filter((l) => l.type === 'stage').map((l) => l.stage)).toEqual([1]);
        expect(steps(real).map((l) => l.stage)).toEqual([0, 0, 1, 1]);
        expect(fs.readFileSync(path.join(tmp, `${slug}-virtual`, 'buckets.json'), 'utf8')).toBe(
          fs.readFileSync(path.join(tmp, `${slug}-real`, 'buckets.json'), 'utf8'),
        );
      }
      if ('faults' in extra) {
        // it acted: three restarts, each fault named by the actor that took it, one line each
        // (a slowdown is in force from the start: recorded as fired then, for each actor of its role)
        const fired = ['slow:verifier-0@t=0', 'crash:sampler-0@step=2', 'crash:learner@step=2'];
        fired.push('crash:verifier-0@step=3', 'drop:publication@version=3');
        expect(real.summary.restarts).toBe(3);
        expect(real.summary.faultsFired).toEqual(fired);
        expect(real.lines.filter((l) => l.type === 'fault').map((l) => l.fault)).toEqual(fired);
      }
      {
        // each actor's path through its machine, events included, where the schedule forces it: the
        // learner's and the curriculum's always; with one sampler and one verifier, theirs too
        const actors = ['learner', 'curriculum', ...(samplers === 1 ? ['sampler-0', 'verifier-0'] : [])];
        const [r, v] = [statePaths(real.dir, actors), statePaths(virtual.dir, actors)];
        for (const a of actors) expect(r[a]!.length, a).toBeGreaterThan(1);
        expect(r).toEqual(v);
      }
      // summary.json's common part (core/summary.ts): the same fields with the same values
      const common = (x: Record<string, unknown>) => COMMON_SUMMARY_KEYS.map((k) => [k, x[k]]);
      expect(common(real.summary)).toEqual(common(virtual.summary));
      expect(real.summary.weightsSha256).toBe(virtual.summary.weightsSha256);
      expect(real.summary.rolloutsTrained).toBe(virtual.summary.rolloutsTrained);
      expect(real.summary.dynamicSampling).toEqual(virtual.summary.dynamicSampling);
      if (name.includes('dynamic sampling')) {
        // it acted: groups filtered and backfilled, every rollout accounted
        expect((real.summary.dynamicSampling as { backfillGroups: number }).backfillGroups).toBeGreaterThan(0);
        expect(real.summary.rolloutsGenerated).toBe(
          (real.summary.rolloutsTrained as number) + (real.summary.rolloutsDroppedFiltered as number),
        );
      }
    },
  );
});
