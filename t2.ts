import * as tf from '@tensorflow/tfjs';
import { initBackend } from './src/tensor/backend.ts';
import { Gpt } from './src/policy/transformer/model.ts';
import { sample } from './src/policy/transformer/sample.ts';
import { scoreSequences } from './src/policy/transformer/logprobs.ts';
import { Rng } from './src/util/rng.ts';
await initBackend((process.argv[2] ?? 'cpu') as any);
const m = Gpt.create({vocabSize:20,dModel:16,nHeads:2,nLayers:2,contextLength:24}, new Rng(1));
const rng = new Rng(5);
const prompts = [[1,3,4,5],[1,6,7,8],[1,9,9,9]];
const res = sample(m, prompts, { budgetTokens: 15, temperature: 0.8, eosId: 2, padId: 0, rngs: prompts.map((_,i)=>rng.fork(i)) });
let maxd = 0;
for (let b=0;b<3;b++){ const seq = [...prompts[b], ...res[b].tokens]; const T = seq.length; const s = scoreSequences(m, Int32Array.from(seq), 1, T, 0, 0.8);
  for (let t=0;t<res[b].tokens.length;t++){ const d = Math.abs(s.logprobs[prompts[b].length-1+t]-res[b].logprobs[t]); maxd=Math.max(maxd,d); const de=Math.abs(s.entropies[prompts[b].length-1+t]-res[b].entropies[t]); maxd=Math.max(maxd,de);} }
console.log(res.map(r=>r.tokens.join(' ')+' '+r.stop)); console.log('max diff', maxd, tf.memory().numTensors);
