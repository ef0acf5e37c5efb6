/**
 * Running an experiment's cells as child processes, `jobs` at a time (one per core), resumable:
 * a cell whose `done.json` exists is kept; a cell with a checkpoint continues from it
 * (`e3sim train --resume`); anything else of an unfinished cell is removed and the cell starts
 * over. Each cell is one command line; its output goes to CELL.log beside the cell's directory.
 * Progress: cells done / running / left and an ETA from the finished cells' wall times.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';

export interface Cell {
  /** Unique name, e.g. `e3/seed-1`: also the cell's directory under the experiment's out. */
  name: string;
  /** Arguments to `e3sim` for a fresh start (the cell's directory is `dir`). */
  start: (dir: string) => string[];
  /** Arguments to continue from a checkpoint in `dir`, or null when the cell cannot resume. */
  resume: ((dir: string) => string[] | null) | null;
  /** Whether `dir` holds a checkpoint to resume from. */
  resumable?: (dir: string) => boolean;
  /** Expected work, relative (for the ETA). */
  weight: number;
  /** Whether a finished `dir` was run with this cell's settings (a kept cell must be the planned one). */
  matches?: (dir: string) => boolean;
  /** Cells that must be done before this one starts (it reads what they wrote). */
  after?: readonly string[];
}

export interface CellDone {
  name: string;
  wallSeconds: number;
  resumed: boolean;
}

export interface RunCellsOptions {
  out: string;
  cells: readonly Cell[];
  jobs: number;
  /** The e3sim entry point and node flags. */
  bin: string;
  nodeArgs?: readonly string[];
  log?: (s: string) => void;
  now: () => number;
  /** Seconds between progress lines while cells run. */
  progressEverySeconds?: number;
  /** Running cells' step counts, for the progress line. */
  stepOf?: (dir: string) => string | null;
}

/** The most cells run at once, whatever --jobs says. */
export const JOBS_MAX = 64;

export function cellDir(out: string, c: Pick<Cell, 'name'>): string {
  return path.join(out, c.name);
}

export function readDone(dir: string): CellDone | null {
  const f = path.join(dir, 'done.json');
  if (!fs.existsSync(f)) return null;
  try {
    return JSON.parse(fs.readFileSync(f, 'utf8')) as CellDone;
  } catch {
    return null;
  }
}

/** The cells not yet done; a finished cell planned with other settings is refused (its config.json differs). */
function pendingCells(o: RunCellsOptions): Cell[] {
  return o.cells.filter((c) => {
    const dir = cellDir(o.out, c);
    if (!readDone(dir)) return true;
    if (c.matches && !c.matches(dir)) {
      throw new InputError(
        `${dir}: this finished cell was run with other settings than the experiment now plans (its config.json differs); use a new --out, or remove the cell to run it again`,
      );
    }
    return false;
  });
}

/** Starts one cell's process: resumed from its checkpoint where it has one, else from an empty directory. */
function startCell(o: RunCellsOptions, cell: Cell) {
  const dir = cellDir(o.out, cell);
  const canResume = cell.resume !== null && fs.existsSync(dir) && (cell.resumable?.(dir) ?? false);
  if (!canResume && fs.existsSync(dir)) fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const args = canResume ? cell.resume!(dir)! : cell.start(dir);
  const logFile = `${dir}.log`;
  const fd = fs.openSync(logFile, canResume ? 'a' : 'w');
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), o.bin, ...args], { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  return { dir, canResume, logFile, child };
}

/**
 * Runs every cell not yet done; resolves when all are done, rejects on the first failed cell (after the others stop).
 */
