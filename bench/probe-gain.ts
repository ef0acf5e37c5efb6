/**
 * The table of bench/probe-e3.sh: held-out pass@1 at 72 / 144 / 288 tokens of the base and the
 * trained policy, and the paired gain 288 − 72 (per held-out problem, the same samples truncated)
 * with its 95% bootstrap CI.
 *   npx tsx bench/probe-gain.ts DIR
 */
import fs from 'node:fs';
import path from 'node:path';
import { bootstrapMeanCi, formatCi } from '../src/util/stats.js';

type Row = { budget: number; passAt: Record<string, number>; correct: number[]; meanLength: number };
const dir = process.argv[2]!;
console.log(
  '| numbers | policy | pass@1 @72 | @144 | @288 | gain 288 − 72 [95% CI] | length @288 |\n|---|---|---|---|---|---|---|',
);
for (const d of [3, 4])
  for (const who of ['base', 'trained']) {
    const f = path.join(dir, `eval-${who}-d${d}.json`);
    if (!fs.existsSync(f)) continue;
    const doc = JSON.parse(fs.readFileSync(f, 'utf8')) as { budgets: Row[]; samples: number };
    const at = (b: number) => doc.budgets.find((r) => r.budget === b)!;
    const diff = at(288).correct.map((c, i) => (c - at(72).correct[i]!) / doc.samples);
    const ci = bootstrapMeanCi([diff], { seed: `probe/${d}/${who}` });
    const pass = [72, 144, 288].map((b) => at(b).passAt['1']!.toFixed(3)).join(' | ');
    console.log(`| ${d} | ${who} | ${pass} | ${formatCi(ci)} | ${at(288).meanLength.toFixed(1)} |`);
  }
