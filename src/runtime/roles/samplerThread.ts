/**
 * A sampler worker thread started at the newest published weights (used by a local sampler slot
 * and by the NATS transport's local evaluation sampler).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { SamplerApi } from '../../../actors/sampler.worker.js';
import { THREAD_START_MS, WorkerHandle } from '../workers.js';
import type { TrainingRun } from '../run.js';
import { asInputErrorIfBackend } from './effects.js';

/** A sampler worker thread at the newest published version, with the port its new weights arrive on. */
export async function spawnSamplerThread(
  run: TrainingRun,
  id: string,
): Promise<{ handle: WorkerHandle<SamplerApi>; port: MessagePort; version: number }> {
  const handle = new WorkerHandle<SamplerApi>(id, 'sampler.worker.ts');
  const { port1, port2 } = new MessageChannel();
  const version = run.topo.published;
  const w = run.weights.get(version)!;
  const data = w.data.slice();
  const { transfer } = await import('comlink');
  await handle
    .call(
      'init',
      (api) =>
        api.init(
          transfer(
            {
              backend: run.cfg.backend,
              config: run.gptConfig,
              weights: { manifest: w.manifest, data },
              version,
              weightsPort: port2,
              samplerId: id,
            },
            [data.buffer, port2 as unknown as Transferable],
          ),
        ),
      THREAD_START_MS,
    )
    .catch(asInputErrorIfBackend);
  return { handle, port: port1, version };
}
