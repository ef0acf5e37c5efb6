/**
 * One markdown row per arm of each `e3sim pk --json` result (docs/PK.md "What each setting
 * changes"), mean [min, max] over seeds:
 *   npx tsx bench/pk-ablation-table.ts bench/results/pk-fig7.json bench/results/pk-ablation-*.json
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PkLogRow, PkSummary } from '../src/experiments/pk.js';
import { formatSpread, spread } from '../src/util/stats.js';

type Run = { summary: PkSummary; log: PkLogRow[]; wallSeconds: number };
const AT = 2000;
const cell = (runs: Run[], f: (r: Run) => number | null, d = 2) => {
  const xs = runs.map(f).filter((x): x is number => x !== null && Number.isFinite(x));
  const s = formatSpread(spread(xs), d);
  return xs.length < runs.length ? `${xs.length ? s : '—'} (${runs.length - xs.length}/${runs.length} none)` : s;
};
const at = (r: Run, step: number) => r.log.find((l) => l.step === step) ?? null;
console.log(
  `| result | arm | settings | E[len] start | length at ${AT} | length peak (iteration) | p(stop) start → at ${AT} → end | transition | entropy start → peak | largest E[len] change | iterations with an update |`,
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const file of process.argv.slice(2)) {
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    preset: string;
    config: Record<string, unknown>;
    runs: Run[];
  };
  const c = j.config;
  const updatesOf = (r: Run) => r.log.reduce((a, b) => a + b.updates, 0);
  const settings = `${j.preset}: ${c.actions} actions, ${c.advantage}, G ${c.groupSize}, ${c.optimizer} lr ${c.lr}, ${c.steps} iterations`;
  for (const arm of ['keep', 'mask'] as const) {
    const runs = j.runs.filter((r) => r.summary.negatives === arm);
    if (runs.length === 0) continue;
    console.log(
      `| ${path.basename(file, '.json')} | ${arm} | ${settings} | ${cell(runs, (r) => r.summary.expectedLengthStart)}` +
        ` | ${cell(runs, (r) => at(r, AT)?.meanLength ?? null)} | ` +
        `${cell(runs, (r) => r.summary.lengthPeak)} (${cell(runs, (r) => r.summary.lengthPeakStep, 0)}) | ` +
        (`${cell(runs, (r) => r.summary.pStopStart, 4)} → ${cell(runs, (r) => at(r, AT)?.pStop ?? null, 4)}` +
          ` → ${cell(runs, (r) => r.summary.pStopEnd, 4)} | `) +
        (`${cell(runs, (r) => r.summary.iterationOfTransition, 0)} | ${cell(runs, (r) => r.summary.entropyStart, 3)}` +
          ` → ${cell(runs, (r) => r.summary.entropyPeak, 3)} | `) +
        (`${cell(runs, (r) => r.summary.expectedLengthMaxChange, 3)} | ${cell(runs, (r) => updatesOf(r), 0)}` + ` |`),
    );
  }
}
