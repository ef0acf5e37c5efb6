// Re-renders a finished staleness sweep's results.md from its results.json (with the current table code) and
// prints the pivot tables of docs/STALENESS.md:  npx tsx bench/staleness-pivot.ts
// examples/scenarios/staleness-sweep.yaml runs/scenarios/staleness-sweep
import fs from 'node:fs';
import { loadScenario, resultsMarkdown, type CellResult } from '../src/sim/scenario.js';
import { formatSpread, spread } from '../src/util/stats.js';

const mean = (xs: number[]) => xs.reduce((a, v) => a + v, 0) / xs.length;
const [file, dir] = [process.argv[2]!, process.argv[3]!];
const { scenario } = loadScenario(file, false);
const doc = JSON.parse(fs.readFileSync(`${dir}/results.json`, 'utf8')) as {
  command: string;
  wallSeconds: number;
  cells: CellResult[];
};
fs.writeFileSync(
  `${dir}/results.md`,
  resultsMarkdown(scenario, doc.cells, doc.command) + `\nTotal wall time: ${doc.wallSeconds.toFixed(0)} s.\n`,
);
const bounds = scenario.sweep['staleness.bound']!.map(String);
const corrs = scenario.sweep['learner.correction']!.map(String);
const cell = (b: string, c: string) =>
  doc.cells.filter(
    (x) =>
      String(x.params['staleness.bound']) === b && String(x.params['learner.correction']) === c && x.status === 'done',
  );
const agg = (xs: number[], d: number) => formatSpread(spread(xs), d);
for (const [title, f, d] of [
  [
    'held-out pass@1 at budget 96 (32 problems × 4 samples), mean [min, max] over seeds',
    (x: CellResult) => Object.values(x.evalPass1 ?? {})[0] as number,
    3,
  ],
  ['final training pass rate (last 5 steps)', (x: CellResult) => x.trainPassLast as number, 3],
  [
    'mean staleness (versions) / rollouts dropped stale',
    (x: CellResult) => (x.summary.staleness as { mean: number }).mean,
    2,
  ],
] as const) {
  console.log(`\n${title}\n\n| bound η | ${corrs.join(' | ')} |\n|---|${corrs.map(() => '---').join('|')}|`);
  for (const b of bounds)
    console.log(
      `| ${b} | ${corrs
        .map((c) => {
          const xs = cell(b, c);
          if (!xs.length) return '—';
          const main = agg(xs.map(f), d);
          return title.startsWith('mean staleness')
            ? `${mean(xs.map(f)).toFixed(2)} / ${Math.round(mean(xs.map((x) => x.summary.rolloutsDroppedStale as number)))}`
            : main;
        })
        .join(' | ')} |`,
    );
}
const sph = (b: string) =>
  doc.cells
    .filter((x) => String(x.params['staleness.bound']) === b && x.params['learner.correction'] === 'none')
    .map((x) => x.summary.stepsPerSimHour as number);
console.log(
  `\nsteps per simulated hour (correction none): ${bounds.map((b) => `${b}: ${Math.round(sph(b).reduce((a, v) => a + v, 0) / Math.max(1, sph(b).length))}`).join(', ')}`,
);
