/**
 * `e3sim bench`: sampling tokens/s (KV cache) and training tokens/s (forward + backward + Adam
 * on a token-level policy-gradient loss) of the tiny GPT at the reference shape.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import { Gpt } from '../policy/transformer/model.js';
import { Adam } from '../policy/transformer/adam.js';
import { sample, sampleAsync, usesHostKvCache } from '../policy/transformer/sample.js';
import { tokenLogprobsTensor } from '../policy/transformer/logprobs.js';
import type { GptConfig } from '../policy/transformer/config.js';
import { median } from '../util/stats.js';
import type * as Comlink from 'comlink';
import type { BackendName } from '../tensor/backend.js';
import { WorkerHandle } from '../runtime/workers.js';
import type { MessagePort } from 'node:worker_threads';

export interface BenchShape {
  dModel: number;
  nHeads: number;
  nLayers: number;
  contextLength: number;
  batch: number;
  promptTokens: number;
  vocabSize: number;
}

export const REFERENCE_BENCH: BenchShape = {
  dModel: 128,
  nHeads: 4,
  nLayers: 2,
  contextLength: 128,
  batch: 64,
  promptTokens: 16,
  vocabSize: 128,
};

export interface BenchResult {
  backend: string;
  shape: BenchShape;
  sampleTokensPerSec: number;
  trainTokensPerSec: number;
  trainStepMs: number;
  /** Worker threads that ran the workload at the same time (figures are their aggregate). */
  threads: number;
  /** Every timed repeat, so the spread is visible. */
  sampleRuns: number[];
  trainStepRuns: number[];
}

