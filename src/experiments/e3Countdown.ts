/**
 * `e3sim experiment e3-countdown`: the e3 recipe and its ablations on Countdown, each arm over
 * seeds, every run a normal `e3sim train` run directory (OUT/ARM/seed-N/), cells two at a time
 * (src/experiments/cells.ts), then results.json, results.md and a comparison report.html.
 *
 * Arms (E3.md's claims): e3 (GRPO + coupled curriculum), mask (GRPOMask + coupled), no-curriculum
 * (full mix, fixed budget B_tr), budget-only (full mix, budget B_tr/2 then B_tr), data-only
 * (difficulty growing, budget fixed at B_tr), no-asymmetry (e3 from the noverify base); for C4
 * the e3 arm at each fixed ladder budget (seed 0), and the two base models evaluated untrained.
 * Every cell is evaluated at the end on the same held-out problems of its seed (paired across
 * arms: the evaluation set and each sample's random stream depend only on the seed) at B_tr,
 * 2× and 4× B_tr; results give 95% bootstrap CIs over problems (src/experiments/stats.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseTrainConfig, type TrainConfig } from '../runtime/config.js';
import type { BackendName } from '../tensor/backend.js';
import type { Cell } from './cells.js';
import { writeFileAtomic } from '../util/atomic.js';
import { attemptsThatFit } from '../eval/byAttempt.js';
import { latestCheckpointDir } from '../runtime/checkpointer.js';

export const ARMS = ['e3', 'mask', 'no-curriculum', 'budget-only', 'data-only', 'no-asymmetry'] as const;
export type Arm = (typeof ARMS)[number];
/**
 * Arms run only when --arms names them: overlong-soft is the e3 arm with DAPO's soft overlong
 * punishment (rl/overlong.ts) over the last 16 tokens of each stage's budget — about one attempt
 * (13 tokens) — which the coupled curriculum moves with the budget.
 */
export const EXTRA_ARMS = ['overlong-soft'] as const;
export const OVERLONG_BUFFER = 16;

export const BASE = 'examples/checkpoints/base-countdown';
export const BASE_NOVERIFY = 'examples/checkpoints/base-countdown-noverify';

/**
 * The regime (docs/REPRODUCTION.md "The regime", issue #28; chosen from the base model's
 * measurements before any arm ran). B_tr = 72 tokens holds 4 attempts and the answer at 3
 * numbers, 2 at 4 numbers and 1 at 5: shorter than the search a 4- or 5-number problem needs. The
 * ladder doubles (36 / 72 / 144), so the coupled rule J(2B) ≤ κ·J(B) can judge 36 and 72 (the
 * v2 regime's 32 / 48 / 72 could judge nothing). Evaluation at 4 numbers, at 72, 144 and 288
 * tokens (B_tr, 2×, 4×; 288 + the 8-token prompt fits the 384-token context).
 */
export const LAYOUT = { btr: 72, ladder: [36, 72, 144], evalMultiples: [1, 2, 4], evalDifficulty: 4 } as const;
/** The authors' chained-attempts protocol at the end of training (eval --cut-after). */
export const CUTS = [2, 4, 8, 16] as const;

/**
 * The cuts whose C attempts and the answer fit the base model's context at the evaluation's
 * difficulty (v2's 320 tokens hold 15 attempts of 4 numbers, so it is cut at 2, 4 and 8 only).
 */
export function cutsThatFit(contextLength: number, difficulty = LAYOUT.evalDifficulty): number[] {
  const most = attemptsThatFit(contextLength, difficulty);
  return CUTS.filter((c) => c <= most);
}

function baseContext(): number {
  const m = JSON.parse(fs.readFileSync(path.join(BASE, 'manifest.json'), 'utf8')) as {
    config: { contextLength: number };
  };
  return m.config.contextLength;
}
export const B_TR = LAYOUT.btr;

export interface ExperimentSize {
  stageSteps: [number, number];
  problemsPerStep: number;
  groupSize: number;
  poolPerDifficulty: number;
  measureProblems: number;
  evalProblems: number;
  evalSamples: number;
  lr: number;
  minibatches: number;
  checkpointEvery: number;
}

/**
 * lr 1e-4: the probe's best held-out pass@1 at B_tr (`e3sim experiment lr-probe`, 1e-4 / 3e-4 /
 * 1e-3, table in docs/REPRODUCTION.md); 2 minibatches (E3.md: 2–4); 4 problems × 8 samples a
 * step so that 18 cells of 300 steps fit the 90-minute budget on 2 cores (the probe ran 8 × 8).
 */
export const FULL: ExperimentSize = {
  stageSteps: [100, 200],
  problemsPerStep: 4,
  groupSize: 8,
  poolPerDifficulty: 32,
  measureProblems: 16,
  evalProblems: 256,
  evalSamples: 4,
  lr: 1e-4,
  minibatches: 2,
  checkpointEvery: 50,
};
/** The shape the learning-rate probe ran at (8 × 8, before the step was halved for time). */
export const PROBE: ExperimentSize = { ...FULL, problemsPerStep: 8 };
/** A pipeline check (CI), not a result. */
export const QUICK: ExperimentSize = {
  stageSteps: [2, 2],
  problemsPerStep: 2,
  groupSize: 4,
  poolPerDifficulty: 4,
  measureProblems: 4,
  evalProblems: 4,
  evalSamples: 4,
  lr: 3e-4,
  minibatches: 2,
  checkpointEvery: 2,
};

