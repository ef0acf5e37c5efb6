import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { readRun, renderReport } from '../../report/html.js';
import { findArms, renderComparison } from '../../report/compare.js';
import { InputError } from '../../util/errors.js';
import { printJson } from '../common.js';
import { writeFileAtomic } from '../../util/atomic.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('one self-contained offline HTML report of a training run, or a comparison of a directory of runs')
    .argument('<runDir>', 'a run directory, or a directory of runs (DIR/RUN/ or DIR/ARM/SEED/)')
    .option('--out <file>', 'output file (default RUN_DIR/report.html)')
    .option('--json', 'print {report, bytes, kind} instead of the line')
    .action((runDir: string, o: { out?: string; json?: boolean }) => {
      if (!fs.existsSync(runDir) || !fs.statSync(runDir).isDirectory())
        throw new InputError(`RUN_DIR: '${runDir}' is not a directory`);
      const out = o.out ?? path.join(runDir, 'report.html');
      // A run directory gets the run report; a directory of runs (experiment, scenario) the comparison.
      const kind = fs.existsSync(path.join(runDir, 'config.json')) ? 'run' : 'comparison';
      let html: string;
      if (kind === 'run') {
        const run = readRun(runDir);
        for (const w of run.warnings) process.stderr.write(`warning: ${w}\n`);
        html = renderReport(run);
      } else html = renderComparison(path.basename(path.resolve(runDir)), findArms(runDir));
      writeFileAtomic(out, html);
      if (o.json) return printJson({ report: out, bytes: Buffer.byteLength(html), kind });
      process.stdout.write(`${out} (${(html.length / 1e6).toFixed(1)} MB)\n`);
    });
}
