/**
 * Reading an experiment's cells and summarising them with their uncertainty: per arm and budget,
 * pass@k pooled over seeds with a 95% bootstrap CI over held-out problems (stratified by seed),
 * the per-seed values beside it (training noise), and paired differences — between arms on the
 * same problems and sample streams, and within an arm between budgets (the extrapolation gain).
 */
import fs from 'node:fs';
import path from 'node:path';
import { passAtK } from '../rl/passk.js';
import { bootstrapMeanCi, formatCi, mean, type Ci } from '../util/stats.js';
import type { BudgetRow } from '../eval/countdown.js';
import type { CutRow } from '../eval/byAttempt.js';
import { B_TR } from './e3Countdown.js';

export interface CellResult {
  arm: string;
  seed: number;
  samples: number;
  rows: BudgetRow[];
  finalEntropy: number | null;
  finalLength: number | null;
  budgetChoices: { stage: number; budget: number; reason: string }[];
  wallSeconds: number | null;
}

/** A finished cell's evaluation (summary.json of a train cell, eval.json of a base cell). */
export function readCell(dir: string, arm: string, seed: number): CellResult {
  const done = JSON.parse(fs.readFileSync(path.join(dir, 'done.json'), 'utf8')) as { wallSeconds: number };
  const evalFile = path.join(dir, 'eval.json');
  if (fs.existsSync(evalFile)) {
    const e = JSON.parse(fs.readFileSync(evalFile, 'utf8')) as { samples: number; budgets: BudgetRow[] };
    return {
      arm,
      seed,
      samples: e.samples,
      rows: e.budgets,
      finalEntropy: null,
      finalLength: null,
      budgetChoices: [],
      wallSeconds: done.wallSeconds,
    };
  }
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as {
    eval?: { rows: BudgetRow[] };
  };
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { eval: { samples: number } };
  if (!summary.eval) throw new Error(`experiment: ${dir} has no final evaluation in summary.json`);
  const lines = fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const steps = lines.filter((m) => m.type === undefined).slice(-10);
  const avg = (k: string) => (steps.length ? mean(steps.map((m) => m[k] as number)) : null);
  const budgetChoices = lines
    .filter((m) => m.type === 'budget-choice')
    .map((m) => ({ stage: m.stage as number, budget: m.budget as number, reason: m.reason as string }));
  return {
    arm,
    seed,
    samples: config.eval.samples,
    rows: summary.eval.rows,
    finalEntropy: avg('entropy'),
    finalLength: avg('lengthMean'),
    budgetChoices,
    wallSeconds: done.wallSeconds,
  };
}

/** Per-problem pass@k at one budget (evaluation-set order). */
export function perProblem(r: CellResult, budget: number, k: number): number[] {
  const row = r.rows.find((x) => x.budget === budget);
  if (!row) return [];
  return row.correct.map((c) => passAtK(r.samples, c, k));
}

export interface ArmBudget {
  budget: number;
  pass1: Ci;
  pass4: Ci;
  pass1PerSeed: number[];
  entropy: number;
  uniqueAttempts: number;
  attempts: number;
  length: number;
}

export interface Diff {
  a: string;
  b: string;
  budgetA: number;
  budgetB: number;
  k: number;
  ci: Ci;
  perSeed: number[];
}

/** pass@k of arm `a` at budgetA minus arm `b` at budgetB, paired by (seed, problem); only seeds both have. */
export function pairedDiff(
  results: readonly CellResult[],
  a: string,
  budgetA: number,
  b: string,
  budgetB: number,
  k = 1,
): Diff | null {
  const strata: number[][] = [];
  const perSeed: number[] = [];
  for (const ra of results.filter((r) => r.arm === a)) {
    const rb = results.find((r) => r.arm === b && r.seed === ra.seed);
    if (!rb) continue;
    const xa = perProblem(ra, budgetA, k),
      xb = perProblem(rb, budgetB, k);
    if (xa.length === 0 || xa.length !== xb.length) continue;
    const d = xa.map((x, i) => x - xb[i]!);
    strata.push(d);
    perSeed.push(mean(d));
  }
  if (strata.length === 0) return null;
  return {
    a,
    b,
    budgetA,
    budgetB,
    k,
    ci: bootstrapMeanCi(strata, { seed: `${a}@${budgetA}-${b}@${budgetB}/k${k}` }),
    perSeed,
  };
}

export function armBudgets(results: readonly CellResult[], arm: string): ArmBudget[] {
  const rs = results.filter((r) => r.arm === arm);
  const budgets = [...new Set(rs.flatMap((r) => r.rows.map((x) => x.budget)))].sort((x, y) => x - y);
  return budgets.map((budget) => {
    const rows = rs.map((r) => r.rows.find((x) => x.budget === budget)!).filter(Boolean);
    const pass1 = rs.map((r) => perProblem(r, budget, 1));
    return {
      budget,
      pass1: bootstrapMeanCi(pass1, { seed: `${arm}@${budget}/k1` }),
      pass4: bootstrapMeanCi(
        rs.map((r) => perProblem(r, budget, 4)),
        { seed: `${arm}@${budget}/k4` },
      ),
      pass1PerSeed: pass1.map(mean),
      entropy: mean(rows.map((x) => x.entropy)),
      uniqueAttempts: mean(rows.map((x) => x.meanUniqueAttempts)),
      attempts: mean(rows.map((x) => x.meanAttempts)),
      length: mean(rows.map((x) => x.meanLength)),
    };
  });
}

