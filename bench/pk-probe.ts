/**
 * Probe runs of the p^k experiment (issue #3 in progress): prints the log and the summary.
 *   npx tsx bench/pk-probe.ts NEGATIVES GROUP STEPS LR [ANSWER_LOGIT]
 */
import { initBackend } from '../src/tensor/backend.js';
import { runPk, PK_DEFAULTS } from '../src/experiments/pk.js';
import { wallNow } from '../src/runtime/clock.js';

await initBackend('cpu');
const t0 = wallNow();
const negatives = process.argv[2] === 'mask' ? 'mask' : 'keep';
const [G, steps, lr, answerLogit] = [Number(process.argv[3] ?? 64), Number(process.argv[4] ?? 1000), Number(process.argv[5] ?? 0.01), Number(process.argv[6] ?? -4)];
const r = runPk({ ...PK_DEFAULTS, negatives, groupSize: G, steps, lr, init: { answerLogit }, logEvery: Math.max(1, Math.round(steps / Number(process.env.LOGS ?? 10))) },
  (row) => console.log(row.step, row.meanLength.toFixed(2), row.reward.toFixed(4), row.pStop.toFixed(4), row.entropy.toFixed(4), row.pAnswer.toExponential(2)));
console.log(JSON.stringify(r.summary), `${((wallNow() - t0) / 1000).toFixed(1)} s`);
