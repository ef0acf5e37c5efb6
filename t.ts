import { Rng } from './src/util/rng.ts';
import { generateProblem, evalSet } from './src/tasks/countdown/problems.ts';
import { synthesizeTrace, BASE_KNOBS } from './src/tasks/countdown/synth.ts';
import { verify } from './src/tasks/countdown/verifier.ts';
import { decode } from './src/tasks/countdown/tokenizer.ts';
const rng = new Rng(1);
let L=0, A=0, ok=0, n=2000, maxL=0;
for (let i=0;i<n;i++){ const d = 3 + rng.int(4); const p = generateProblem(rng, d, 'train'); const t = synthesizeTrace(p, BASE_KNOBS, rng, 320); L += t.prompt.length+t.completion.length; maxL=Math.max(maxL,t.prompt.length+t.completion.length); A += t.attempts; const v = verify(p, t.completion); if (v.correct) ok++; if (i<4) console.log(decode([...t.prompt, ...t.completion]), v); }
console.log('mean len', L/n, 'max', maxL, 'attempts', A/n, 'correct', ok/n);
console.log(evalSet(0,3,5).map(p=>p.id));
