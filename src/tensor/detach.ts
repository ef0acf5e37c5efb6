import * as tf from '@tensorflow/tfjs';

/** The value of x with no gradient flowing back through it (tfjs has no stopGradient op). */
export const stopGradient = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  void save;
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
}) as never) as unknown as <T extends tf.Tensor>(x: T) => T;
