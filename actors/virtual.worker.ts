/**
 * Virtual-clock runs with real compute, in their own thread (`train --clock virtual`, scenario
 * cells): the compute is synchronous and can run for minutes per event, so the main thread stays
 * free to take signals and sets the shared halt flag that the engine and the compute read between
 * work items (sim/engine.ts). The thread runs one run per `run` message, one at a time, and is kept
 * between runs (sim/runThread.ts): a thread's start and module loading cost more than a small run.
 * Messages to the main thread: step, log, done, error.
 */
import { parentPort } from 'node:worker_threads';
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

const post = (m: VirtualWorkerMessage) => parentPort!.postMessage(m);

async function run(d: VirtualWorkerData): Promise<void> {
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
}

// One run at a time: the main thread sends the next only after this one's done or error.
parentPort!.on('message', (m: { type: 'run'; data: VirtualWorkerData }) => {
  if (m.type === 'run') void run(m.data);
});
