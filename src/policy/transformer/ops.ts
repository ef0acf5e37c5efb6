/**
 * Matrix products with hand-written gradients that use explicit transposes. On the wasm
 * backend `matMul` with transpose flags is 10–20x slower than on a transposed copy, and the
 * built-in gradients use those flags (DESIGN.md "Tensors"); these keep every product flag-free.
 */
import * as tf from '@tensorflow/tfjs';

/** x [n, k] · w [k, m] -> [n, m]. */
export const linear = tf.customGrad(((x: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy as tf.Tensor2D)];
    },
  };
}) as never) as unknown as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

/** Batched a [b, n, k] · c [b, k, m] -> [b, n, m]. */
export const bmm = tf.customGrad(((a: tf.Tensor, c: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, c]);
  return {
    value: tf.matMul(a as tf.Tensor3D, c as tf.Tensor3D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [as, cs] = saved as [tf.Tensor3D, tf.Tensor3D];
      return [
        tf.matMul(dy as tf.Tensor3D, tf.transpose(cs, [0, 2, 1])),
        tf.matMul(tf.transpose(as, [0, 2, 1]), dy as tf.Tensor3D),
      ];
    },
  };
}) as never) as unknown as (a: tf.Tensor3D, c: tf.Tensor3D) => tf.Tensor3D;

/**
 * LayerNorm over the last axis with a hand-written gradient (about half the kernels of the
 * autodiff one):  x̂ = (x − μ)·r,  r = 1/sqrt(σ² + ε),  y = x̂·g + b;
 *   dx = r·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)),  dx̂ = dy·g,  dg = Σ_rows dy·x̂,  db = Σ_rows dy.
 */
export const layerNorm = tf.customGrad(((x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  const mean = tf.mean(x, -1, true);
  const xc = tf.sub(x, mean);
  const r = tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), 1e-5));
  const xhat = tf.mul(xc, r);
  save([xhat, r, g]);
  return {
    value: tf.add(tf.mul(xhat, g), b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xh, rs, gs] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
      const dxhat = tf.mul(dy, gs);
      const dx = tf.mul(
        rs,
        tf.sub(tf.sub(dxhat, tf.mean(dxhat, -1, true)), tf.mul(xh, tf.mean(tf.mul(dxhat, xh), -1, true))),
      );
      return [dx, tf.sum(tf.mul(dy, xh), 0), tf.sum(dy, 0)];
    },
  };
}) as never) as unknown as (x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor2D;

/** The same LayerNorm through autodiff (the reference the tests compare against). */
export function layerNormReference(x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D): tf.Tensor2D {
  const mean = tf.mean(x, -1, true);
  const xc = tf.sub(x, mean);
  const variance = tf.mean(tf.square(xc), -1, true);
  return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, 1e-5))), g), b);
}

/**
 * GELU, sigmoid approximation x·σ(1.702x) (Hendrycks & Gimpel 2016). On wasm, tanh and pow are
 * 5–10x slower than sigmoid (measured: tanh 95 ms, sigmoid 9 ms on [8192, 512]).
 */
export function gelu(x: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
}
