/**
 * The NATS JetStream transport of the real clock: remote roles' work items and weights (src/runtime/nats).
 */
import path from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import { assert } from '../../util/errors.js';
import type { Generate, Rollouts } from '../messages.js';
import { NatsCoordinator } from '../nats/coordinator.js';
import { natsRunId } from '../nats/protocol.js';
import type { TrainingRun, SamplerConnection, SamplerEndpoint } from '../run.js';
import { spawnSamplerThread } from './samplerThread.js';

/** NATS transport: connect, create the run's queues, publish the current weights, start the local eval thread. */
export async function startNats(run: TrainingRun): Promise<void> {
  const n = run.o.nats!;
  for (const r of run.cfg.topology.remote) run.remote.add(r);
  const runId = natsRunId(path.basename(path.resolve(run.dir)));
  run.nats = new NatsCoordinator({
    url: n.url,
    credsFile: n.credsFile,
    queueMax: run.bounds.natsItems,
    info: {
      run: runId,
      gptConfig: run.gptConfig,
      remote: [...run.remote],
      ackWaitMs: run.cfg.limits.natsAckWaitMs,
      itemTimeoutMs: {
        generate: run.cfg.limits.samplerTimeoutMs,
        verify: run.cfg.limits.verifierTimeoutMs,
        grade: run.cfg.limits.verifierTimeoutMs,
      },
    },
    log: (line) => run.log(line),
    onFatal: (error) => run.abort(error),
  });
  await run.nats.start(run.o.now);
  run.log(`NATS transport on ${run.nats.display}: run id ${runId}, remote roles ${[...run.remote].join(', ')}`);
  if (run.remote.has('sampler')) {
    await run.nats.publishWeights(run.topo.learnerVersion, run.weights.get(run.topo.learnerVersion)!);
    run.evalSampler = await spawnSamplerThread(run, 'sampler-eval');
  }
}

/**
 * A sampler slot served over NATS: `generate` becomes a work item for whichever sampler process
 * takes it, at the newest published weights version (in the object store before the item); there is no thread
 * to sync or restart.
 */
export function remoteSampler(run: TrainingRun): SamplerConnection {
  const api = {
    syncWeights: async (minVersion: number) => {
      await run.nats!.weightsReady(run.topo.published);
      assert(run.topo.published >= minVersion, `remote sampler at v${run.topo.published} below v${minVersion}`);
      return run.topo.published;
    },
    generate: async (req: Generate) =>
      run.nats!.call<Rollouts>(
        'generate',
        req.requestId,
        { ...req, weightsVersion: run.topo.published },
        run.cfg.limits.samplerTimeoutMs,
      ),
  };
  const handle: SamplerEndpoint = {
    call: <R>(_what: string, f: (a: never) => Promise<R>) => f(api as never),
    terminate: async () => {},
  };
  const port = { postMessage: () => {}, close: () => {} } as unknown as MessagePort;
  return { handle, port, posted: 0 };
}
