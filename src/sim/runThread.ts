/**
 * runVirtual in a worker thread (actors/virtual.worker.ts, kept between runs), with a halt flag
 * shared with it: the caller's thread stays free while the compute runs (a signal handler can run
 * at once), and `halt()` makes the run stop at its next work item and write a checkpoint from the
 * last event boundary (sim/engine.ts).
 */
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { startWorkerThread } from '../runtime/workers.js';
import { latestCheckpointDir } from '../runtime/checkpointer.js';
import { wallNow } from '../runtime/clock.js';
import { handOverSignals, signalExitCode } from '../runtime/runLock.js';
import { InputError } from '../util/errors.js';
import { runVirtual, type VirtualRunOptions, type VirtualRunResult } from './run.js';
import type { SimEngine } from './engine.js';
import type { VirtualWorkerData, VirtualWorkerMessage } from '../../actors/virtual.worker.js';

export interface VirtualThread {
  result: Promise<VirtualRunResult>;
  /** The thread it runs in (the same for runs that reuse a kept thread). */
  threadId: number;
  /** Asks the run to stop at its next work item (idempotent). */
  halt(): void;
  /** Ends the thread now (no checkpoint beyond the last one written). */
  kill(): Promise<void>;
}

/** The error the worker reported, rebuilt: input errors stay input errors, errno fields are kept. */
function rebuild(e: Extract<VirtualWorkerMessage, { type: 'error' }>['error']): Error {
  if (e.name === 'InputError') return new InputError(e.message);
  const x = new Error(e.message) as NodeJS.ErrnoException;
  x.name = e.name;
  if (e.stack) x.stack = e.stack;
  if (e.code) x.code = e.code;
  if (e.path) x.path = e.path;
  if (e.syscall) x.syscall = e.syscall;
  return x;
}

/**
 * The thread kept between runs, idle (null: none). Starting one costs ≈ 1.4 s here (tsx, tfjs, the
 * modules) against ≈ 0.6 s for a cell of a quick scenario, and a scenario's cells run one after
 * another in one process. It is unref'd while idle, so it never keeps the process alive; a thread
 * whose run failed or was killed is ended, never reused.
 */
let idle: { worker: Worker; onExit: () => void } | null = null;

function takeThread(): Worker {
  if (!idle) return startWorkerThread('virtual.worker.ts', 'virtual-clock');
  const { worker, onExit } = idle;
  idle = null;
  worker.off('exit', onExit).ref();
  return worker;
}

function keepThread(worker: Worker): void {
  if (idle) return void worker.terminate();
  // a kept thread that ends while idle (it should not) is forgotten, not handed a run
  const onExit = () => {
    if (idle?.worker === worker) idle = null;
  };
  worker.unref();
  worker.once('exit', onExit);
  idle = { worker, onExit };
}

export function runVirtualThread(
  o: Pick<VirtualRunOptions, 'config' | 'settings' | 'onStep' | 'onLog'> & { dir: string; resume: boolean },
): VirtualThread {
  const halt = new Int32Array(new SharedArrayBuffer(4));
  const data: VirtualWorkerData = { config: o.config, settings: o.settings, dir: o.dir, resume: o.resume, halt };
  const worker = takeThread();
  let killed = false;
  const result = new Promise<VirtualRunResult>((resolve, reject) => {
    const settle = (ok: boolean, f: () => void) => {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      if (ok && !killed) keepThread(worker);
      else void worker.terminate();
      f();
    };
    const onMessage = (m: VirtualWorkerMessage) => {
      if (m.type === 'step') o.onStep?.(m.line);
      else if (m.type === 'log') o.onLog?.(m.line);
      else if (m.type === 'done')
        settle(true, () => resolve({ status: m.status as VirtualRunResult['status'], summary: m.summary }));
      else settle(false, () => reject(rebuild(m.error)));
    };
    const onError = (e: Error) => settle(false, () => reject(e));
    const onExit = (code: number) =>
      settle(false, () => reject(new Error(`the virtual-clock thread exited (code ${code}) before the run ended`)));
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    worker.postMessage({ type: 'run', data });
  });
  return {
    result,
    threadId: worker.threadId,
    halt: () => Atomics.store(halt, 0, 1),
    kill: async () => {
      killed = true;
      await worker.terminate();
    },
  };
}

/**
 * A virtual-clock run that honours SIGINT and SIGTERM while it lasts — `train --clock virtual` and
 * every scenario cell. With real compute it runs in its own thread and a signal stops it at its
 * next work item with a checkpoint (runVirtualThread); without tensors it runs here and stops at
 * its next checkpoint. A second signal exits the process at once, saying which checkpoint is kept.
 * `stopSignal` is the signal that stopped it (null: none).
 */
export async function runVirtualWithSignals(
  o: Pick<VirtualRunOptions, 'config' | 'settings' | 'onStep' | 'onLog'> & {
    dir: string;
    resume: boolean;
    /** How the run directory is named in the "kept" line, e.g. `e3sim train --resume DIR`. */
    resumeHint: string;
    /** The start-up signal guard (runtime/runLock startupSignalGuard), taken off once this run's handlers are on. */
    startup?: { off(): void };
  },
): Promise<VirtualRunResult & { stopSignal: NodeJS.Signals | null }> {
  const thread = o.settings.compute === 'real' ? runVirtualThread(o) : null;
  let engine: SimEngine | null = null;
  let stopSignal: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopSignal !== null || (!engine && !thread)) {
      const kept = latestCheckpointDir(o.dir);
      process.stderr.write(
        `\n${sig} again: exiting now; kept: ${kept ? `${path.relative(o.dir, kept)} (continue with ${o.resumeHint})` : 'no checkpoint yet'}\n`,
      );
      process.exit(signalExitCode(sig));
    }
    stopSignal = sig;
    if (thread) {
      process.stderr.write(`\n${sig}: stopping at the next work item and writing a checkpoint (again to exit now)\n`);
      thread.halt();
    } else {
      process.stderr.write(
        `\n${sig}: stopping at the next checkpoint (every ${o.config.checkpoint.every} steps; again to exit now)\n`,
      );
      engine!.requestHalt();
    }
  };
  const off = handOverSignals(o.startup ?? { off() {} }, onSignal);
  try {
    const r = thread ? await thread.result : await runVirtual({ ...o, now: wallNow, onEngine: (e) => (engine = e) });
    return { ...r, stopSignal };
  } finally {
    off();
  }
}
