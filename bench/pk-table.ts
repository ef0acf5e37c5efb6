/**
 * Markdown tables from `e3sim pk --json` results (docs/PK.md):
 *   npx tsx bench/pk-table.ts bench/results/pk-keep.json bench/results/pk-mask.json [STEP]
 * STEP (default 60000): a step before any run's phase transition, to compare keep and mask there.
 */
import fs from 'node:fs';
import type { PkLogRow, PkSummary } from '../src/experiments/pk.js';

const files = process.argv.slice(2).filter((a) => a.endsWith('.json'));
const at = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 60000);
const f2 = (x: number) => x.toFixed(2);
const f4 = (x: number) => x.toFixed(4);
console.log(`| file | negatives | seed | length start → max (step) → end | p(stop) start → at max → end | entropy start → max → end | reward end | at step ${at}: length, p(stop) | negative-only updates raising H (argmax mass) | wall s |`);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const file of files) {
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as { runs: { summary: PkSummary; log: PkLogRow[]; wallSeconds: number }[] };
  for (const { summary: s, log, wallSeconds } of j.runs) {
    const peak = log.find((r) => r.step === s.lengthMaxStep)!;
    const hMax = Math.max(...log.map((r) => r.entropy));
    const row = log.find((r) => r.step === at);
    const neg = s.negativeStepsEntropyUpFraction === null ? '—' : `${s.negativeStepsEntropyUpFraction.toFixed(2)} (${s.negativeStepsArgmaxMass!.toFixed(2)})`;
    console.log(`| ${file.split('/').pop()} | ${s.negatives} | ${s.seed} | ${f2(s.lengthStart)} → ${f2(s.lengthMax)} (${s.lengthMaxStep}) → ${f2(s.lengthEnd)} | ${f4(s.pStopStart)} → ${f4(peak.pStop)} → ${f4(s.pStopEnd)} | ${s.entropyStart.toFixed(3)} → ${hMax.toFixed(3)} → ${s.entropyEnd.toFixed(3)} | ${s.rewardEnd.toFixed(3)} | ${row ? `${f2(row.meanLength)}, ${f4(row.pStop)}` : '—'} | ${neg} | ${wallSeconds.toFixed(0)} |`);
  }
}
