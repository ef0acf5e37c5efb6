import * as tf from '@tensorflow/tfjs';
import { initBackend } from './src/tensor/backend.ts';
await initBackend('wasm');
function time(name: string, f: () => tf.Tensor|tf.Tensor[]) { for (let i=0;i<2;i++) tf.dispose(f()); const t0=performance.now(); for (let i=0;i<5;i++) { const r=f(); tf.dispose(r); } const ms=(performance.now()-t0)/5; console.log(name, ms.toFixed(2),'ms'); }
const a = tf.randomNormal([256,128,32]) as tf.Tensor3D, c = tf.randomNormal([256,32,128]) as tf.Tensor3D;
const as = tf.unstack(a) as tf.Tensor2D[], cs = tf.unstack(c) as tf.Tensor2D[];
time('matmuls only (distinct b)', () => as.map((x,i)=>tf.matMul(x, cs[i])));
time('unstack a', () => tf.unstack(a));
time('split a', () => tf.split(a, 256, 0));
const outs = as.map((x,i)=>tf.matMul(x, cs[i]));
time('stack outs', () => tf.stack(outs));
time('concat outs', () => tf.concat(outs, 0));
time('slice loop', () => { const o: tf.Tensor[] = []; for (let i=0;i<256;i++) o.push(tf.slice(a,[i,0,0],[1,128,32])); return o; });
const a2 = tf.reshape(a, [256*128, 32]);
time('slice2d loop', () => { const o: tf.Tensor[] = []; for (let i=0;i<256;i++) o.push(tf.slice(a2,[i*128,0],[128,32])); return o; });