export function pgLoss(
  model: Gpt,
  tokens: tf.Tensor2D,
  targets: tf.Tensor2D,
  advantages: tf.Tensor1D,
  mask: tf.Tensor1D,
): tf.Scalar {
  const { logprobs } = tokenLogprobsTensor(model, tokens, targets);
  return tf.div(tf.neg(tf.sum(tf.mul(tf.mul(logprobs, advantages), mask))), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
}

/**
 * One thread's bench workload: a model at the bench shape, fixed prompts and a fixed training
 * batch. `sampleOnce` and `trainOnce` are what the timed repeats call; `runPolicyBench` runs them
 * in this thread, and `bench --threads N` runs one instance per worker thread (bench.worker.ts).
 */
export class PolicyBenchWorkload {
  private readonly model: Gpt;
  private readonly adam: Adam;
  private readonly prompts: number[][];
  private readonly rng: Rng;
  private readonly batch: { tokens: tf.Tensor2D; targets: tf.Tensor2D; adv: tf.Tensor1D; mask: tf.Tensor1D };

  constructor(
    readonly shape: BenchShape,
    seed = 'bench',
  ) {
    const cfg: GptConfig = {
      vocabSize: shape.vocabSize,
      dModel: shape.dModel,
      nHeads: shape.nHeads,
      nLayers: shape.nLayers,
      contextLength: shape.contextLength,
    };
    this.rng = new Rng(seed);
    this.model = Gpt.create(cfg, this.rng.fork('init'));
    const { batch: B, promptTokens: P, contextLength: T } = shape;
    this.prompts = Array.from({ length: B }, () =>
      Array.from({ length: P }, () => 3 + this.rng.int(shape.vocabSize - 3)),
    );
    this.adam = new Adam(this.model.variables, { lr: 1e-4, beta1: 0.9, beta2: 0.99, eps: 1e-8, clipNorm: 1 });
    const toks = new Int32Array(B * T).map(() => this.rng.int(shape.vocabSize));
    this.batch = {
      tokens: tf.tensor2d(toks, [B, T], 'int32'),
      targets: tf.tensor2d(
        toks.map((_, i) => toks[i + 1] ?? 0),
        [B, T],
        'int32',
      ),
      adv: tf.tensor1d(new Float32Array(B * T).map(() => this.rng.normal())),
      mask: tf.tensor1d(new Float32Array(B * T).map((_, i) => (i % T >= P - 1 && i % T < T - 1 ? 1 : 0))),
    };
  }

  /**
   * Generates the full budget for every prompt (EOS disabled); returns the tokens generated.
   * Host backends read synchronously, GPU backends asynchronously (sampleAsync says why).
   */
  async sampleOnce(repeat: number): Promise<number> {
    const run = usesHostKvCache() ? sample : sampleAsync;
    const res = await run(this.model, this.prompts, {
      budgetTokens: this.shape.contextLength - this.shape.promptTokens,
      temperature: 1,
      eosId: -1,
      padId: 0,
      rngs: this.prompts.map((_, i) => this.rng.fork(`s${repeat}.${i}`)),
    });
    return res.reduce((a, x) => a + x.tokens.length, 0);
  }

  /** One forward + backward + Adam step; returns the completion tokens it trained on. */
  async trainOnce(): Promise<number> {
    const { tokens, targets, adv, mask } = this.batch;
    const loss = () => pgLoss(this.model, tokens, targets, adv, mask);
    if (usesHostKvCache()) this.adam.minimize(loss);
    else await this.adam.minimizeAsync(loss);
    return this.shape.batch * (this.shape.contextLength - this.shape.promptTokens);
  }

  dispose(): void {
    tf.dispose(Object.values(this.batch));
    this.adam.dispose();
    this.model.dispose();
  }
}

export async function runPolicyBench(
  backend: string,
  shape: BenchShape,
  opts: { repeats: number; train?: boolean; now: () => number; log?: (s: string) => void },
): Promise<BenchResult> {
  const w = new PolicyBenchWorkload(shape);
  const sampleRuns: number[] = [];
  for (let r = 0; r <= opts.repeats; r++) {
    const t0 = opts.now();
    const n = await w.sampleOnce(r);
    const dt = (opts.now() - t0) / 1000;
    if (r > 0) sampleRuns.push(n / dt); // first run warms up
    opts.log?.(`sample ${r === 0 ? 'warmup' : r}: ${(n / dt).toFixed(0)} tokens/s`);
  }
  const trainStepRuns: number[] = [];
  let trained = 0;
  for (let r = 0; opts.train !== false && r <= opts.repeats; r++) {
    const t0 = opts.now();
    trained = await w.trainOnce();
    const dt = opts.now() - t0;
    if (r > 0) trainStepRuns.push(dt);
    opts.log?.(`train ${r === 0 ? 'warmup' : r}: ${dt.toFixed(0)} ms/step`);
  }
  w.dispose();
  const trainStepMs = trainStepRuns.length > 0 ? median(trainStepRuns) : NaN;
  return {
    backend,
    shape,
    threads: 1,
    sampleTokensPerSec: median(sampleRuns),
    trainTokensPerSec: (trained / trainStepMs) * 1000,
    trainStepMs,
    sampleRuns,
    trainStepRuns,
  };
}

export interface BenchWorkerApi {
  init(backend: BackendName, shape: BenchShape, seed: string): Promise<string>;
  sampleOnce(repeat: number): Promise<number>;
  trainOnce(): Promise<number>;
  /** For the latency bench: returns its argument. */
  echo(x: number): number;
  /** For the latency bench: echoes every message that arrives on `port`. */
  echoOn(port: MessagePort): void;
}

/**
 * The same measurement with `threads` worker threads, each with its own backend and model,
 * sampling (then training) at the same time: aggregate tokens/s = all threads' tokens / the wall
 * time until the last one finishes, per repeat; medians over repeats.
 */
export async function runPolicyBenchThreads(
  backend: BackendName,
  shape: BenchShape,
  opts: { threads: number; repeats: number; train?: boolean; now: () => number; log?: (s: string) => void },
): Promise<BenchResult> {
  const workers = Array.from(
    { length: opts.threads },
    (_, i) => new WorkerHandle<BenchWorkerApi>(`bench-${i}`, 'bench.worker.ts'),
  );
  const timeout = 30 * 60_000;
  try {
    const details = await Promise.all(
      workers.map((w, i) => w.call('init', (api) => api.init(backend, shape, `bench.${i}`), timeout)),
    );
    opts.log?.(`${opts.threads} threads on ${details[0]}`);
    const phase = async (
      what: string,
      f: (api: Comlink.Remote<BenchWorkerApi>) => Promise<number>,
    ): Promise<number[]> => {
      const runs: number[] = [];
      for (let r = 0; r <= opts.repeats; r++) {
        const t0 = opts.now();
        const tokens = (await Promise.all(workers.map((w) => w.call(what, f, timeout)))).reduce((a, b) => a + b, 0);
        const dt = (opts.now() - t0) / 1000;
        if (r > 0) runs.push(tokens / dt);
        opts.log?.(`${what} ${r === 0 ? 'warmup' : r}: ${(tokens / dt).toFixed(0)} tokens/s (all threads)`);
      }
      return runs;
    };
    let repeat = 0;
    const sampleRuns = await phase('sample', (api) => api.sampleOnce(repeat++));
    const trainRuns = opts.train === false ? [] : await phase('train', (api) => api.trainOnce());
    const trainTokensPerSec = trainRuns.length > 0 ? median(trainRuns) : NaN;
    const perStep = opts.threads * shape.batch * (shape.contextLength - shape.promptTokens);
    return {
      backend: details[0]!.split(' ')[0]!,
      shape,
      threads: opts.threads,
      sampleTokensPerSec: median(sampleRuns),
      trainTokensPerSec,
      trainStepMs: (perStep / trainTokensPerSec) * 1000,
      sampleRuns,
      trainStepRuns: trainRuns.map((t) => (perStep / t) * 1000),
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
