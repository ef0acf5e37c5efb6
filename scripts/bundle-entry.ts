/**
 * Entry of the single-file build (scripts/bundle.mjs). The same file is the CLI and every
 * worker thread: a worker started by WorkerHandle carries `e3simWorker` (the actor file it
 * runs) in its workerData.
 */
import { isMainThread, workerData } from 'node:worker_threads';
import v8 from 'node:v8';

const WORKERS: Record<string, () => Promise<unknown>> = {
  'sampler.worker.ts': () => import('../actors/sampler.worker.js'),
  'learner.worker.ts': () => import('../actors/learner.worker.js'),
  'bench.worker.ts': () => import('../actors/bench.worker.js'),
  'virtual.worker.ts': () => import('../actors/virtual.worker.js'),
};

const role = isMainThread ? undefined : (workerData as { e3simWorker?: string } | undefined)?.e3simWorker;
if (role !== undefined) {
  const start = WORKERS[role];
  if (!start) throw new Error(`e3sim bundle: unknown worker '${role}'`);
  await start();
} else {
  // as bin/e3sim.js: a larger young generation (see there)
  v8.setFlagsFromString('--max-semi-space-size=32');
  await import('../src/cli/main.js');
}
