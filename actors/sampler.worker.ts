/**
 * Sampler worker: holds a policy copy at some version and generates groups of rollouts.
 * Weights arrive on a dedicated MessagePort (one transferred buffer per version) and are read
 * synchronously with receiveMessageOnPort: between requests, or between tokens of unfinished
 * sequences when the request is `inflight` (each token keeps the version that produced it).
 */
import { parentPort, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import * as tf from '@tensorflow/tfjs';
import { nodeEndpoint } from '../src/runtime/workers.js';
import { initBackend, type BackendName } from '../src/tensor/backend.js';
import { Gpt } from '../src/policy/transformer/model.js';
import type { GptConfig } from '../src/policy/transformer/config.js';
import type { PackedWeights } from '../src/tensor/pack.js';
import { evalBudgets, measureLadder, type BudgetRow, type LadderMeasurement } from '../src/eval/countdown.js';
import { wallNow } from '../src/runtime/clock.js';
import type { Generate, Rollouts } from '../src/runtime/messages.js';
import { slowdownMs } from '../src/util/slowdown.js';
import { generateRollouts } from '../src/policy/generate.js';
import { roundWeights, type WeightsFormat } from '../src/policy/mismatch.js';

export interface WeightsMessage {
  version: number;
  weights: PackedWeights;
}

let model: Gpt | null = null;
let version = -1;
/** The published weights of `version` and the format the model holds them in (rollout.mismatch). */
let published: PackedWeights | null = null;
let format: WeightsFormat = 'exact';

/** Loads `w` (version `v`) for generation, rounded to `fmt`. */
function loadGeneration(w: PackedWeights, v: number, fmt: WeightsFormat): void {
  model!.load(roundWeights(w, fmt), `weights v${v}`);
  published = w;
  version = v;
  format = fmt;
}
let port: MessagePort | null = null;
let samplerId = '';

/** Applies the newest weights waiting on the port, if any; returns whether the version changed. */
function drainWeights(): boolean {
  let latest: WeightsMessage | null = null;
  for (let m = receiveMessageOnPort(port!); m; m = receiveMessageOnPort(port!)) latest = m.message as WeightsMessage;
  if (!latest || latest.version <= version) return false;
  loadGeneration(latest.weights, latest.version, format);
  return true;
}

/**
 * Runs `f` on the model at `w` (then puts the generation weights back), or at the current
 * weights when `w` is absent.
 */
function withWeights<R>(
  w: { version: number; weights: PackedWeights } | undefined,
  f: (m: Gpt, version: number) => R,
): R {
  if (!w) return f(model!, version);
  const saved = model!.pack();
  model!.load(w.weights, `weights v${w.version}`);
  try {
    return f(model!, w.version);
  } finally {
    model!.load(saved, `weights v${version}`);
  }
}

const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

function blockMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const api = {
  async init(o: {
    backend: BackendName;
    config: GptConfig;
    weights: PackedWeights;
    version: number;
    weightsPort: MessagePort;
    samplerId: string;
  }): Promise<string> {
    const b = await initBackend(o.backend);
    model = Gpt.fromPacked(o.config, o.weights, 'initial weights');
    published = o.weights;
    version = o.version;
    port = o.weightsPort;
    samplerId = o.samplerId;
    return `${b.name} (${b.detail})`;
  },

  /** Takes the newest weights; waits (bounded) until at least `minVersion` is here. Returns the version. */
  async syncWeights(minVersion: number, waitMsMax: number): Promise<number> {
    if (!model || !port) throw new Error('sampler: syncWeights before init');
    drainWeights();
    // Admission lets a request run at minVersion or newer; weights are posted before the
    // request, so this wait is short. The limit keeps a lost publication from hanging us.
    for (let waited = 0; version < minVersion; waited += 5) {
      if (waited > waitMsMax)
        throw new Error(`sampler ${samplerId}: weights v${minVersion} never arrived (have v${version})`);
      await sleepMs(5);
      drainWeights();
    }
    return version;
  },

  async generate(req: Generate): Promise<Rollouts> {
    if (!model || !port) throw new Error('sampler: generate before init');
    if (req.fault === 'crash') process.exit(70);
    if (req.fault === 'hang') await new Promise(() => {});
    if (version < req.minVersion)
      throw new Error(`sampler ${samplerId}: at v${version}, request ${req.requestId} needs v${req.minVersion}`);
    const fmt = req.mismatch?.weights ?? 'exact';
    if (fmt !== format) loadGeneration(published!, version, fmt);
    const t0 = wallNow();
    let swaps = 0;
    const { rollouts, generatedTokens, recomputes, aborts } = generateRollouts(model, req, () => {
      if (req.inflight && drainWeights()) swaps++;
      return version;
    });
    const computeMs = wallNow() - t0;
    const slowMs = slowdownMs(computeMs, req);
    if (slowMs > 0) blockMs(slowMs);
    return {
      type: 'Rollouts',
      requestId: req.requestId,
      samplerId,
      step: req.step,
      rollouts,
      generatedTokens,
      computeMs: wallNow() - t0,
      swaps,
      recomputes,
      aborts,
      numTensors: tf.memory().numTensors,
    };
  },

  /**
   * Held-out pass@1 per budget at `version`: with `weights` given, at those (the generation
   * weights are put back after); otherwise at the current version, after syncing to `version`.
   */
  async evaluate(o: {
    version: number;
    weights?: { version: number; weights: PackedWeights };
    difficulty: number;
    problems: number;
    samples: number;
    budgets: number[];
    ks: number[];
    temperature: number;
    seed: number;
  }): Promise<{ version: number; rows: BudgetRow[] }> {
    if (!model) throw new Error('sampler: evaluate before init');
    if (!o.weights) await api.syncWeights(o.version, 60_000);
    return withWeights(o.weights, (m, at) => {
      const r = evalBudgets(m, {
        difficulty: o.difficulty,
        budgets: o.budgets,
        samples: o.samples,
        ks: o.ks,
        problems: o.problems,
        seed: o.seed,
        temperature: o.temperature,
        batchSize: 64,
      });
      return { version: at, rows: r.budgets };
    });
  },

  /** J over a budget ladder and per-problem pass rates at `version` (the curriculum's measurements). */
  async measure(o: {
    version: number;
    weights?: { version: number; weights: PackedWeights };
    problems: { id: string; numbers: number[]; target: number; difficulty: number }[];
    ladder: number[];
    samples: number;
    k: number;
    temperature: number;
    seed: number;
  }): Promise<LadderMeasurement> {
    if (!model) throw new Error('sampler: measure before init');
    if (!o.weights) await api.syncWeights(o.version, 60_000);
    return withWeights(o.weights, (m) =>
      measureLadder(
        m,
        o.problems.map((p) => ({ ...p, witness: [] })),
        { ladder: o.ladder, samples: o.samples, k: o.k, seed: o.seed, temperature: o.temperature, batchSize: 64 },
      ),
    );
  },

  numTensors(): number {
    return tf.memory().numTensors;
  },
};

export type SamplerApi = typeof api;
Comlink.expose(api, nodeEndpoint(parentPort!));
