// Paired pass@1 differences across two grids' analysis-cells.json (written by e3sim scenario):
// each combination of grid A against one combination of grid B, paired by seed and problem (the
// grids must share the evaluation: the same seeds, problems and sample streams).
//   npx tsx bench/paired-gap.ts A/analysis-cells.json B/analysis-cells.json 'staleness.bound=0,learner.correction=none'
// The reference key is B's combination without its seed; '' when B sweeps seeds only.
import fs from 'node:fs';
import type { CellFigures } from '../src/experiments/sweepAnalysis.js';
import { bootstrapMeanCi, formatCi } from '../src/util/stats.js';

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
console.log(`| ${fa} | Δ pass@1 vs ${label(refKey)} of ${fb} [95% CI, paired] | seeds |\n|---|---|---|`);
for (const k of keys) {
  const strata = a
    .filter((c) => key(c) === k)
    .map((c) => [c, ref.find((r) => r.seed === c.seed)] as const)
    .filter(([c, r]) => r && r.pass1.length === c.pass1.length)
    .map(([c, r]) => c.pass1.map((x, j) => x - r!.pass1[j]!));
  console.log(
    `| ${label(k)} | ${formatCi(bootstrapMeanCi(strata, { seed: `gap/${k}/${refKey}` }))} | ${strata.length} |`,
  );
}
