// Paired pass@1 differences across two grids' analysis-cells.json (written by e3sim scenario):
// each combination of grid A against one combination of grid B, paired by seed and problem (the
// grids must share the evaluation: the same seeds, problems and sample streams). With two or more
// evaluation budgets, also at the last budget, for the extrapolation gain (last − first) and for the
// extrapolation ratio (pooled pass@1 at the last budget over the first; its difference resampled
// by problem within seeds: src/util/stats.ts bootstrapStatCi).
// A and B may be the same file (e.g. every correction at η 16 against none at η 16).
//   npx tsx bench/paired-gap.ts A/analysis-cells.json B/analysis-cells.json 'staleness.bound=0,learner.correction=none'
// The reference key is B's combination without its seed; '' when B sweeps seeds only.
import fs from 'node:fs';
import type { CellFigures } from '../src/experiments/sweepAnalysis.js';
import { bootstrapMeanCi, bootstrapStatCi, formatCi } from '../src/util/stats.js';

const [fa, fb, refKey = ''] = process.argv.slice(2) as [string, string, string?];
if (!fa || !fb) {
  console.error('usage: npx tsx bench/paired-gap.ts A/analysis-cells.json B/analysis-cells.json [B-combination]');
  process.exit(2);
}
/** A combination's name in the table ('' is a grid that sweeps seeds only). */
const label = (k: string) => (k === '' ? '(seeds only)' : k);
const read = (f: string) => JSON.parse(fs.readFileSync(f, 'utf8')) as CellFigures[];
const key = (c: CellFigures) =>
  Object.entries(c.params)
    .map(([k, v]) => `${k}=${v && typeof v === 'object' ? Object.values(v).join('-') : String(v)}`)
    .join(',');
const a = read(fa);
const ref = read(fb).filter((c) => key(c) === refKey);
if (ref.length === 0) throw new Error(`no cell of ${fb} is '${refKey}'`);
const keys = [...new Set(a.map(key))];
/** The cells of combination `k`, each with the reference cell of its seed (cells without one are left out). */
const pairsOf = (k: string) =>
  a
    .filter((c) => key(c) === k)
    .map((c) => [c, ref.find((r) => r.seed === c.seed)] as const)
    .filter((p): p is readonly [CellFigures, CellFigures] => p[1] !== undefined);
/** Per seed, per problem: `f(cell) − f(reference)`, for the cells of combination `k` with a reference of their seed. */
const strataOf = (k: string, f: (c: CellFigures) => number[] | undefined) =>
  pairsOf(k)
    .filter(([c, r]) => f(c) && f(r) && f(r)!.length === f(c)!.length)
    .map(([c, r]) => f(c)!.map((x, j) => x - f(r)![j]!));
/**
 * Per seed, per problem: [A first, A last, reference first, reference last] — the units whose
 * column means give the two extrapolation ratios.
 */
const ratioUnits = (k: string) =>
  pairsOf(k)
    .filter(([c, r]) => c.pass1Last && r.pass1Last && r.pass1.length === c.pass1.length)
    .map(([c, r]) => c.pass1.map((x, j) => [x, c.pass1Last![j]!, r.pass1[j]!, r.pass1Last![j]!]));
/** The extrapolation gain per problem: pass@1 at the last budget less at the first. */
const gain = (c: CellFigures) => c.pass1Last?.map((x, j) => x - c.pass1[j]!);
const last = a.some((c) => c.pass1Last);
const [b0, b1] = [a[0]?.budget, a[0]?.budgetLast];
const lastHeads = last ? ` Δ pass@1 @${b1} | Δ gain (@${b1} − @${b0}) | Δ ratio (@${b1} / @${b0}) |` : '';
console.log(`| ${fa} | Δ pass@1 @${b0} vs ${label(refKey)} of ${fb} [95% CI, paired] |${lastHeads} seeds |`);
console.log(`|---|---|${last ? '---|---|---|' : ''}---|`);
for (const k of keys) {
  const ci = (f: (c: CellFigures) => number[] | undefined, what: string) =>
    formatCi(bootstrapMeanCi(strataOf(k, f), { seed: `gap/${what}/${k}/${refKey}` }));
  // the first budget keeps the resampling seed this script always used, so its CIs are unchanged
  const cols = [
    formatCi(
      bootstrapMeanCi(
        strataOf(k, (c) => c.pass1),
        { seed: `gap/${k}/${refKey}` },
      ),
    ),
  ];
  if (last)
    cols.push(
      ci((c) => c.pass1Last, 'last'),
      ci(gain, 'gain'),
      formatCi(
        bootstrapStatCi(ratioUnits(k), (m) => m[1]! / m[0]! - m[3]! / m[2]!, { seed: `gap/ratio/${k}/${refKey}` }),
        2,
      ),
    );
  console.log(`| ${label(k)} | ${cols.join(' | ')} | ${strataOf(k, (c) => c.pass1).length} |`);
}
