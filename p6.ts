import * as tf from '@tensorflow/tfjs';
import { initBackend } from './src/tensor/backend.ts';
await initBackend('wasm');
function time(name: string, flops: number, f: () => tf.Tensor) { for (let i=0;i<2;i++) f().dispose(); const t0=performance.now(); for (let i=0;i<5;i++) { const r=f(); r.dataSync(); r.dispose(); } const ms=(performance.now()-t0)/5; console.log(name, ms.toFixed(2),'ms', (flops/ms/1e6).toFixed(2), 'GFLOP/s'); }
for (const [b,m,k,n] of [[256,128,32,128],[1,4096,32,128],[16,512,32,512],[256,128,128,32],[1,128,32,128], [64,128,128,128]]) {
  const a = tf.randomNormal([b,m,k]) as tf.Tensor3D, c = tf.randomNormal([b,k,n]) as tf.Tensor3D;
  time(`bmm ${[b,m,k,n]}`, 2*b*m*k*n, () => tf.matMul(a,c));
  const a2 = tf.randomNormal([b*m,k]) as tf.Tensor2D, c2 = tf.randomNormal([k,n]) as tf.Tensor2D;
  time(`2d  ${[b*m,k,n]}`, 2*b*m*k*n, () => tf.matMul(a2,c2));
}
