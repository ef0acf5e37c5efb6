import * as tf from '@tensorflow/tfjs';
import { initBackend } from './src/tensor/backend.ts';
await initBackend('wasm');
const a = tf.randomNormal([256,128,32]) as tf.Tensor3D, b = tf.randomNormal([256,32,128]) as tf.Tensor3D;
function time(name: string, f: () => tf.Tensor) { f().dispose(); const t0=performance.now(); for (let i=0;i<3;i++) { const r=f(); r.dataSync(); r.dispose(); } console.log(name, ((performance.now()-t0)/3).toFixed(1),'ms'); }
time('bmm', () => tf.matMul(a,b));
time('per-item', () => tf.tidy(() => { const as = tf.unstack(a), bs = tf.unstack(b); return tf.stack(as.map((x,i)=>tf.matMul(x as tf.Tensor2D, bs[i] as tf.Tensor2D))); }));
const a2 = tf.randomNormal([256*128,32]) as tf.Tensor2D, w = tf.randomNormal([32,128]) as tf.Tensor2D;
time('2d same flops', () => tf.matMul(a2, w));
const a3 = tf.randomNormal([4,128,32]) as tf.Tensor3D, b3 = tf.randomNormal([4,32,128]) as tf.Tensor3D;
time('bmm batch4 x64', () => tf.tidy(() => { let s: tf.Tensor = tf.scalar(0); for (let i=0;i<64;i++) s = tf.matMul(a3,b3); return s; }));
const x = tf.randomNormal([8192,512]);
time('pow3', () => tf.pow(x,3)); time('x*x*x', () => tf.mul(tf.mul(x,x),x)); time('tanh', () => tf.tanh(x)); time('sigmoid', () => tf.sigmoid(x)); time('relu', () => tf.relu(x));
