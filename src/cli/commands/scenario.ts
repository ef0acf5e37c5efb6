import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { wallNow } from '../../runtime/clock.js';
import { parseIntFlag, printJson } from '../common.js';
import { InputError } from '../../util/errors.js';
import {
  cellOutcome,
  expandCells,
  loadScenario,
  resultsMarkdown,
  type Cell,
  type CellResult,
  type Scenario,
} from '../../experiments/scenario.js';
import { runVirtualWithSignals } from '../../sim/runThread.js';
import { signalExitCode } from '../../runtime/runLock.js';
import { SimEngine, SimInvariantError } from '../../sim/engine.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { writeAnalysis } from '../../experiments/sweepAnalysis.js';
import type { Cell as ProcessCell } from '../../experiments/cells.js';
import { runSelfCells } from '../self.js';
import { correctionWarnings } from '../../runtime/config.js';

const RESULT = 'cell-result.json';

type Flags = {
  out?: string;
  quick?: boolean;
  json?: boolean;
  quiet?: boolean;
  jobs: string;
  cell?: string;
};

export function registerScenario(program: Command): void {
  program
    .command('scenario')
    .description('run a scenario grid on the virtual clock (examples/scenarios/*.yaml; see docs/STALENESS.md)')
    .argument('<file>', 'scenario YAML')
    .option(
      '--out <dir>',
      'output directory (default runs/scenarios/<name>[-quick]); with --jobs, the same --out again continues the grid',
    )
    .option('--quick', "the scenario's reduced form (its `quick:` overrides): what CI runs")
    .option('--jobs <n>', 'cells at once, each in its own process (1: one after another in this process)', '1')
    .option('--cell <name>', '(used by --jobs) run only this cell, in --out')
    .option('--json', 'print results.json')
    .option('--quiet', 'no progress lines')
    .action(async (file: string, o: Flags) => {
      const { scenario, dir } = loadScenario(file, Boolean(o.quick));
      const cells = expandCells(scenario, dir); // every cell's config is checked before anything runs
      const jobs = parseIntFlag(o.jobs, '--jobs', 1, 64);
      const log = o.quiet || o.json ? () => {} : (s: string) => process.stderr.write(`${s}\n`);
      if (o.cell !== undefined) {
        const cell = cells.find((c) => c.name === o.cell);
        if (!cell) throw new InputError(`--cell: '${o.cell}' is not a cell of ${file}`);
        if (!o.out) throw new InputError('--cell: needs --out (the cell directory)');
        const r = await stoppable(() => runCell(cell, o.out!, log), 'the grid continues it when run again');
        if (r) writeFileAtomic(path.join(o.out, RESULT), JSON.stringify(r, null, 2) + '\n');
        return;
      }
      const out = o.out ?? path.join('runs', 'scenarios', `${scenario.name}${o.quick ? '-quick' : ''}`);
      openGridDir(out, scenario.name, cells, jobs);
      warnOnce(cells, log);
      const command = `e3sim scenario ${process.argv.slice(3).join(' ')}`;
      const t0 = wallNow();
      const results =
        jobs === 1
          ? await runInProcess(scenario, cells, out, log)
          : await runInProcesses(file, Boolean(o.quick), scenario.name, cells, out, jobs, log);
      if (!results) return; // stopped by a signal (exit code set)
      const doc = {
        scenario: scenario.name,
        file,
        quick: Boolean(o.quick),
        command,
        jobs,
        wallSeconds: (wallNow() - t0) / 1000,
        profile: scenario.profile,
        compute: scenario.compute,
        sweep: scenario.sweep,
        cells: results,
      };
      writeFileAtomic(path.join(out, 'results.json'), JSON.stringify(doc, null, 2) + '\n');
      const analysis = writeAnalysis(out, scenario.name, results, writeFileAtomic);
      writeFileAtomic(
        path.join(out, 'results.md'),
        resultsMarkdown(scenario, results, command) +
          (analysis ? `\n## Learning outcome with CIs\n\n${analysis}` : '') +
          `\nTotal wall time: ${doc.wallSeconds.toFixed(0)} s.\n`,
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

/**
 * With --jobs, an --out holding a grid of the same scenario continues it: a finished cell is kept
 * when its config is the one now planned (so the grid may be reordered or cut), and a finished cell
 * planned with other settings stops the command (experiments/cells.ts). Otherwise --out must be
 * new or empty. Writes plan.json.
 */
function openGridDir(out: string, name: string, cells: Cell[], jobs: number): void {
  const plan = cells.map((c) => ({ name: c.name, config: c.config, settings: c.settings }));
  const planFile = path.join(out, 'plan.json');
  const previous = fs.existsSync(planFile)
    ? (JSON.parse(fs.readFileSync(planFile, 'utf8')) as { scenario?: string; cells: typeof plan })
    : null;
  const continuing = jobs > 1 && previous?.scenario === name;
  if (!continuing && fs.existsSync(out) && fs.readdirSync(out).length > 0)
    throw new InputError(
      `--out: '${out}' already exists and is not empty${jobs > 1 ? ' and holds another grid' : ''}; choose another --out`,
    );
  fs.mkdirSync(path.join(out, 'cells'), { recursive: true });
  writeFileAtomic(planFile, JSON.stringify({ scenario: name, cells: plan }) + '\n');
}

/** --jobs 1: the cells one after another in this process; null when a signal stopped one. */
async function runInProcess(
  scenario: Scenario,
  cells: Cell[],
  out: string,
  log: (s: string) => void,
): Promise<CellResult[] | null> {
  const results: CellResult[] = [];
  for (const [i, cell] of cells.entries()) {
    const c0 = wallNow();
    const r = await stoppable(
      () => runCell(cell, path.join(out, 'cells', cell.name), log),
      '--jobs 1 does not continue a grid; use --jobs 2 or more for a grid you may stop and continue',
    );
    if (!r) return null;
    results.push(r);
    log(`[${i + 1}/${cells.length}] ${cell.name}: ${describe(scenario, r, (wallNow() - c0) / 1000)}`);
  }
  return results;
}

/** --jobs N: each cell in its own process (`--cell`), N at a time, resumable; null when interrupted. */
async function runInProcesses(
  file: string,
  quick: boolean,
  name: string,
  cells: Cell[],
  out: string,
  jobs: number,
  log: (s: string) => void,
): Promise<CellResult[] | null> {
  const args = (cell: Cell, d: string) => [
    'scenario',
    file,
    ...(quick ? ['--quick'] : []),
    '--cell',
    cell.name,
    '--out',
    d,
    '--quiet',
  ];
  const procs: ProcessCell[] = cells.map((cell) => ({
    name: path.join('cells', cell.name),
    weight: cell.settings.maxSteps,
    start: (d) => args(cell, d),
    resume: (d) => args(cell, d), // a cell directory with a checkpoint continues from it
    resumable: (d) => fs.existsSync(path.join(d, 'checkpoints', 'latest')),
    matches: (d) => sameCell(d, cell),
  }));
  log(`${name}: ${cells.length} cells, ${jobs} at a time, in ${out}`);
  if (!(await runSelfCells({ out, cells: procs, jobs, log }))) return null;
  return cells.map((c) => JSON.parse(fs.readFileSync(path.join(out, 'cells', c.name, RESULT), 'utf8')) as CellResult);
}

/** Runs a cell; a signal's stop is exit 130/143 with a line, and null. */
async function stoppable(run: () => Promise<CellResult>, next: string): Promise<CellResult | null> {
  try {
    return await run();
  } catch (e) {
    if (!(e instanceof CellStopped)) throw e;
    process.stderr.write(`${e.message}; ${next}\n`);
    process.exitCode = signalExitCode(e.signal);
    return null;
  }
}

/** A signal stopped a cell (checkpointed): the scenario stops too, exit 130/143; the same command continues it. */
class CellStopped extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`${signal}: the cell stopped at a checkpoint in its directory`);
  }
}

/**
 * One cell in this process, in `cellDir` (continued from its checkpoint when it has one): its
 * result, with a failure or invariant violation as a status, not a throw (bad input still throws).
 */
async function runCell(cell: Cell, cellDir: string, log: (s: string) => void): Promise<CellResult> {
  const resume = SimEngine.readCheckpoint(cellDir) !== null;
  fs.mkdirSync(cellDir, { recursive: true });
  if (!resume) writeFileAtomic(path.join(cellDir, 'config.json'), JSON.stringify(cell.config, null, 2) + '\n');
  const c0 = wallNow();
  try {
    const every = Math.max(1, Math.ceil(cell.settings.maxSteps / 5));
    const { status, summary, stopSignal } = await runVirtualWithSignals({
      config: cell.config,
      settings: cell.settings,
      dir: cellDir,
      resume,
      resumeHint: 'the same e3sim scenario command',
      onStep: (m) => {
        const k = m.step as number;
        if (k % every === 0 && k < cell.settings.maxSteps)
          log(
            `  ${cell.name}: step ${k}/${cell.settings.maxSteps} (simulated ${(m.t as number).toFixed(1)} s, ${((wallNow() - c0) / 1000).toFixed(0)} s)`,
          );
      },
    });
    if (stopSignal) throw new CellStopped(stopSignal);
    return {
      name: cell.name,
      params: cell.params,
      status,
      summary,
      ...cellOutcome(path.join(cellDir, 'metrics.jsonl')),
    };
  } catch (e) {
    if (e instanceof InputError || e instanceof CellStopped) throw e;
    return {
      name: cell.name,
      params: cell.params,
      status: e instanceof SimInvariantError ? 'invariant-violated' : 'failed',
      error: e instanceof Error ? e.message : String(e),
      summary: {},
      trainPassLast: null,
      evalPass1: null,
    };
  }
}

function describe(scenario: Scenario, r: CellResult, seconds: number): string {
  const s = r.summary as { simSeconds?: number; staleness?: { mean: number; max: number }; rolloutsLost?: number };
  if (r.status !== 'done') return `${r.status} in ${seconds.toFixed(1)} s: ${r.error}`;
  return (
    `${r.status} in ${seconds.toFixed(1)} s (simulated ${s.simSeconds!.toFixed(1)} s; staleness ${s.staleness!.mean.toFixed(2)}` +
    `/${s.staleness!.max}; lost ${s.rolloutsLost}` +
    (r.trainPassLast !== null && scenario.compute === 'real' ? `; train pass ${r.trainPassLast.toFixed(3)}` : '') +
    ')'
  );
}

/** Whether a finished cell directory ran `cell`'s config and settings. */
function sameCell(dir: string, cell: Cell): boolean {
  const read = (f: string) => {
    const file = path.join(dir, f);
    return fs.existsSync(file) ? JSON.stringify(JSON.parse(fs.readFileSync(file, 'utf8'))) : null;
  };
  return read('config.json') === JSON.stringify(cell.config) && read(RESULT) !== null;
}

/** Each distinct correction warning once, with the cells it concerns. */
function warnOnce(cells: readonly Cell[], log: (s: string) => void): void {
  const by = new Map<string, string[]>();
  for (const c of cells) for (const w of correctionWarnings(c.config)) by.set(w, [...(by.get(w) ?? []), c.name]);
  for (const [w, names] of by)
    log(`warning: ${w} (${names.length === 1 ? names[0] : `${names.length} cells, e.g. ${names[0]}`})`);
}