export async function runCells(o: RunCellsOptions): Promise<CellDone[]> {
  const jobs = Math.max(1, Math.min(o.jobs, JOBS_MAX));
  const pending = pendingCells(o);
  const kept = o.cells.length - pending.length;
  if (kept > 0) o.log?.(`${kept} of ${o.cells.length} cells already done (kept)`);
  const running = new Map<string, { child: ChildProcess; t0: number; cell: Cell }>();
  const finished: CellDone[] = [];
  let failure: Error | null = null;
  let stopping = false;
  let leftWeight = pending.reduce((s, c) => s + c.weight, 0);
  let doneWeight = 0,
    doneSeconds = 0;
  const eta = () => {
    if (doneWeight === 0) return 'ETA —';
    return `ETA ${Math.ceil(((doneSeconds / doneWeight) * leftWeight) / jobs / 60)} min`;
  };
  const status = () => `[${kept + finished.length}/${o.cells.length} done, ${running.size} running] ${eta()}`;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    o.log?.(`${sig}: stopping the running cells at their next checkpoint; run the same command again to continue`);
    for (const r of running.values()) r.child.kill('SIGINT');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const ticker = setInterval(
    () => {
      if (running.size === 0) return;
      const parts = [...running.values()].map((r) =>
        `${r.cell.name}${o.stepOf ? ` ${o.stepOf(cellDir(o.out, r.cell)) ?? ''}` : ''}`.trim(),
      );
      o.log?.(`${status()} running: ${parts.join(', ')}`);
    },
    (o.progressEverySeconds ?? 60) * 1000,
  );
  try {
    const queue = [...pending];
    await new Promise<void>((resolve) => {
      const isDone = (name: string) => readDone(cellDir(o.out, { name })) !== null;
      const launch = () => {
        while (!stopping && !failure && running.size < jobs && queue.length > 0) {
          // The first cell in plan order whose prerequisites are done.
          const next = queue.findIndex((c) => (c.after ?? []).every(isDone));
          if (next < 0) {
            if (running.size > 0) break; // a prerequisite is still running
            failure ??= new Error(
              `cells ${queue.map((c) => c.name).join(', ')} wait for cells that are not planned or did not finish`,
            );
            break;
          }
          const cell = queue.splice(next, 1)[0]!;
          const { dir, canResume, logFile, child } = startCell(o, cell);
          running.set(cell.name, { child, t0: o.now(), cell });
          o.log?.(`${status()} ${canResume ? 'resuming' : 'starting'} ${cell.name}`);
          child.on('exit', (code, signal) => {
            const r = running.get(cell.name)!;
            running.delete(cell.name);
            const wallSeconds = (o.now() - r.t0) / 1000;
            if (code === 0) {
              const done: CellDone = { name: cell.name, wallSeconds, resumed: canResume };
              writeFileAtomic(path.join(dir, 'done.json'), JSON.stringify(done) + '\n');
              finished.push(done);
              leftWeight -= cell.weight;
              if (!canResume) {
                // a resumed cell's time covers only part of its work
                doneWeight += cell.weight;
                doneSeconds += wallSeconds;
              }
              o.log?.(`${status()} ${cell.name} finished in ${wallSeconds.toFixed(0)} s`);
            } else if (!stopping) {
              failure ??= new Error(`cell ${cell.name} failed (exit ${code ?? signal}); its output: ${logFile}`);
              stopping = true;
              for (const other of running.values()) other.child.kill('SIGINT');
            }
            if (running.size === 0 && (queue.length === 0 || stopping || failure)) resolve();
            else launch();
          });
        }
        if (running.size === 0) resolve();
      };
      launch();
    });
  } finally {
    clearInterval(ticker);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (failure) throw failure;
  if (stopping) throw new CellsInterrupted();
  return finished;
}

/** "step N" of a running cell, from the step rows of its metrics.jsonl (null before it has one). */
export function metricsStepOf(dir: string): string | null {
  const f = path.join(dir, 'metrics.jsonl');
  if (!fs.existsSync(f)) return null;
  let n = 0;
  for (const line of fs.readFileSync(f, 'utf8').split('\n')) if (line.startsWith('{"step"')) n++;
  return `step ${n}`;
}

export class CellsInterrupted extends Error {
  constructor() {
    super('interrupted: finished cells are kept and running ones checkpointed; run the same command again to continue');
  }
}
