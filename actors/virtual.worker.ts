/**
 * A virtual-clock run with real compute, in its own thread (`train --clock virtual`): the compute
 * is synchronous and can run for minutes per event, so the main thread stays free to take signals
 * and sets the shared halt flag that the engine and the compute read between work items
 * (sim/engine.ts). Messages to the main thread: step, log, done, error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runVirtual, type VirtualSettings } from '../src/sim/run.js';
import type { TrainConfig } from '../src/runtime/config.js';
import { wallNow } from '../src/runtime/clock.js';

export interface VirtualWorkerData {
  config: TrainConfig;
  settings: VirtualSettings;
  dir: string;
  resume: boolean;
  /** Int32Array over a SharedArrayBuffer: element 0 ≠ 0 asks the run to halt. */
  halt: Int32Array;
}

export type VirtualWorkerMessage =
  | { type: 'step'; line: Record<string, unknown> }
  | { type: 'log'; line: string }
  | { type: 'done'; status: string; summary: Record<string, unknown> }
  | {
      type: 'error';
      error: { name: string; message: string; stack?: string; code?: string; path?: string; syscall?: string };
    };

const d = workerData as VirtualWorkerData;
const post = (m: VirtualWorkerMessage) => parentPort!.postMessage(m);
try {
  const r = await runVirtual({
    config: d.config,
    settings: d.settings,
    dir: d.dir,
    resume: d.resume,
    halt: d.halt,
    now: wallNow,
    onStep: (line) => post({ type: 'step', line }),
    onLog: (line) => post({ type: 'log', line }),
  });
  post({ type: 'done', status: r.status, summary: r.summary });
} catch (e) {
  const x = e as NodeJS.ErrnoException;
  post({
    type: 'error',
    error: {
      name: x.name ?? 'Error',
      message: x.message ?? String(e),
      stack: x.stack,
      code: x.code,
      path: x.path,
      syscall: x.syscall,
    },
  });
}
