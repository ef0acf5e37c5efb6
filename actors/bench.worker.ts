/**
 * Bench worker: one thread's share of `e3sim bench --threads N` — its own backend, model and
 * workload (src/bench/policyBench.ts), timed by the main thread.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from '../src/runtime/workers.js';
import { initBackend, type BackendName } from '../src/tensor/backend.js';
import { PolicyBenchWorkload, type BenchShape, type BenchWorkerApi } from '../src/bench/policyBench.js';

let workload: PolicyBenchWorkload | null = null;

const api: BenchWorkerApi = {
  async init(backend: BackendName, shape: BenchShape, seed: string): Promise<string> {
    const info = await initBackend(backend);
    workload = new PolicyBenchWorkload(shape, seed);
    return `${info.name} (${info.detail})`;
  },
  sampleOnce(repeat: number): Promise<number> {
    return workload!.sampleOnce(repeat);
  },
  trainOnce(): Promise<number> {
    return workload!.trainOnce();
  },
  echo(x: number): number {
    return x;
  },
  echoOn(port: MessagePort): void {
    port.on('message', (m) => port.postMessage(m));
  },
};

Comlink.expose(api, nodeEndpoint(parentPort!));
