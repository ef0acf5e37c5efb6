/**
 * docs/PK.md's tables from `e3sim pk --seeds K --json` (both arms): Fig 7's numbers beside ours,
 * mean [min, max] over seeds, and the issue's targets checked per seed.
 *   npx tsx bench/pk-table.ts bench/results/pk-fig7.json [AT]
 * AT (default 2000): the iteration of the middle column (Fig 7: length 36, p(stop) 0.019 at 2000).
 */
import fs from 'node:fs';
import type { PkLogRow, PkSummary } from '../src/experiments/pk.js';
import { formatSpread, mean, spread } from '../src/util/stats.js';

const file = process.argv[2];
if (!file) throw new Error('usage: npx tsx bench/pk-table.ts RESULTS.json [AT]');
const at = Number(process.argv[3] ?? 2000);
const j = JSON.parse(fs.readFileSync(file, 'utf8')) as {
  preset: string;
  runs: { summary: PkSummary; log: PkLogRow[]; wallSeconds: number }[];
  wallSeconds: number;
};
type Run = (typeof j.runs)[number];
const arm = (n: 'keep' | 'mask') => j.runs.filter((r) => r.summary.negatives === n);
const row = (r: Run, step: number) => r.log.find((l) => l.step === step) ?? null;
const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
const cell = (runs: Run[], f: (r: Run) => number | null, d = 2) => {
  const xs = runs.map(f).filter((x): x is number => x !== null);
  return xs.length < runs.length
    ? `${formatSpread(spread(xs), d)} (${runs.length - xs.length} of ${runs.length}: none)`
    : formatSpread(spread(xs), d);
};

console.log(
  `### ${j.preset}: ${arm('keep').length} seeds a arm, ${j.wallSeconds.toFixed(1)} s for all ${j.runs.length} runs\n`,
);
console.log('| GRPO (keep) | Fig 7 | ours: mean [min, max] |');
console.log('|---|---|---|');
const k = arm('keep');
const lines: [string, string, (r: Run) => number | null, number?][] = [
  ['length, first logged window', '13.3 (iteration 100)', (r) => r.summary.lengthStart],
  ["length, the initial policy's exact expectation", '—', (r) => r.summary.expectedLengthStart],
  [`length at iteration ${at}`, '36 (2000)', (r) => row(r, at)?.meanLength ?? null],
  ['length peak', '53.7', (r) => r.summary.lengthPeak],
  ['iteration of the peak', '≈ 2600', (r) => r.summary.lengthPeakStep, 0],
  ['length at the end', '4.7', (r) => r.summary.lengthEnd],
  ['p(stop) at the start', '0.078', (r) => r.summary.pStopStart, 4],
  [`p(stop) at iteration ${at}`, '0.019 (2000)', (r) => row(r, at)?.pStop ?? null, 4],
  ['p(stop) at the end', '0.0006', (r) => r.summary.pStopEnd, 4],
  ['p(a*) at the end (mean over states)', '0.21', (r) => r.log.at(-1)!.pAnswer, 3],
  [
    'iteration of the transition (window reward ≥ 0.9)',
    '≈ 3000 (0 until 2800, 0.92 at 3000)',
    (r) => r.summary.iterationOfTransition,
    0,
  ],
  ['reward at the end', '1.0', (r) => r.summary.rewardEnd, 3],
  ['entropy at the start (nats)', '4.42', (r) => r.summary.entropyStart, 3],
  ['entropy peak', '4.59 (≈ 1000)', (r) => r.summary.entropyPeak, 3],
  ['iteration of the entropy peak', '≈ 1000', (r) => r.summary.entropyPeakStep, 0],
  [
    'entropy at the transition',
    '4.39 (2750)',
    (r) => (r.summary.iterationOfTransition === null ? null : row(r, r.summary.iterationOfTransition)!.entropy),
    3,
  ],
  ['entropy at the end', '—', (r) => r.summary.entropyEnd, 3],
  ['wall seconds a run', '—', (r) => r.wallSeconds, 1],
];
for (const [name, fig, f, d] of lines) console.log(`| ${name} | ${fig} | ${cell(k, f, d ?? 2)} |`);

