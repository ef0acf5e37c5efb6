/**
 * `e3sim experiment e3-countdown`: the e3 recipe and its ablations on Countdown, each arm over
 * seeds, every run a normal `e3sim train` run directory (OUT/ARM/seed-N/), then results.json,
 * results.md and a comparison report.html.
 *
 * Arms (E3.md's claims): e3 (GRPO + coupled curriculum), mask (GRPOMask + coupled), no-curriculum
 * (full mix, fixed budget), budget-only (full mix, budget growing on a schedule), data-only
 * (difficulty growing, budget fixed at the top of the ladder), no-asymmetry (e3 from the noverify base).
 * Every arm is evaluated at the end on held-out problems at B_tr, 2x, 4x and 8x B_tr.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseTrainConfig, type TrainConfig } from '../runtime/config.js';
import { TrainingRun, type Summary } from '../runtime/run.js';
import type { Now } from '../runtime/clock.js';
import type { BackendName } from '../tensor/backend.js';
import { formatSpread, spread, type Spread } from '../util/stats.js';

export const ARMS = ['e3', 'mask', 'no-curriculum', 'budget-only', 'data-only', 'no-asymmetry'] as const;
export type Arm = (typeof ARMS)[number];

export interface ExperimentSize {
  stageSteps: [number, number];
  problemsPerStep: number;
  groupSize: number;
  poolPerDifficulty: number;
  measureProblems: number;
  evalProblems: number;
  evalSamples: number;
}

/** The training budget B_tr every arm is evaluated against (the top of the coupled ladder). */
export const B_TR = 32;

/**
 * Budget layouts. `short` (the default, the first run reported in docs/REPRODUCTION.md): ladder
 * 8/16/32, B_tr 32, evaluation to 8x. `long`: ladder 16..128 reaching past the natural trace
 * length so the coupled rule can choose, B_tr 64, evaluation to 4x (8x exceeds the 320-token context).
 */
export const BUDGETS = {
  short: { btr: 32, ladder: [8, 16, 32], evalMultiples: [1, 2, 4, 8] },
  long: { btr: 64, ladder: [16, 32, 64, 128], evalMultiples: [1, 2, 4] },
} as const;
export type BudgetLayout = keyof typeof BUDGETS;

export const FULL: ExperimentSize = { stageSteps: [15, 15], problemsPerStep: 8, groupSize: 8, poolPerDifficulty: 16, measureProblems: 8, evalProblems: 32, evalSamples: 4 };
/** A pipeline check (CI), not a result. */
export const QUICK: ExperimentSize = { stageSteps: [2, 2], problemsPerStep: 2, groupSize: 4, poolPerDifficulty: 4, measureProblems: 4, evalProblems: 4, evalSamples: 4 };

export function armConfig(arm: Arm, seed: number, size: ExperimentSize, backend: BackendName, layout: BudgetLayout = 'short'): TrainConfig {
  const [s1, s2] = size.stageSteps;
  const { btr: B_TR, ladder: LADDER_RO, evalMultiples } = BUDGETS[layout];
  const LADDER = [...LADDER_RO];
  const all = ['easy', 'medium', 'hard'];
  const curricula: Record<Arm, unknown> = {
    'e3': { kind: 'coupled', ladder: LADDER, stages: [{ buckets: ['easy'], steps: s1 }, { buckets: ['medium', 'hard'], steps: s2 }] },
    'mask': { kind: 'coupled', ladder: LADDER, stages: [{ buckets: ['easy'], steps: s1 }, { buckets: ['medium', 'hard'], steps: s2 }] },
    'no-asymmetry': { kind: 'coupled', ladder: LADDER, stages: [{ buckets: ['easy'], steps: s1 }, { buckets: ['medium', 'hard'], steps: s2 }] },
    'no-curriculum': { kind: 'fixed', stages: [{ buckets: all, budgetTokens: B_TR, steps: s1 + s2 }] },
    'budget-only': { kind: 'fixed', stages: [{ buckets: all, budgetTokens: B_TR / 2, steps: s1 }, { buckets: all, budgetTokens: B_TR, steps: s2 }] },
    // "Budget fixed large": the top of the ladder (= B_tr in the short layout, 2x B_tr in the long one).
    'data-only': { kind: 'fixed', stages: [{ buckets: ['easy'], budgetTokens: Math.max(...LADDER), steps: s1 }, { buckets: ['medium', 'hard'], budgetTokens: Math.max(...LADDER), steps: s2 }] },
  };
  return parseTrainConfig({
    name: `${arm}-seed-${seed}`, seed, backend,
    model: { checkpoint: arm === 'no-asymmetry' ? 'examples/checkpoints/base-countdown-noverify' : 'examples/checkpoints/base-countdown' },
    rollout: { problemsPerStep: size.problemsPerStep, groupSize: size.groupSize, temperature: 1 },
    curriculum: {
      ...(curricula[arm] as object), k: 4, kappa: 1.2, measure: { problems: size.measureProblems, samples: 8 },
      pool: { difficulties: [3, 4, 5], perDifficulty: size.poolPerDifficulty, samples: 8, k: 8, budgetTokens: 128 },
    },
    learner: { lr: 2e-5, negatives: arm === 'mask' ? 'mask' : 'keep' },
    staleness: { policy: 'sync' },
    checkpoint: { every: 1000, keep: 1 },
    eval: { difficulty: 3, problems: size.evalProblems, samples: size.evalSamples, ks: [1, 4], budgets: evalMultiples.map((m) => m * B_TR) },
  }, `experiment arm ${arm}`);
}

