/**
 * Probe runs of the p^k experiment: prints the log and the summary.
 *   npx tsx bench/pk-probe.ts NEGATIVES GROUP STEPS LR [SEED]
 */
import { initBackend } from '../src/tensor/backend.js';
import { runPk } from '../src/experiments/pk.js';
import { wallNow } from '../src/runtime/clock.js';

await initBackend('cpu');
const t0 = wallNow();
const negatives = process.argv[2] === 'mask' ? 'mask' : 'keep';
const [G, steps, lr, seed] = [Number(process.argv[3] ?? 64), Number(process.argv[4] ?? 1000), Number(process.argv[5] ?? 0.01), Number(process.argv[6] ?? 0)];
const r = runPk({ negatives, budget: 100, seed, groupSize: G, steps, lr, reduce: 'mean', init: { range: Number(process.env.RANGE ?? 3) }, logEvery: Math.max(1, Math.round(steps / Number(process.env.LOGS ?? 10))) },
  (row) => console.log(row.step, row.meanLength.toFixed(2), row.reward.toFixed(4), row.pStop.toFixed(4), row.entropy.toFixed(4), row.pAnswer.toExponential(2), row.updates, `${((wallNow() - t0) / 1000).toFixed(1)}s`));
console.log(JSON.stringify(r.summary), `${((wallNow() - t0) / 1000).toFixed(1)} s`);
