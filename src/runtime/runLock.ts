/**
 * One run per run directory (issue #29): `train` (both clocks, fresh or --resume, and so every
 * experiment and scenario cell) holds `RUN_DIR/.lock` from before it writes anything until it
 * exits. The lock is created exclusively (O_EXCL), so of two processes racing for a directory
 * exactly one gets it; the other exits 2 naming the holder's pid and start time. A lock whose
 * process is gone (SIGKILL, a crash, a power cut) is stale: it is taken over with a line saying
 * whose it was, never silently. `report` and `eval` only read and take no lock.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ERRNO_MEANING, InputError } from '../util/errors.js';

export const LOCK_FILE = '.lock';

interface Holder {
  pid: number;
  startedAt: string;
  argv: string[];
  /** Linux: the process's start time in clock ticks since boot (/proc/PID/stat field 22), against pid reuse. */
  procStart?: string;
}

/** State and start time of a process from /proc (Linux), null where /proc is not there. */
function procStat(pid: number): { state: string; start: string } | 'gone' | null {
  if (!fs.existsSync('/proc/self/stat')) return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3 (state) on
    return { state: fields[0]!, start: fields[19]! };
  } catch {
    return 'gone';
  }
}

export interface RunLock {
  /** Removes the lock (and the directory, if this process created it and left it empty). Idempotent. */
  release(): void;
}

/**
 * Whether the holder still runs: on Linux it must exist, not be a zombie (a SIGKILLed process whose
 * parent died too may never be reaped here) and have the recorded start time (not a reused pid).
 */
function alive(h: Holder): boolean {
  const st = procStat(h.pid);
  if (st === 'gone') return false;
  if (st) return st.state !== 'Z' && (h.procStart === undefined || st.start === h.procStart);
  const pid = h.pid;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, another user's
  }
}

function readHolder(file: string): Holder | null {
  try {
    const h = JSON.parse(fs.readFileSync(file, 'utf8')) as Holder;
    return Number.isInteger(h.pid) ? h : null;
  } catch {
    return null; // being written this instant, or garbage: treated as held by an unknown process
  }
}

function inUse(dir: string, h: Holder | null): InputError {
  return new InputError(
    `${dir}: the run directory is in use by ${h ? `process ${h.pid} (started ${h.startedAt}: e3sim ${h.argv.join(' ')})` : 'another process'}; wait for it to end or stop it, or choose another directory`,
  );
}

/** Throws (exit 2, naming the holder) when a running process holds `dir`: checked before any other refusal. */
export function assertNotHeld(dir: string): void {
  const file = path.join(dir, LOCK_FILE);
  if (!fs.existsSync(file)) return;
  const h = readHolder(file);
  if (!h || alive(h)) throw inUse(dir, h);
}

/**
 * Takes the lock of `dir` (created if missing). `startedAt` is the wall-clock time to record
 * (runtime/clock), `log` says when a stale lock is taken over.
 */
export function acquireRunLock(dir: string, startedAt: string, log: (s: string) => void): RunLock {
  const created = !fs.existsSync(dir);
  const file = path.join(dir, LOCK_FILE);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    throw environmentError(dir, e);
  }
  const own = procStat(process.pid);
  const me: Holder = {
    pid: process.pid,
    startedAt,
    argv: process.argv.slice(2),
    ...(own && own !== 'gone' ? { procStart: own.start } : {}),
  };
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, JSON.stringify(me) + '\n');
      fs.closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw environmentError(dir, e);
      const h = readHolder(file);
      if (!h || alive(h) || attempt > 0) throw inUse(dir, h);
      log(`${dir}: taking over the lock of process ${h.pid} (started ${h.startedAt}), which is no longer running`);
      fs.rmSync(file, { force: true });
    }
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    const h = readHolder(file);
    if (h?.pid === process.pid) fs.rmSync(file, { force: true });
    if (created && fs.existsSync(dir) && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
  };
  process.on('exit', release);
  return { release };
}

/** The exit code of a run stopped by a signal: 130 for SIGINT, 143 for SIGTERM (128 + the signal's number). */
export function signalExitCode(sig: NodeJS.Signals): number {
  return sig === 'SIGTERM' ? 143 : 130;
}

/**
 * From the lock until the run installs its own handlers (loading modules and the backend: nothing
 * written yet but the lock): SIGINT or SIGTERM exits at once with 130/143, and the exit releases
 * the lock and removes the directory if this process created it. Without it Node's default action
 * ended the process without its exit handlers, leaving the lock in an otherwise empty directory
 * that the same command then refused as not empty. `off()` before the run's own handlers.
 */
export function startupSignalGuard(dir: string): { off(): void } {
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`\n${sig} during start-up: nothing written to ${dir}; exiting\n`);
    process.exit(signalExitCode(sig));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    off() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/**
 * From the start-up guard to a run's own handlers: `onSignal` takes SIGINT and SIGTERM, then the
 * guard comes off. In that order: with no listener left even for a moment, Node stops watching the
 * signal and drops one that has arrived but is not yet dispatched (measured: a SIGINT in that gap
 * was lost and the run went on to its end with exit 0). Returns the run's handlers' `off`.
 */
export function handOverSignals(startup: { off(): void }, onSignal: (sig: NodeJS.Signals) => void): () => void {
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  startup.off();
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** An error of the machine around a run directory, as one line naming the path and the errno (exit 2). */
export function environmentError(dir: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (!code || !(code in ERRNO_MEANING)) return e as Error;
  return new InputError(`${dir}: cannot use it as a run directory: ${ERRNO_MEANING[code]} (${code})`);
}
