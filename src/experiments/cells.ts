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
  const pending = pendingCells(o);
  const kept = o.cells.length - pending.length;
  if (kept > 0) o.log?.(`${kept} of ${o.cells.length} cells already done (kept)`);
  return new CellRunner(o, pending, kept).run();
}

/** One invocation's cells: the queue, the running processes, what finished, the progress, the first failure. */
class CellRunner {
  private readonly jobs: number;
  private readonly queue: Cell[];
  private readonly running = new Map<string, { child: ChildProcess; t0: number; cell: Cell }>();
  private readonly finished: CellDone[] = [];
  private failure: Error | null = null;
  private stopping = false;
  /** The ETA's figures: the weight left, and the weight and wall seconds of the cells finished from a start. */
  private leftWeight: number;
  private doneWeight = 0;
  private doneSeconds = 0;
  private allEnded: () => void = () => {};

  constructor(
    private readonly o: RunCellsOptions,
    pending: readonly Cell[],
    private readonly kept: number,
  ) {
    this.jobs = Math.max(1, Math.min(o.jobs, JOBS_MAX));
    this.queue = [...pending];
    this.leftWeight = pending.reduce((s, c) => s + c.weight, 0);
  }

  async run(): Promise<CellDone[]> {
    const onSignal = (sig: NodeJS.Signals) => this.stop(sig);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const ticker = setInterval(() => this.progress(), (this.o.progressEverySeconds ?? 60) * 1000);
    try {
      await new Promise<void>((resolve) => {
        this.allEnded = resolve;
        this.launch();
      });
    } finally {
      clearInterval(ticker);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (this.failure) throw this.failure;
    if (this.stopping) throw new CellsInterrupted();
    return this.finished;
  }

  private eta(): string {
    if (this.doneWeight === 0) return 'ETA —';
    return `ETA ${Math.ceil(((this.doneSeconds / this.doneWeight) * this.leftWeight) / this.jobs / 60)} min`;
  }

  private status(): string {
    return `[${this.kept + this.finished.length}/${this.o.cells.length} done, ${this.running.size} running] ${this.eta()}`;
  }

  /** The periodic line: the status and each running cell (with its step, when the caller reads it). */
  private progress(): void {
    if (this.running.size === 0) return;
    const { o } = this;
    const parts = [...this.running.values()].map((r) =>
      `${r.cell.name}${o.stepOf ? ` ${o.stepOf(cellDir(o.out, r.cell)) ?? ''}` : ''}`.trim(),
    );
    o.log?.(`${this.status()} running: ${parts.join(', ')}`);
  }

  /** SIGINT or SIGTERM: the running cells stop at their next checkpoint, nothing new starts. */
  private stop(sig: NodeJS.Signals): void {
    if (this.stopping) return;
    this.stopping = true;
    this.o.log?.(`${sig}: stopping the running cells at their next checkpoint; run the same command again to continue`);
    for (const r of this.running.values()) r.child.kill('SIGINT');
  }

  /** Starts cells in plan order, each when its prerequisites are done, while fewer than `jobs` run. */
  private launch(): void {
    const isDone = (name: string) => readDone(cellDir(this.o.out, { name })) !== null;
    while (!this.stopping && !this.failure && this.running.size < this.jobs && this.queue.length > 0) {
      // The first cell in plan order whose prerequisites are done.
      const next = this.queue.findIndex((c) => (c.after ?? []).every(isDone));
      if (next < 0) {
        if (this.running.size > 0) break; // a prerequisite is still running
        this.failure ??= new Error(
          `cells ${this.queue.map((c) => c.name).join(', ')} wait for cells that are not planned or did not finish`,
        );
        break;
      }
      const cell = this.queue.splice(next, 1)[0]!;
      const started = startCell(this.o, cell);
      this.running.set(cell.name, { child: started.child, t0: this.o.now(), cell });
      this.o.log?.(`${this.status()} ${started.canResume ? 'resuming' : 'starting'} ${cell.name}`);
      started.child.on('exit', (code, signal) => this.exited(cell, started, code, signal));
    }
    if (this.running.size === 0) this.allEnded();
  }

  /** A cell's process ended: done (done.json written), or the first failure stops the others. Then the next cells. */
  private exited(
    cell: Cell,
    { dir, canResume, logFile }: ReturnType<typeof startCell>,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    const r = this.running.get(cell.name)!;
    this.running.delete(cell.name);
    const wallSeconds = (this.o.now() - r.t0) / 1000;
    if (code === 0) {
      const done: CellDone = { name: cell.name, wallSeconds, resumed: canResume };
      writeFileAtomic(path.join(dir, 'done.json'), JSON.stringify(done) + '\n');
      this.finished.push(done);
      this.leftWeight -= cell.weight;
      if (!canResume) {
        // a resumed cell's time covers only part of its work
        this.doneWeight += cell.weight;
        this.doneSeconds += wallSeconds;
      }
      this.o.log?.(`${this.status()} ${cell.name} finished in ${wallSeconds.toFixed(0)} s`);
    } else if (!this.stopping) {
      this.failure ??= new Error(`cell ${cell.name} failed (exit ${code ?? signal}); its output: ${logFile}`);
      this.stopping = true;
      for (const other of this.running.values()) other.child.kill('SIGINT');
    }
    if (this.running.size === 0 && (this.queue.length === 0 || this.stopping || this.failure)) this.allEnded();
    else this.launch();
  }
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
