import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { wallNow } from '../../runtime/clock.js';
import { printJson } from '../common.js';
import { InputError } from '../../util/errors.js';
import { cellOutcome, expandCells, loadScenario, resultsMarkdown, type CellResult } from '../../sim/scenario.js';
import { runVirtual } from '../../sim/run.js';
import { SimInvariantError } from '../../sim/engine.js';
import { writeFileAtomic } from '../../util/atomic.js';

export function registerScenario(program: Command): void {
  program
    .command('scenario')
    .description('run a scenario grid on the virtual clock (examples/scenarios/*.yaml; see docs/STALENESS.md)')
    .argument('<file>', 'scenario YAML')
    .option('--out <dir>', 'output directory (default runs/scenarios/<name>[-quick])')
    .option('--quick', "the scenario's reduced form (its `quick:` overrides): what CI runs")
    .option('--json', 'print results.json')
    .option('--quiet', 'no progress lines')
    .action(async (file: string, o: { out?: string; quick?: boolean; json?: boolean; quiet?: boolean }) => {
      const { scenario, dir } = loadScenario(file, Boolean(o.quick));
      const cells = expandCells(scenario, dir); // every cell's config is checked before anything runs
      const out = o.out ?? path.join('runs', 'scenarios', `${scenario.name}${o.quick ? '-quick' : ''}`);
      if (fs.existsSync(out) && fs.readdirSync(out).length > 0)
        throw new InputError(`--out: '${out}' already exists and is not empty; choose another --out`);
      fs.mkdirSync(path.join(out, 'cells'), { recursive: true });
      const log = o.quiet || o.json ? () => {} : (s: string) => process.stderr.write(`${s}\n`);
      const command = `e3sim scenario ${process.argv.slice(3).join(' ')}`;
      const t0 = wallNow();
      const results: CellResult[] = [];
      for (const [i, cell] of cells.entries()) {
        const cellDir = path.join(out, 'cells', cell.name);
        fs.mkdirSync(cellDir, { recursive: true });
        writeFileAtomic(path.join(cellDir, 'config.json'), JSON.stringify(cell.config, null, 2) + '\n');
        const c0 = wallNow();
        let r: CellResult;
        try {
          const every = Math.max(1, Math.ceil(cell.settings.maxSteps / 5));
          const { status, summary } = await runVirtual({
            config: cell.config,
            settings: cell.settings,
            dir: cellDir,
            now: wallNow,
            onStep: (m) => {
              const k = m.step as number;
              if (k % every === 0 && k < cell.settings.maxSteps)
                log(
                  `  ${cell.name}: step ${k}/${cell.settings.maxSteps} (simulated ${(m.t as number).toFixed(1)} s, ${((wallNow() - c0) / 1000).toFixed(0)} s)`,
                );
            },
          });
          r = {
            name: cell.name,
            params: cell.params,
            status,
            summary,
            ...cellOutcome(path.join(cellDir, 'metrics.jsonl')),
          };
        } catch (e) {
          if (e instanceof InputError) throw e;
          const msg = e instanceof Error ? e.message : String(e);
          r = {
            name: cell.name,
            params: cell.params,
            status: e instanceof SimInvariantError ? 'invariant-violated' : 'failed',
            error: msg,
            summary: {},
            trainPassLast: null,
            evalPass1: null,
          };
        }
        results.push(r);
        const s = r.summary as {
          simSeconds?: number;
          staleness?: { mean: number; max: number };
          rolloutsLost?: number;
        };
        log(
          `[${i + 1}/${cells.length}] ${cell.name}: ${r.status} in ${((wallNow() - c0) / 1000).toFixed(1)} s` +
            (r.status === 'done'
              ? ` (simulated ${s.simSeconds!.toFixed(1)} s; staleness ${s.staleness!.mean.toFixed(2)}` +
                `/${s.staleness!.max}; lost ${s.rolloutsLost}` +
                (r.trainPassLast !== null && scenario.compute === 'real'
                  ? `; train pass ${r.trainPassLast.toFixed(3)}`
                  : '') +
                `)`
              : `: ${r.error}`),
        );
      }
      const doc = {
        scenario: scenario.name,
        file,
        quick: Boolean(o.quick),
        command,
        wallSeconds: (wallNow() - t0) / 1000,
        profile: scenario.profile,
        compute: scenario.compute,
        sweep: scenario.sweep,
        cells: results,
      };
      writeFileAtomic(path.join(out, 'results.json'), JSON.stringify(doc, null, 2) + '\n');
      writeFileAtomic(
        path.join(out, 'results.md'),
        resultsMarkdown(scenario, results, command) + `\nTotal wall time: ${doc.wallSeconds.toFixed(0)} s.\n`,
      );
      if (o.json) printJson(doc);
      else
        process.stdout.write(
          `${results.length} cells, ${results.filter((r) => r.status === 'done').length} done: ${path.join(out, 'results.md')}\n`,
        );
      const bad = results.filter((r) => r.status !== 'done');
      if (bad.length) {
        process.stderr.write(`${bad.length} cell(s) failed: ${bad.map((r) => r.name).join(', ')}\n`);
        process.exitCode = 1;
      }
    });
}
