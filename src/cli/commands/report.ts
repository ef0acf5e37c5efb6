import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { readRun, renderReport } from '../../report/html.js';
import { InputError } from '../../util/errors.js';

export function registerReport(program: Command): void {
  program.command('report')
    .description('one self-contained offline HTML report of a training run')
    .argument('<runDir>', 'the directory of an e3sim train run')
    .option('--out <file>', 'output file (default RUN_DIR/report.html)')
    .action((runDir: string, o: { out?: string }) => {
      if (!fs.existsSync(runDir) || !fs.statSync(runDir).isDirectory()) throw new InputError(`RUN_DIR: '${runDir}' is not a directory`);
      const out = o.out ?? path.join(runDir, 'report.html');
      const html = renderReport(readRun(runDir));
      const tmp = `${out}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, html);
      fs.renameSync(tmp, out);
      process.stdout.write(`${out} (${(html.length / 1e6).toFixed(1)} MB)\n`);
    });
}
