/**
 * Learner worker: holds the policy, its Adam state and the frozen reference policy; trains one
 * step per TrainBatch and hands back the new weights as one transferred buffer.
 */
import { parentPort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import * as tf from '@tensorflow/tfjs';
import { nodeEndpoint } from '../src/runtime/workers.js';
import { initBackend, type BackendName } from '../src/tensor/backend.js';
import { Gpt } from '../src/policy/transformer/model.js';
import { parameterShapes } from '../src/policy/transformer/params.js';
import type { GptConfig } from '../src/policy/transformer/config.js';
import { Adam } from '../src/policy/transformer/adam.js';
import type { PackedWeights } from '../src/tensor/pack.js';
import { EMPTY_UPDATE_STATS, gptRlStep, type TrainRollout } from '../src/rl/gptStep.js';
import type { LossConfig } from '../src/rl/loss.js';
import { PAD } from '../src/tasks/countdown/tokenizer.js';
import { wallNow } from '../src/runtime/clock.js';
import type { TrainStats } from '../src/runtime/messages.js';
import { slowdownMs } from '../src/util/slowdown.js';

let model: Gpt | null = null;
let reference: Gpt | null = null;
let adam: Adam | null = null;
let names: string[] = [];
let version = 0;
let loss: LossConfig;
let temperature = 1;
let update = { minibatches: 1, epochs: 1 };

function blockMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function transferable(w: PackedWeights): PackedWeights {
  const data = w.data.slice(); // own buffer (the cpu backend may alias its arrays)
  return Comlink.transfer({ manifest: w.manifest, data }, [data.buffer]);
}

const api = {
  async init(o: {
    backend: BackendName;
    config: GptConfig;
    weights: PackedWeights;
    reference: PackedWeights;
    version: number;
    optimizer?: { state: PackedWeights; step: number };
    lr: number;
    clipNorm: number;
    loss: LossConfig;
    temperature: number;
    update: { minibatches: number; epochs: number };
  }): Promise<string> {
    const b = await initBackend(o.backend);
    model = Gpt.fromPacked(o.config, o.weights, 'learner weights');
    reference = o.loss.klCoef > 0 ? Gpt.fromPacked(o.config, o.reference, 'reference weights') : null;
    names = parameterShapes(o.config).map((p) => p.name);
    adam = new Adam(model.variables, { lr: o.lr, beta1: 0.9, beta2: 0.99, eps: 1e-8, clipNorm: o.clipNorm });
    if (o.optimizer) adam.loadState(names, o.optimizer.state, o.optimizer.step, 'checkpoint optimizer');
    version = o.version;
    loss = o.loss;
    temperature = o.temperature;
    update = o.update;
    return `${b.name} (${b.detail})`;
  },

  async train(batch: {
    step: number;
    rollouts: TrainRollout[];
    fault: 'crash' | 'hang' | null;
    slowFactor: number;
    slowMs: number;
  }): Promise<{ version: number; stats: TrainStats; weights: PackedWeights }> {
    if (!model || !adam) throw new Error('learner: train before init');
    if (batch.step !== version + 1) throw new Error(`learner: asked to train step ${batch.step} at version ${version}`);
    if (batch.fault === 'crash') process.exit(70);
    if (batch.fault === 'hang') await new Promise(() => {});
    const t0 = wallNow();
    // Every rollout of the step dropped (e.g. all past the lag): the version still advances, nothing trains.
    const s =
      batch.rollouts.length > 0
        ? gptRlStep(model, adam, batch.rollouts, {
            loss,
            temperature,
            padId: PAD,
            learnerVersion: version,
            reference: reference ?? undefined,
            ...update,
          })
        : { ...EMPTY_UPDATE_STATS };
    const computeMs = wallNow() - t0;
    const slowMs = slowdownMs(computeMs, batch);
    if (slowMs > 0) blockMs(slowMs);
    version = batch.step;
    return {
      version,
      stats: { ...s, computeMs, numTensors: tf.memory().numTensors },
      weights: transferable(model.pack()),
    };
  },

  /** Weights and optimizer state for a checkpoint. */
  async snapshot(): Promise<{ version: number; weights: PackedWeights; optimizer: PackedWeights; adamStep: number }> {
    if (!model || !adam) throw new Error('learner: snapshot before init');
    return {
      version,
      weights: transferable(model.pack()),
      optimizer: transferable(adam.packState(names)),
      adamStep: adam.step,
    };
  },
};

export type LearnerApi = typeof api;
Comlink.expose(api, nodeEndpoint(parentPort!));
