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

  /** One optimiser step on `lossFn` (a scalar built from the variables). Extra outputs are read back too. */
  minimize(lossFn: () => tf.Scalar, lr = this.config.lr): StepStats {
    const { value, grads } = tf.variableGrads(lossFn, this.vars);
    this.step += 1;
    const t = this.step;
    const { beta1, beta2, eps, clipNorm } = this.config;
    const normT = tf.tidy(() => tf.sqrt(tf.addN(this.vars.map((x) => tf.sum(tf.square(grads[x.name]!))))));
    const [loss, gradNorm] = [value.dataSync()[0]!, normT.dataSync()[0]!];
    value.dispose();
    normT.dispose();
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
    for (const g of Object.values(grads)) g.dispose();
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
