import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { ARMS, runE3Countdown, summarize, type Arm } from '../../experiments/e3Countdown.js';
import { findArms, renderComparison } from '../../report/compare.js';
import { parseBackend } from '../../tensor/backend.js';
import { wallNow } from '../../runtime/clock.js';
import { parseIntFlag, printJson, versions } from '../common.js';
import { InputError } from '../../util/errors.js';

export function registerExperiment(program: Command): void {
  program.command('experiment')
    .description('run a named experiment: e3-countdown (the e3 recipe and its ablations, each arm over seeds)')
    .argument('<name>', 'e3-countdown')
    .option('--seeds <n>', 'seeds per arm', '3')
    .option('--out <dir>', 'output directory (default runs/experiments/<name>)')
    .option('--quick', 'tiny sizes and one seed: a pipeline check, not a result')
    .option('--arms <list>', `comma-separated subset of ${ARMS.join(',')}`)
    .option('--budgets <layout>', 'short (ladder 8/16/32, B_tr 32, eval to 8x) | long (ladder 16..128, B_tr 64, eval to 4x)', 'short')
    .option('--backend <b>', 'auto|tensorflow|webgpu|wasm|cpu', 'auto')
    .option('--json', 'print results.json')
    .action(async (name: string, o: { seeds: string; out?: string; quick?: boolean; arms?: string; backend: string; budgets: string; json?: boolean }) => {
      if (o.budgets !== 'short' && o.budgets !== 'long') throw new InputError(`--budgets: expected short or long, got '${o.budgets}'`);
      const layout = o.budgets;
      if (name !== 'e3-countdown') throw new InputError(`name: unknown experiment '${name}'; expected e3-countdown`);
      const seeds = o.quick ? 1 : parseIntFlag(o.seeds, '--seeds', 1, 100);
      const arms = o.arms ? o.arms.split(',').map((a) => a.trim()) : [...ARMS];
      for (const a of arms) if (!(ARMS as readonly string[]).includes(a)) throw new InputError(`--arms: unknown arm '${a}'; expected some of ${ARMS.join(', ')}`);
      const out = o.out ?? path.join('runs', 'experiments', `${name}${layout === 'long' ? '-long' : ''}${o.quick ? '-quick' : ''}`);
      if (fs.existsSync(out) && fs.readdirSync(out).length > 0) throw new InputError(`--out: '${out}' already exists and is not empty; choose another --out`);
      const backend = parseBackend(o.backend);
      const t0 = wallNow();
      const results = await runE3Countdown({
        out, seeds, quick: Boolean(o.quick), backend, now: wallNow, arms: arms as Arm[], layout, versions: versions(),
        log: o.json ? undefined : (s) => process.stderr.write(`${s}\n`),
      });
      const s = summarize(results, layout);
      const doc = { experiment: name, budgets: layout, quick: Boolean(o.quick), seeds, wallSeconds: (wallNow() - t0) / 1000, arms: s.arms, runs: results.map((r) => ({ arm: r.arm, seed: r.seed, runDir: r.runDir, wallSeconds: r.wallSeconds, eval: r.eval, finalEntropy: r.finalEntropy, finalLength: r.finalLength })) };
      fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify(doc, null, 2) + '\n');
      fs.writeFileSync(path.join(out, 'results.md'), `# ${name}${o.quick ? ' (quick: a pipeline check, not a result)' : ''}\n\n${s.markdown}\nTotal wall time: ${doc.wallSeconds.toFixed(0)} s.\n`);
      fs.writeFileSync(path.join(out, 'report.html'), renderComparison(name, findArms(out)));
      if (o.json) return printJson(doc);
      process.stdout.write(s.markdown + `\nresults: ${path.join(out, 'results.md')}, ${path.join(out, 'results.json')}, ${path.join(out, 'report.html')}\n`);
    });
}