/** The comparisons E3.md's claims rest on (each only when both arms ran). */
export const COMPARISONS: [string, string, string][] = [
  ['e3', 'base', 'learning'],
  ['e3', 'mask', 'C2 negative gradients'],
  ['e3', 'no-curriculum', 'C3 coupled − none'],
  ['e3', 'budget-only', 'C3 coupled − budget-only'],
  ['budget-only', 'no-curriculum', 'C3 budget-only − none'],
  ['e3', 'data-only', 'C3 coupled − data-only'],
  ['e3', 'no-asymmetry', 'C1 asymmetry'],
  ['overlong-soft', 'e3', 'overlong: soft punishment − none (issue #19)'],
  ['no-asymmetry', 'base-noverify', 'learning (noverify base)'],
];

export interface ExperimentSummary {
  btr: number;
  arms: Record<
    string,
    {
      seeds: number;
      budgets: ArmBudget[];
      gain4x: Diff | null;
      ratio4x: number | null;
      finalEntropy: number | null;
      finalLength: number | null;
      budgetChoices: number[][];
    }
  >;
  diffs: (Diff & { claim: string })[];
  markdown: string;
}

export function summarizeExperiment(results: readonly CellResult[], armOrder: readonly string[]): ExperimentSummary {
  const arms: ExperimentSummary['arms'] = {};
  const present = armOrder.filter((a) => results.some((r) => r.arm === a));
  const top = 4 * B_TR;
  for (const arm of present) {
    const rs = results.filter((r) => r.arm === arm);
    const budgets = armBudgets(results, arm);
    const at = (b: number) => budgets.find((x) => x.budget === b)?.pass1.mean;
    const a = at(B_TR),
      c = at(top);
    const nums = (xs: (number | null)[]) => xs.filter((x): x is number => x !== null);
    arms[arm] = {
      seeds: rs.length,
      budgets,
      gain4x: pairedDiff(results, arm, top, arm, B_TR),
      ratio4x: a && c !== undefined ? c / a : null,
      finalEntropy: nums(rs.map((r) => r.finalEntropy)).length ? mean(nums(rs.map((r) => r.finalEntropy))) : null,
      finalLength: nums(rs.map((r) => r.finalLength)).length ? mean(nums(rs.map((r) => r.finalLength))) : null,
      budgetChoices: rs.map((r) => r.budgetChoices.map((x) => x.budget)),
    };
  }
  const diffs: ExperimentSummary['diffs'] = [];
  for (const [a, b, claim] of COMPARISONS) {
    for (const m of [1, 2, 4]) {
      const d = pairedDiff(results, a, m * B_TR, b, m * B_TR);
      if (d) diffs.push({ ...d, claim });
    }
  }
  return { btr: B_TR, arms, diffs, markdown: renderMarkdown(arms, diffs) + c4Markdown(results, arms) };
}

function renderMarkdown(arms: ExperimentSummary['arms'], diffs: ExperimentSummary['diffs']): string {
  const budgets = [...new Set(Object.values(arms).flatMap((a) => a.budgets.map((b) => b.budget)))].sort(
    (x, y) => x - y,
  );
  const seedVals = (xs: number[]) => `(${xs.map((x) => x.toFixed(3)).join(', ')})`;
  const out = [
    `B_tr = ${B_TR} tokens. pass@k pooled over seeds, [95% bootstrap CI over held-out problems, stratified by seed]; per-seed values in parentheses (the training noise the CI does not include).`,
    '',
    `| arm | seeds | ${budgets.map((b) => `pass@1 @${b}`).join(' | ')} | pass@4 @${4 * B_TR} | gain @${4 * B_TR} − @${B_TR} | ratio | entropy @${4 * B_TR} | unique attempts @${4 * B_TR} | train length (last 10) | budgets chosen |`,
    `|---|---|${budgets.map(() => '---').join('|')}|---|---|---|---|---|---|---|`,
    ...Object.entries(arms).map(([arm, a]) => {
      const top = a.budgets.find((b) => b.budget === 4 * B_TR);
      const cells = [
        arm,
        String(a.seeds),
        ...budgets.map((b) => {
          const x = a.budgets.find((y) => y.budget === b);
          return x ? `${formatCi(x.pass1)} ${seedVals(x.pass1PerSeed)}` : '—';
        }),
        formatCi(top?.pass4),
        formatCi(a.gain4x?.ci),
        a.ratio4x?.toFixed(2) ?? '—',
        top?.entropy.toFixed(3) ?? '—',
        top?.uniqueAttempts.toFixed(2) ?? '—',
        a.finalLength?.toFixed(1) ?? '—',
        a.budgetChoices
          .filter((c) => c.length)
          .map((c) => c.join('→'))
          .join('; ') || '—',
      ];
      return `| ${cells.join(' | ')} |`;
    }),
    '',
    'Paired differences of pass@1 (same seed, same problems, same sample streams):',
    '',
    '| claim | difference | budget | Δ pass@1 [95% CI] | per seed |',
    '|---|---|---|---|---|',
    ...diffs.map((d) => `| ${d.claim} | ${d.a} − ${d.b} | ${d.budgetA} | ${formatCi(d.ci)} | ${seedVals(d.perSeed)} |`),
  ];
  return out.join('\n') + '\n';
}

