// Re-renders a finished scenario grid's results.md, analysis.{md,json} and report.html from its
// results.json and cell directories (with the current table code), e.g. after a grid finished on
// an older commit, or to look at a grid still running (its finished cells only):
//   npx tsx bench/staleness-pivot.ts examples/scenarios/staleness-sweep.yaml runs/scenarios/staleness-sweep
import fs from 'node:fs';
import path from 'node:path';
import { expandCells, loadScenario, resultsMarkdown, type CellResult } from '../src/experiments/scenario.js';
import { writeAnalysis } from '../src/experiments/sweepAnalysis.js';

const [file, dir] = [process.argv[2]!, process.argv[3]!];
const { scenario, dir: scenarioDir } = loadScenario(file, false);
const order = expandCells(scenario, scenarioDir).map((c) => c.name);
const resultsFile = path.join(dir, 'results.json');
// A running grid has no results.json yet: its finished cells' cell-result.json files stand in.
const doc = fs.existsSync(resultsFile)
  ? (JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as { command: string; wallSeconds: number; cells: CellResult[] })
  : {
      command: `e3sim scenario ${file} (partial: finished cells only)`,
      wallSeconds: 0,
      cells: fs
        .readdirSync(path.join(dir, 'cells'))
        .filter((n) => fs.existsSync(path.join(dir, 'cells', n, 'cell-result.json')))
        .sort((a, b) => order.indexOf(a) - order.indexOf(b))
        .map((n) => JSON.parse(fs.readFileSync(path.join(dir, 'cells', n, 'cell-result.json'), 'utf8')) as CellResult),
    };
const write = (f: string, t: string) => fs.writeFileSync(f, t);
const md = writeAnalysis(dir, scenario.name, doc.cells, write);
write(
  path.join(dir, 'results.md'),
  resultsMarkdown(scenario, doc.cells, doc.command) +
    (md ? `\n## Learning outcome with CIs\n\n${md}` : '') +
    `\nTotal wall time: ${doc.wallSeconds.toFixed(0)} s.\n`,
);
process.stdout.write(md);