const m = arm('mask');
const windows = (r: Run) => r.log.map((l) => l.meanLength);
console.log('\n| GRPOMask (mask) | Fig 7 | ours: mean [min, max] |');
console.log('|---|---|---|');
const mlines: [string, string, (r: Run) => number | null, number?][] = [
  ['length, first logged window', '11.9 ± 1.2 over 4,400 iterations', (r) => r.summary.lengthStart],
  ['length, mean of the logged windows', '11.9', (r) => mean(windows(r))],
  ['length, sd of the logged windows', '1.2', (r) => sd(windows(r))],
  ["length, the policy's exact expectation at the start", '—', (r) => r.summary.expectedLengthStart],
  ['… at the end', '—', (r) => r.summary.expectedLengthEnd],
  ['… largest change over the run, |E/E₀ − 1|', 'flat', (r) => r.summary.expectedLengthMaxChange, 4],
  ['p(stop) at the start', '0.077 ± 0.003', (r) => r.summary.pStopStart, 4],
  ['p(stop) at the end', '0.077', (r) => r.summary.pStopEnd, 4],
  ['largest window reward', '0', (r) => r.summary.rewardMax, 3],
  ['iterations with an update (a hit)', '≈ 1 in 4,400', (r) => r.log.reduce((a, b) => a + b.updates, 0), 0],
  ['entropy at the start → end (nats)', '4.411, flat', (r) => r.summary.entropyEnd - r.summary.entropyStart, 5],
  ['wall seconds a run', '—', (r) => r.wallSeconds, 1],
];
for (const [name, fig, f, d] of mlines) console.log(`| ${name} | ${fig} | ${cell(m, f, d ?? 2)} |`);

// The targets (#15), seed by seed.
console.log('\nTargets, seed by seed:');
for (const r of k) {
  const s = r.summary;
  const peakBefore = s.iterationOfTransition !== null && s.lengthPeakStep < s.iterationOfTransition;
  const hBefore =
    s.iterationOfTransition !== null && s.entropyPeakStep < s.iterationOfTransition && s.entropyPeak > s.entropyStart;
  console.log(
    `- keep seed ${s.seed}: start ${s.lengthStart.toFixed(2)} in 11–15 ${s.lengthStart >= 11 && s.lengthStart <= 15 ? 'yes' : 'NO'}; ` +
      `peak ${s.lengthPeak.toFixed(1)} ≥ 40 and ≥ 3× start ${s.lengthPeak >= 40 && s.lengthPeak >= 3 * s.lengthStart ? 'yes' : 'NO'}; peak before the transition ${peakBefore ? 'yes' : 'NO'}; ` +
      (`transition ${s.iterationOfTransition ?? 'none'} ≤ 6000 ${s.iterationOfTransition !== null && s.iterationOfTransition <= 6000 ? 'yes' : 'NO'}` +
        `; entropy rises before it ${hBefore ? 'yes' : 'NO'}`),
  );
}
for (const r of m) {
  const s = r.summary;
  const w = windows(r).map((x) => Math.abs(x / s.lengthStart - 1));
  console.log(
    `- mask seed ${s.seed}: exact expected length within ±15% of its start ${s.expectedLengthMaxChange <= 0.15 ? 'yes' : 'NO'} (largest change ${(100 * s.expectedLengthMaxChange).toFixed(2)}%); ` +
      `every window's mean length within ±15% of the first window's ${Math.max(...w) <= 0.15 ? 'yes' : 'NO'} (largest ${(100 * Math.max(...w)).toFixed(0)}%); reward < 0.05 ${s.rewardMax < 0.05 ? 'yes' : 'NO'} (largest window ${s.rewardMax})`,
  );
}