/** C4: where the coupled rule's choice (e3, seed 0) falls among the e3 arm trained at each fixed ladder budget. */
function c4Markdown(results: readonly CellResult[], arms: ExperimentSummary['arms']): string {
  const fixed = Object.keys(arms)
    .filter((a) => /^e3-at-\d+$/.test(a))
    .sort((x, y) => Number(x.slice(6)) - Number(y.slice(6)));
  if (fixed.length === 0) return '';
  const rule = results.find((r) => r.arm === 'e3' && r.seed === 0)?.budgetChoices.map((c) => c.budget) ?? [];
  const budgets = [...new Set(fixed.flatMap((a) => arms[a]!.budgets.map((b) => b.budget)))].sort((x, y) => x - y);
  const e3 = results.find((r) => r.arm === 'e3' && r.seed === 0);
  const dataOnly = results.find((r) => r.arm === 'data-only' && r.seed === 0);
  const e3Row = e3
    ? `| e3, the rule's choice (${rule.join('→') || '?'}) | ${budgets.map((b) => mean(perProblem(e3, b, 1)).toFixed(3)).join(' | ')} |`
    : '';
  return [
    '',
    `C4, seed 0: the e3 arm at each fixed budget of the ladder against the coupled rule's choice (pass@1, [95% CI over problems]):`,
    '',
    `| budget | ${budgets.map((b) => `pass@1 @${b}`).join(' | ')} |`,
    `|---|${budgets.map(() => '---').join('|')}|`,
    ...fixed.map(
      (a) =>
        `| fixed ${a.slice(6)} | ${budgets.map((b) => formatCi(arms[a]!.budgets.find((x) => x.budget === b)?.pass1)).join(' | ')} |`,
    ),
    ...(dataOnly
      ? [
          `| fixed ${B_TR} (the data-only arm) | ${budgets.map((b) => mean(perProblem(dataOnly, b, 1)).toFixed(3)).join(' | ')} |`,
        ]
      : []),
    e3Row,
    '',
  ].join('\n');
}

/** One arm's chained-attempts table (the authors' protocol): pass@1 after a cut at C attempts, pooled over seeds. */
export interface CutSummary {
  arm: string;
  seeds: number;
  cuts: { cut: number; pass1: Ci; attempts: number; forced: number }[];
}

/** Reads the `cut-ARM/seed-N` cells (eval --cut-after) of an experiment directory. */
export function summarizeCuts(out: string, arms: readonly string[], seeds: number): CutSummary[] {
  const rows: CutSummary[] = [];
  for (const arm of arms) {
    const cells: { samples: number; rows: CutRow[] }[] = [];
    for (let seed = 0; seed < seeds; seed++) {
      const f = path.join(out, `cut-${arm}`, `seed-${seed}`, 'eval.json');
      if (fs.existsSync(f)) cells.push(JSON.parse(fs.readFileSync(f, 'utf8')) as { samples: number; rows: CutRow[] });
    }
    if (cells.length === 0) continue;
    const cuts = cells[0]!.rows.map((r) => r.cut);
    rows.push({
      arm,
      seeds: cells.length,
      cuts: cuts.map((cut) => {
        const at = cells.map((c) => c.rows.find((r) => r.cut === cut)!);
        return {
          cut,
          pass1: bootstrapMeanCi(
            at.map((r, i) => r.correct.map((k) => k / cells[i]!.samples)),
            { seed: `cut-${arm}@${cut}` },
          ),
          attempts: mean(at.map((r) => r.meanAttempts)),
          forced: mean(at.map((r) => r.forcedShare)),
        };
      }),
    });
  }
  return rows;
}

export function cutsMarkdown(cuts: readonly CutSummary[]): string {
  if (cuts.length === 0) return '';
  const cs = cuts[0]!.cuts.map((c) => c.cut);
  const lines = [
    "\nThe authors' chained-attempts protocol at the end of training (each trace cut after C attempts, the answer forced; pass@1 [95% CI], mean attempts):\n",
    `| policy | seeds | ${cs.map((c) => `C = ${c}`).join(' | ')} |`,
    `|---|---:|${cs.map(() => '---').join('|')}|`,
    ...cuts.map(
      (a) =>
        `| ${a.arm} | ${a.seeds} | ${a.cuts.map((c) => `${formatCi(c.pass1)}, ${c.attempts.toFixed(2)}`).join(' | ')} |`,
    ),
  ];
  return lines.join('\n') + '\n';
}