export interface ArmSeedResult {
  arm: Arm;
  seed: number;
  runDir: string;
  wallSeconds: number;
  eval: { budget: number; passAt: Record<string, number>; meanLength: number; meanLengthCorrect: number | null; meanLengthIncorrect: number | null; meanAttempts: number; meanUniqueAttempts: number; entropy: number }[];
  finalEntropy: number | null;
  finalLength: number | null;
  summary: Summary;
}

export async function runE3Countdown(o: { out: string; seeds: number; quick: boolean; backend: BackendName; now: Now; arms?: readonly Arm[]; layout?: BudgetLayout; log?: (s: string) => void; versions: Record<string, string> }): Promise<ArmSeedResult[]> {
  const size = o.quick ? QUICK : FULL;
  const results: ArmSeedResult[] = [];
  for (const arm of o.arms ?? ARMS) {
    for (let seed = 0; seed < o.seeds; seed++) {
      const dir = path.join(o.out, arm, `seed-${seed}`);
      const cfg = armConfig(arm, seed, size, o.backend, o.layout ?? 'short');
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
      const t0 = o.now();
      const summary = await new TrainingRun({ config: cfg, out: dir, resume: false, command: `experiment e3-countdown arm=${arm} seed=${seed}`, versions: o.versions, now: o.now }).run();
      const metrics = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const steps = metrics.filter((m) => m.type === undefined);
      const last = steps.slice(-5);
      const mean = (k: string) => (last.length ? last.reduce((s, m) => s + (m[k] as number), 0) / last.length : null);
      const ev = summary.eval?.rows as ArmSeedResult['eval'] | undefined;
      if (!ev) throw new Error(`experiment: arm ${arm} seed ${seed} produced no evaluation`);
      const r: ArmSeedResult = { arm, seed, runDir: dir, wallSeconds: (o.now() - t0) / 1000, eval: ev, finalEntropy: mean('entropy'), finalLength: mean('lengthMean'), summary };
      results.push(r);
      o.log?.(`${arm} seed ${seed}: pass@1 ${ev.map((e) => `${e.budget}:${e.passAt['1']!.toFixed(3)}`).join(' ')} (${r.wallSeconds.toFixed(0)} s)`);
    }
  }
  return results;
}


/** Per arm: pass@1/pass@4 per budget, extrapolation ratio (pass@1 at 4x / at B_tr), entropy, length, attempts — mean [min, max] over seeds. */
export function summarize(results: readonly ArmSeedResult[], layout: BudgetLayout = 'short'): { arms: Record<string, Record<string, Spread | null>>; markdown: string } {
  const B_TR = BUDGETS[layout].btr;
  const arms: Record<string, Record<string, Spread | null>> = {};
  const budgets = [...new Set(results.flatMap((r) => r.eval.map((e) => e.budget)))].sort((a, b) => a - b);
  for (const arm of [...new Set(results.map((r) => r.arm))]) {
    const rs = results.filter((r) => r.arm === arm);
    const row: Record<string, Spread | null> = {};
    for (const b of budgets) {
      for (const k of ['1', '4']) row[`pass@${k}@${b}`] = spread(rs.map((r) => r.eval.find((e) => e.budget === b)?.passAt[k]).filter((x): x is number => typeof x === 'number'));
    }
    const ratio = (r: ArmSeedResult) => {
      const at = (b: number) => r.eval.find((e) => e.budget === b)?.passAt['1'];
      const a = at(B_TR), c = at(4 * B_TR);
      return a && c !== undefined ? c / a : null;
    };
    row.extrapolation4x = spread(rs.map(ratio).filter((x): x is number => x !== null));
    row.finalEntropy = spread(rs.map((r) => r.finalEntropy).filter((x): x is number => x !== null));
    row.finalLength = spread(rs.map((r) => r.finalLength).filter((x): x is number => x !== null));
    row.attemptsAt4x = spread(rs.map((r) => r.eval.find((e) => e.budget === 4 * B_TR)?.meanAttempts).filter((x): x is number => typeof x === 'number'));
    row.wallSeconds = spread(rs.map((r) => r.wallSeconds));
    arms[arm] = row;
  }
  const cols = [...budgets.map((b) => `pass@1@${b}`), `pass@4@${4 * B_TR}`, 'extrapolation4x', 'finalEntropy', 'finalLength', 'attemptsAt4x', 'wallSeconds'];
  const md = [
    `B_tr = ${B_TR} tokens; mean [min, max] over seeds; extrapolation4x = pass@1 at 4x B_tr / pass@1 at B_tr (seeds with pass@1 = 0 at B_tr left out).`,
    '',
    `| arm | seeds | ${cols.join(' | ')} |`,
    `|---|---|${cols.map(() => '---').join('|')}|`,
    ...Object.entries(arms).map(([arm, row]) => `| ${arm} | ${results.filter((r) => r.arm === arm).length} | ${cols.map((c) => formatSpread(row[c] ?? null, c === 'wallSeconds' ? 0 : 3)).join(' | ')} |`),
  ].join('\n');
  return { arms, markdown: md + '\n' };
}
