/**
 * Interruption stress (issue #17; docs/TRAIN.md "Crash consistency"): SIGINT and SIGKILL at
 * seeded random moments of a sync run, each followed by --resume, compared with the
 * uninterrupted run. Prints the table of moments and outcomes; exit 1 if any trial differs.
 *   npx tsx bench/interrupt-stress.ts [--trials 20] [--seed 1] [--steps 8] [--backfill-rounds R] [--dir DIR]
 *     [--bin FILE] [--policy sync|one-step-off]
 * `--backfill-rounds R` turns on dynamic sampling (rollout.dynamicSampling) with R rounds;
 * `--policy one-step-off`: the next step is in flight at every checkpoint (the checkpoint waits for it);
 * `--bin FILE` runs another executable (a bundle's e3sim.mjs) instead of bin/e3sim.js.
 */
import { runStress, stressTable } from '../src/bench/interruptStress.js';

const arg = (name: string, d: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const policy = arg('--policy', 'sync');
if (policy !== 'sync' && policy !== 'one-step-off')
  throw new Error(`--policy: expected sync or one-step-off, got '${policy}'`);
const r = await runStress({
  trials: Number(arg('--trials', '20')),
  seed: Number(arg('--seed', '1')),
  steps: Number(arg('--steps', '8')),
  dir: process.argv.includes('--dir') ? arg('--dir', '') : undefined,
  bin: process.argv.includes('--bin') ? arg('--bin', '') : undefined,
  policy,
  dynamicSampling: process.argv.includes('--backfill-rounds')
    ? { backfillRounds: Number(arg('--backfill-rounds', '0')) }
    : undefined,
  onTrial: (t) =>
    process.stderr.write(
      `trial ${t.trial}: ${t.signal} at ${t.atMs ?? '—'} ms (${t.phase}) → ${t.ok ? 'identical' : t.problems.join('; ')}\n`,
    ),
});
console.log(
  `uninterrupted run: ${(r.referenceMs / 1000).toFixed(1)} s, ${r.reference.counts.steps} steps, weights ${r.reference.weightsSha256.slice(0, 12)}\n`,
);
console.log(stressTable(r));
const bad = r.trials.filter((t) => !t.ok).length;
const real = r.trials.filter((t) => t.exitCode !== 0);
const second = real.filter((t) => t.second && t.second.exitCode !== 0).length;
console.log(
  `\n${real.length} interruptions (${real.filter((t) => t.signal === 'SIGINT').length} SIGINT, ${real.filter((t) => t.signal === 'SIGKILL').length} SIGKILL; ${second} interrupted again during the resume; ` +
    `${r.trials.length - real.length} signals came after the run had finished): ${r.trials.length - bad} of ${r.trials.length} trials ended identical to the uninterrupted run`,
);
process.exitCode = bad ? 1 : 0;
