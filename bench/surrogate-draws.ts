/**
 * The virtual clock's per-group draws alone: the surrogate's lengths and rewards of bench --sim
 * row 1's 307,200 groups (300 steps × 1,024 problems, 8 samples, a 2% length tail), and as many
 * jitter factors. Prints each repeat's milliseconds and a checksum of the draws (equal across
 * builds that draw the same). Run from two checkouts to compare them:
 *   npx tsx bench/surrogate-draws.ts [--repeats 7]
 */
import { SurrogateCompute, SurrogateSchema } from '../src/sim/compute.js';
import { jitterFactor } from '../src/sim/profile.js';

const i = process.argv.indexOf('--repeats');
const repeats = i > 0 ? Number(process.argv[i + 1]) : 7;
if (!Number.isInteger(repeats) || repeats < 1 || repeats > 100) {
  console.error(`--repeats: expected an integer in 1..100, got ${process.argv[i + 1]}`);
  process.exit(2);
}
const surrogate = SurrogateSchema.parse({
  promptTokens: 300,
  lengthMedian: 1500,
  lengthSigma: 0.8,
  tailFraction: 0.02,
  tailFactor: 4,
});
const compute = new SurrogateCompute(surrogate, 7, 1000);
const generateMs: number[] = [];
const jitterMs: number[] = [];
let checksum = 0;
for (let r = 0; r < repeats; r++) {
  const t0 = performance.now();
  for (let step = 0; step < 300; step++)
    for (let slot = 0; slot < 1024; slot++) {
      const g = compute.generate(step, [slot], 8192, 8, [[0, 0]]).groups[0]!;
      checksum += g.lengths[slot % 8]! + (g.payload as number[])[0]!;
    }
  const t1 = performance.now();
  for (let step = 0; step < 300; step++)
    for (let slot = 0; slot < 1024; slot++) checksum += jitterFactor(0.3, 7, 1, 0, step, slot);
  generateMs.push(Math.round(t1 - t0));
  jitterMs.push(Math.round(performance.now() - t1));
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`generate ms: ${generateMs.join(' ')} (median ${med(generateMs)})`);
console.log(`jitter ms: ${jitterMs.join(' ')} (median ${med(jitterMs)})`);
console.log(`checksum ${checksum}`);
