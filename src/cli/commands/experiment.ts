import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import {
  ARMS,
  EXTRA_ARMS,
  C4_ARMS,
  FULL,
  PROBE,
  QUICK,
  planE3Countdown,
  CUT_ARMS,
  planLrProbe,
} from '../../experiments/e3Countdown.js';
import type { Cell } from '../../experiments/cells.js';
import { runSelfCells } from '../self.js';
import {
  cutsMarkdown,
  readCell,
  summarizeCuts,
  summarizeExperiment,
  type CellResult,
} from '../../experiments/results.js';
import { findArms, renderComparison } from '../../report/compare.js';
import { parseBackend } from '../../tensor/backend.js';
import { wallNow } from '../../runtime/clock.js';
import { parseIntFlag, printJson, versions } from '../common.js';
import { InputError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';

const NAMES = ['e3-countdown', 'lr-probe'] as const;

type Flags = {
  seeds: string;
  out?: string;
  quick?: boolean;
  arms?: string;
  backend: string;
  jobs: string;
  c4: boolean;
  lrs: string;
  steps: string;
  json?: boolean;
};

function parseLrs(s: string): number[] {
  const xs = s.split(',').map((x) => Number(x.trim()));
  if (xs.length < 1 || xs.length > 8 || xs.some((x) => !Number.isFinite(x) || x <= 0 || x > 1))
    throw new InputError(`--lrs: expected 1 to 8 comma-separated learning rates in (0, 1], got '${s}'`);
  return xs;
}

export function registerExperiment(program: Command): void {
  program
    .command('experiment')
    .description(
      "run a named experiment: e3-countdown (the e3 recipe and its ablations over seeds) | lr-probe (the e3 arm's first stage at several learning rates)",
    )
    .argument('<name>', NAMES.join(' | '))
    .option('--seeds <n>', 'seeds per arm', '3')
    .option(
      '--out <dir>',
      'output directory (default runs/experiments/<name>); the same --out again continues an interrupted experiment',
    )
    .option('--quick', 'tiny sizes and one seed: a pipeline check, not a result')
    .option(
      '--arms <list>',
      `comma-separated subset of ${[...ARMS, ...EXTRA_ARMS].join(',')} (default: ${ARMS.join(',')})`,
    )
    .option('--no-c4', 'skip C4 (the e3 arm at each fixed ladder budget, seed 0)')
    .option('--jobs <n>', 'cells run at once (each about one core)', String(Math.min(2, os.availableParallelism())))
    .option('--lrs <list>', 'lr-probe: learning rates', '1e-4,3e-4,1e-3')
    .option('--steps <n>', 'lr-probe: steps per rate', '40')
    .option('--backend <b>', 'auto|tensorflow|webgpu|wasm|cpu', 'wasm')
    .option('--json', 'print results.json')
    .action(experimentCommand);
}

/** `e3sim experiment <name>`: the flags checked, the directory opened (or continued), the cells run, the results. */
async function experimentCommand(name: string, o: Flags): Promise<void> {
  if (!(NAMES as readonly string[]).includes(name))
    throw new InputError(`name: unknown experiment '${name}'; expected ${NAMES.join(' or ')}`);
  const seeds = o.quick ? 1 : parseIntFlag(o.seeds, '--seeds', 1, 100);
  const jobs = parseIntFlag(o.jobs, '--jobs', 1, 64);
  const arms = o.arms ? o.arms.split(',').map((a) => a.trim()) : [...ARMS];
  for (const a of arms)
    if (!([...ARMS, ...EXTRA_ARMS] as readonly string[]).includes(a))
      throw new InputError(`--arms: unknown arm '${a}'; expected some of ${[...ARMS, ...EXTRA_ARMS].join(', ')}`);
  const backend = parseBackend(o.backend);
  const size = o.quick ? QUICK : name === 'lr-probe' ? PROBE : FULL;
  const out = o.out ?? path.join('runs', 'experiments', `${name}${o.quick ? '-quick' : ''}`);
  const lrs = name === 'lr-probe' ? parseLrs(o.lrs) : [];
  const probeSteps = parseIntFlag(o.steps, '--steps', 1, 10_000);
  const settings = {
    experiment: name,
    quick: Boolean(o.quick),
    arms,
    lrs,
    probeSteps: name === 'lr-probe' ? probeSteps : null,
    backend,
    size,
  };
  const c4 = o.c4 && !o.quick && name === 'e3-countdown';
  openExperimentDir(out, settings);
  const plan: { cells: Cell[]; arms: string[] } =
    name === 'lr-probe'
      ? {
          cells: planLrProbe({ out, lrs, steps: probeSteps, size, backend }),
          arms: ['base', ...lrs.map((lr) => `lr-${lr}`)],
        }
      : (() => {
          const p = planE3Countdown({ out, seeds, size, backend, arms, c4 });
          return { cells: p.cells, arms: ['base', 'base-noverify', ...p.arms] };
        })();
  const log = o.json ? undefined : (s: string) => process.stderr.write(`${s}\n`);
  log?.(`${name}: ${plan.cells.length} cells, ${jobs} at a time, in ${out}`);
  const t0 = wallNow();
  if (!(await runSelfCells({ out, cells: plan.cells, jobs, log }))) return;
  const doc = writeResults(name, o, out, settings, seeds, c4, plan, t0);
  if (o.json) return printJson(doc.json);
  process.stdout.write(doc.text);
}

/**
 * An experiment directory is continued only with the settings it was started with (more seeds, or
 * C4, only add cells: a cell depends on its arm and seed alone); a new one gets experiment.json.
 */
function openExperimentDir(out: string, settings: unknown): void {
  const settingsFile = path.join(out, 'experiment.json');
  if (fs.existsSync(settingsFile)) {
    const was = JSON.parse(fs.readFileSync(settingsFile, 'utf8')) as { settings: unknown };
    if (JSON.stringify(was.settings) !== JSON.stringify(settings))
      throw new InputError(
        `--out: '${out}' holds an experiment started with other settings (${settingsFile}); use the same flags to continue it, or another --out`,
      );
  } else if (fs.existsSync(out) && fs.readdirSync(out).length > 0) {
    throw new InputError(
      `--out: '${out}' exists, is not empty and is not an experiment directory; choose another --out`,
    );
  }
  fs.mkdirSync(out, { recursive: true });
  if (!fs.existsSync(settingsFile))
    writeFileAtomic(settingsFile, JSON.stringify({ settings, versions: versions() }, null, 2) + '\n');
}

/** The finished cells read and summarised: results.json, results.md and report.html written; the JSON and the text to print. */
function writeResults(
  name: string,
  o: Flags,
  out: string,
  settings: Record<string, unknown>,
  seeds: number,
  c4: boolean,
  plan: { cells: Cell[]; arms: string[] },
  t0: number,
): { json: unknown; text: string } {
  const trainAndBase = plan.cells.filter((c) => !c.name.startsWith('cut-'));
  const cuts = name === 'lr-probe' ? [] : summarizeCuts(out, CUT_ARMS, seeds);
  const results: CellResult[] = trainAndBase.map((c) => {
    const [arm, seedDir] = c.name.split('/') as [string, string];
    return readCell(path.join(out, c.name), arm, Number(seedDir.replace('seed-', '')));
  });
  const s = summarizeExperiment(results, plan.arms);
  const cellSeconds = results.reduce((a, r) => a + (r.wallSeconds ?? 0), 0);
  const doc = {
    ...settings,
    seeds,
    c4,
    wallSeconds: (wallNow() - t0) / 1000,
    cellSeconds,
    btr: s.btr,
    arms: s.arms,
    diffs: s.diffs,
    cuts,
    c4Arms: c4 ? C4_ARMS : [],
    cells: results.map((r) => ({
      arm: r.arm,
      seed: r.seed,
      wallSeconds: r.wallSeconds,
      budgetChoices: r.budgetChoices,
      eval: r.rows.map(({ correct: _, ...row }) => row),
    })),
  };
  writeFileAtomic(path.join(out, 'results.json'), JSON.stringify(doc, null, 2) + '\n');
  const title = `# ${name}${o.quick ? ' (quick: a pipeline check, not a result)' : ''}`;
  writeFileAtomic(
    path.join(out, 'results.md'),
    `${title}\n\n${s.markdown}${cutsMarkdown(cuts)}\nWall time of this invocation: ${doc.wallSeconds.toFixed(0)} s; all cells together ${cellSeconds.toFixed(0)} s of cell time.\n`,
  );
  writeFileAtomic(path.join(out, 'report.html'), renderComparison(name, findArms(out)));
  return {
    json: doc,
    text:
      s.markdown +
      cutsMarkdown(cuts) +
      `\nresults: ${path.join(out, 'results.md')}, ${path.join(out, 'results.json')}, ${path.join(out, 'report.html')}\n`,
  };
}