/**
 * C4's arms: e3 with its budget fixed at each other rung of the ladder (at B_tr itself the
 * e3 arm with a fixed budget is the data-only arm, which C4 reads instead).
 */
export const fixedArm = (b: number) => `e3-at-${b}`;
export const C4_ARMS = LAYOUT.ladder.filter((b) => b !== B_TR).map(fixedArm);

export function armConfig(
  arm: Arm | string,
  seed: number,
  size: ExperimentSize,
  backend: BackendName,
  over: { lr?: number; stages?: 1 | 2 } = {},
): TrainConfig {
  const [s1, s2] = size.stageSteps;
  const ladder = [...LAYOUT.ladder];
  const all = ['easy', 'medium', 'hard'];
  const staged = (budget?: number) => [
    { buckets: ['easy'], steps: s1, budgetTokens: budget },
    { buckets: ['medium', 'hard'], steps: s2, budgetTokens: budget },
  ];
  const coupled = { kind: 'coupled', ladder, stages: staged().map(({ budgetTokens: _, ...s }) => s) };
  const fixedAt = /^e3-at-(\d+)$/.exec(arm);
  const curricula: Record<string, unknown> = {
    e3: coupled,
    'overlong-soft': coupled,
    mask: coupled,
    'no-asymmetry': coupled,
    'no-curriculum': { kind: 'fixed', stages: [{ buckets: all, budgetTokens: B_TR, steps: s1 + s2 }] },
    'budget-only': {
      kind: 'fixed',
      stages: [
        { buckets: all, budgetTokens: B_TR / 2, steps: s1 },
        { buckets: all, budgetTokens: B_TR, steps: s2 },
      ],
    },
    'data-only': { kind: 'fixed', stages: staged(B_TR) },
  };
  let curriculum = fixedAt ? { kind: 'fixed', stages: staged(Number(fixedAt[1])) } : curricula[arm];
  if (!curriculum) throw new Error(`experiment: unknown arm '${arm}'`);
  if (over.stages === 1)
    curriculum = {
      ...(curriculum as { stages: unknown[] }),
      stages: (curriculum as { stages: unknown[] }).stages.slice(0, 1),
    };
  return parseTrainConfig(
    {
      name: `${arm}-seed-${seed}`,
      seed,
      backend,
      model: { checkpoint: arm === 'no-asymmetry' ? BASE_NOVERIFY : BASE },
      rollout: {
        problemsPerStep: size.problemsPerStep,
        groupSize: size.groupSize,
        temperature: 1,
        ...(arm === 'overlong-soft' ? { overlong: { kind: 'soft', buffer: OVERLONG_BUFFER } } : {}),
      },
      curriculum: {
        ...(curriculum as object),
        k: 4,
        kappa: 1.2,
        measure: { problems: size.measureProblems, samples: 8 },
        pool: { difficulties: [3, 4, 5], perDifficulty: size.poolPerDifficulty, samples: 8, k: 8, budgetTokens: B_TR },
      },
      learner: { lr: over.lr ?? size.lr, negatives: arm === 'mask' ? 'mask' : 'keep', minibatches: size.minibatches },
      staleness: { policy: 'sync' },
      checkpoint: { every: size.checkpointEvery, keep: 1 },
      eval: {
        difficulty: LAYOUT.evalDifficulty,
        problems: size.evalProblems,
        samples: size.evalSamples,
        ks: [1, 4],
        budgets: LAYOUT.evalMultiples.map((m) => m * B_TR),
      },
    },
    `experiment arm ${arm}`,
  );
}

/** A training cell: `e3sim train` on the real clock (sync: the learner and the sampler take turns, about one core). */
export function trainCell(name: string, cfg: TrainConfig, out: string): Cell {
  const cfgFile = path.join(out, 'configs', `${name.replace(/\//g, '.')}.json`);
  fs.mkdirSync(path.dirname(cfgFile), { recursive: true });
  writeFileAtomic(cfgFile, JSON.stringify(cfg, null, 2) + '\n');
  const steps = cfg.curriculum.stages.reduce((s, st) => s + st.steps, 0);
  return {
    name,
    // a trained rollout ≈ 4 sampled ones
    weight: 4 * steps * cfg.rollout.problemsPerStep * cfg.rollout.groupSize + cfg.eval!.problems * cfg.eval!.samples,
    start: (dir) => ['train', '--config', cfgFile, '--out', dir, '--quiet'],
    resume: (dir) => ['train', '--resume', dir, '--quiet'],
    resumable: (dir) => fs.existsSync(path.join(dir, 'checkpoints', 'latest')),
    matches: (dir) => {
      const f = path.join(dir, 'config.json');
      return fs.existsSync(f) && JSON.stringify(JSON.parse(fs.readFileSync(f, 'utf8'))) === JSON.stringify(cfg);
    },
  };
}

