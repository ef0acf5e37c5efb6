/**
 * Entry of the bundle's worker threads (scripts/bundle.mjs → e3sim-worker.mjs): a thread started
 * by WorkerHandle carries `e3simWorker` (the actor file it runs) in its workerData. A file of its
 * own, so a thread parses the actors, the policy and tfjs, not the whole CLI (BENCHMARKS.md
 * "Start-up of a run from the bundle").
 */
import { workerData } from 'node:worker_threads';

const WORKERS: Record<string, () => Promise<unknown>> = {
  'sampler.worker.ts': () => import('../actors/sampler.worker.js'),
  'learner.worker.ts': () => import('../actors/learner.worker.js'),
  'bench.worker.ts': () => import('../actors/bench.worker.js'),
  'virtual.worker.ts': () => import('../actors/virtual.worker.js'),
};

const role = (workerData as { e3simWorker?: string } | undefined)?.e3simWorker;
const start = role === undefined ? undefined : WORKERS[role];
if (!start) throw new Error(`e3sim bundle: unknown worker '${role}'`);
await start();
