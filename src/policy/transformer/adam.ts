/**
 * Adam with bias correction and global-norm gradient clipping. Written out (rather than
 * tf.train.adam) so that its moments pack into one Float32Array like the weights do, for
 * checkpoints and for moving a learner between threads.
 */
import * as tf from '@tensorflow/tfjs';
import { packArrays, unpackArrays, type PackedWeights } from '../../tensor/pack.js';

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Clip the global gradient norm to this value; 0 disables. */
  clipNorm: number;
}

export const ADAM_DEFAULTS: AdamConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, clipNorm: 1 };

export interface StepStats {
  loss: number;
  gradNorm: number;
}

export class Adam {
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  step = 0;

  constructor(
    private readonly vars: tf.Variable[],
    readonly config: AdamConfig = ADAM_DEFAULTS,
  ) {
    this.m = vars.map((x) => tf.variable(tf.zerosLike(x), false));
    this.v = vars.map((x) => tf.variable(tf.zerosLike(x), false));
  }

  /** One optimiser step on `lossFn` (a scalar built from the variables), reading the loss and gradient norm synchronously. */
  minimize(lossFn: () => tf.Scalar, lr = this.config.lr): StepStats {
    const g = this.gradients(lossFn);
    return this.apply(g, g.value.dataSync()[0]!, g.normT.dataSync()[0]!, lr);
  }

  /** The same step, reading the loss and gradient norm asynchronously (the webgpu backend: see sampleAsync). */
  async minimizeAsync(lossFn: () => tf.Scalar, lr = this.config.lr): Promise<StepStats> {
    const g = this.gradients(lossFn);
    let loss: number, gradNorm: number;
    try {
      [loss, gradNorm] = [(await g.value.data())[0]!, (await g.normT.data())[0]!];
    } catch (e) {
      tf.dispose([g.value, g.normT, ...Object.values(g.grads)]);
      throw e;
    }
    return this.apply(g, loss, gradNorm, lr);
  }

  private gradients(lossFn: () => tf.Scalar): { value: tf.Scalar; normT: tf.Scalar; grads: tf.NamedTensorMap } {
    const { value, grads } = tf.variableGrads(lossFn, this.vars);
    // Summed one by one, not with tf.addN: webgpu's AddN is one shader with a storage buffer per
    // input, and 38 inputs (134 at 8 layers) exceed WebGPU's limit of 8 per stage (measured on an
    // H200). The cpu and wasm AddN add in the same order, so their bits are unchanged.
    const normT = tf.tidy(() =>
      tf.sqrt(this.vars.map((x) => tf.sum(tf.square(grads[x.name]!))).reduce((a, b) => tf.add(a, b))),
    );
    return { value, normT: normT as tf.Scalar, grads };
  }

  private apply(
    g: { value: tf.Scalar; normT: tf.Scalar; grads: tf.NamedTensorMap },
    loss: number,
    gradNorm: number,
    lr: number,
  ): StepStats {
    const { grads } = g;
    g.value.dispose();
    g.normT.dispose();
    this.step += 1;
    const t = this.step;
    const { beta1, beta2, eps, clipNorm } = this.config;
    const scale = clipNorm > 0 && gradNorm > clipNorm ? clipNorm / gradNorm : 1;
    const stepSize = (lr * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
    tf.tidy(() => {
      this.vars.forEach((x, i) => {
        const g = scale === 1 ? grads[x.name]! : tf.mul(grads[x.name]!, scale);
        const m = tf.add(tf.mul(this.m[i]!, beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(this.v[i]!, beta2), tf.mul(tf.square(g), 1 - beta2));
        this.m[i]!.assign(m);
        this.v[i]!.assign(v);
        x.assign(tf.sub(x, tf.mul(tf.div(m, tf.add(tf.sqrt(v), eps)), stepSize)));
      });
    });
    for (const x of Object.values(grads)) x.dispose();
    return { loss, gradNorm };
  }

  packState(names: string[]): PackedWeights {
    return packArrays([
      ...this.m.map((x, i) => ({ name: `m.${names[i]}`, shape: x.shape, values: x.dataSync() as Float32Array })),
      ...this.v.map((x, i) => ({ name: `v.${names[i]}`, shape: x.shape, values: x.dataSync() as Float32Array })),
    ]);
  }

  loadState(names: string[], state: PackedWeights, step: number, source = 'optimizer state'): void {
    const byName = unpackArrays(state, source);
    names.forEach((n, i) => {
      for (const [prefix, arr] of [
        ['m', this.m],
        ['v', this.v],
      ] as const) {
        const w = byName.get(`${prefix}.${n}`);
        if (!w || w.values.length !== arr[i]!.size)
          throw new Error(`${source}: '${prefix}.${n}' missing or of the wrong size`);
        tf.tidy(() => arr[i]!.assign(tf.tensor(w.values.slice(), arr[i]!.shape)));
      }
    });
    this.step = step;
  }

  dispose(): void {
    for (const x of [...this.m, ...this.v]) x.dispose();
  }
}