/** An evaluation-only cell: a base checkpoint on the same problems and sample streams as the trained arms of `seed`. */
export function baseCell(
  name: string,
  checkpoint: string,
  seed: number,
  size: ExperimentSize,
  backend: BackendName,
): Cell {
  return {
    name,
    weight: size.evalProblems * size.evalSamples,
    resume: null,
    start: (dir) =>
      evalArgs(checkpoint, seed, size, backend, dir, [
        '--budgets',
        LAYOUT.evalMultiples.map((m) => m * B_TR).join(','),
        '--k',
        '1,4',
      ]),
  };
}

/** `e3sim eval` of `checkpoint` on the seed's held-out problems, with a protocol's flags (budgets or cuts). */
function evalArgs(
  checkpoint: string,
  seed: number,
  size: ExperimentSize,
  backend: BackendName,
  dir: string,
  protocol: string[],
): string[] {
  return [
    'eval',
    '--checkpoint',
    checkpoint,
    '--task',
    'countdown',
    '--difficulty',
    String(LAYOUT.evalDifficulty),
    '--problems',
    String(size.evalProblems),
    '--samples',
    String(size.evalSamples),
    '--seed',
    String(seed),
    ...protocol,
    '--batch',
    '64',
    '--backend',
    backend,
    '--json',
    '--out',
    path.join(dir, 'eval.json'),
  ];
}

/** Arms whose final policy is also measured by the authors' cut (issue #28: base, e3 and mask). */
export const CUT_ARMS = ['base', 'e3', 'mask'] as const;
export const cutName = (arm: string, seed: number) => `cut-${arm}/seed-${seed}`;

/**
 * The chained-attempts table of one policy: `eval --cut-after 2,4,8,16` on the seed's held-out
 * problems. A trained arm's cell waits for its training cell and reads its last checkpoint.
 */
export function cutCell(arm: string, seed: number, out: string, size: ExperimentSize, backend: BackendName): Cell {
  const trained = arm === 'base' ? null : `${arm}/seed-${seed}`;
  const checkpoint = () => {
    if (!trained) return BASE;
    const ck = latestCheckpointDir(path.join(out, trained));
    if (!ck) throw new Error(`experiment: ${trained} finished without a checkpoint`);
    return ck;
  };
  return {
    name: cutName(arm, seed),
    weight: size.evalProblems * size.evalSamples * CUTS.length,
    resume: null,
    after: trained ? [trained] : [],
    start: (dir) =>
      evalArgs(checkpoint(), seed, size, backend, dir, ['--cut-after', cutsThatFit(baseContext()).join(',')]),
  };
}

export interface CellPlan {
  cells: Cell[];
  arms: string[];
  seeds: number;
}

/** Every cell of the experiment, in the order they run: bases, then seed by seed every arm, then C4. */
export function planE3Countdown(o: {
  out: string;
  seeds: number;
  size: ExperimentSize;
  backend: BackendName;
  arms: readonly string[];
  c4: boolean;
}): CellPlan {
  const cells: Cell[] = [];
  for (let seed = 0; seed < o.seeds; seed++) {
    cells.push(baseCell(`base/seed-${seed}`, BASE, seed, o.size, o.backend));
    if (o.arms.includes('no-asymmetry'))
      cells.push(baseCell(`base-noverify/seed-${seed}`, BASE_NOVERIFY, seed, o.size, o.backend));
  }
  for (let seed = 0; seed < o.seeds; seed++) {
    for (const arm of o.arms)
      cells.push(trainCell(`${arm}/seed-${seed}`, armConfig(arm, seed, o.size, o.backend), o.out));
  }
  if (o.c4)
    for (const arm of C4_ARMS) cells.push(trainCell(`${arm}/seed-0`, armConfig(arm, 0, o.size, o.backend), o.out));
  for (let seed = 0; seed < o.seeds; seed++)
    for (const arm of CUT_ARMS)
      if (arm === 'base' || o.arms.includes(arm)) cells.push(cutCell(arm, seed, o.out, o.size, o.backend));
  return { cells, arms: [...o.arms, ...(o.c4 ? C4_ARMS : [])], seeds: o.seeds };
}

/** The learning-rate probe: the e3 arm's first stage at each rate, seed 0, evaluated at B_tr. */
export function planLrProbe(o: {
  out: string;
  lrs: readonly number[];
  steps: number;
  size: ExperimentSize;
  backend: BackendName;
}): Cell[] {
  const size = { ...o.size, stageSteps: [o.steps, 1] as [number, number] };
  return [
    baseCell('base/seed-0', BASE, 0, size, o.backend),
    ...o.lrs.map((lr) => trainCell(`lr-${lr}/seed-0`, armConfig('e3', 0, size, o.backend, { lr, stages: 1 }), o.out)),
  ];
}
