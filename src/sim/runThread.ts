/**
 * runVirtual in a worker thread (actors/virtual.worker.ts), with a halt flag shared with it: the
 * caller's thread stays free while the compute runs (a signal handler can run at once), and
 * `halt()` makes the run stop at its next work item and write a checkpoint from the last event
 * boundary (sim/engine.ts).
 */
import { startWorkerThread } from '../runtime/workers.js';
import { InputError } from '../util/errors.js';
import type { VirtualRunOptions, VirtualRunResult } from './run.js';
import type { VirtualWorkerData, VirtualWorkerMessage } from '../../actors/virtual.worker.js';

export interface VirtualThread {
  result: Promise<VirtualRunResult>;
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

export function runVirtualThread(
  o: Pick<VirtualRunOptions, 'config' | 'settings' | 'onStep' | 'onLog'> & { dir: string; resume: boolean },
): VirtualThread {
  const halt = new Int32Array(new SharedArrayBuffer(4));
  const data: VirtualWorkerData = { config: o.config, settings: o.settings, dir: o.dir, resume: o.resume, halt };
  const worker = startWorkerThread('virtual.worker.ts', 'virtual-clock', data as unknown as Record<string, unknown>);
  const result = new Promise<VirtualRunResult>((resolve, reject) => {
    let settled = false;
    worker.on('message', (m: VirtualWorkerMessage) => {
      if (m.type === 'step') o.onStep?.(m.line);
      else if (m.type === 'log') o.onLog?.(m.line);
      else if (m.type === 'done') {
        settled = true;
        resolve({ status: m.status as VirtualRunResult['status'], summary: m.summary });
      } else {
        settled = true;
        reject(rebuild(m.error));
      }
    });
    worker.on('error', (e) => {
      settled = true;
      reject(e);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`the virtual-clock thread exited (code ${code}) before the run ended`));
    });
  });
  return {
    result: result.finally(() => void worker.terminate()),
    halt: () => Atomics.store(halt, 0, 1),
    kill: async () => {
      await worker.terminate();
    },
  };
}
