import * as tf from '@tensorflow/tfjs';

/** One plain SGD step θ ← θ − lr·∇loss (the p^k model's optimiser). Returns the loss. */
export function sgdStep(vars: tf.Variable[], lossFn: () => tf.Scalar, lr: number): number {
  const { value, grads } = tf.variableGrads(lossFn, vars);
  const loss = value.dataSync()[0]!;
  tf.tidy(() => {
    for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name]!, lr)));
  });
  value.dispose();
  tf.dispose(Object.values(grads));
  return loss;
}
