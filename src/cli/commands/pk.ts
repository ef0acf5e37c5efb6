import type { Command } from 'commander';
import { initBackend } from '../../tensor/backend.js';
import { runPk, PK_DEFAULTS, type PkLogRow, type PkOptions, type PkSummary } from '../../experiments/pk.js';
import { wallNow } from '../../runtime/clock.js';
import { parseFloatFlag, parseIntFlag, parseSeed, printJson } from '../common.js';
import { progress } from '../progress.js';
import { InputError } from '../../util/errors.js';

function choice<T extends string>(value: string, flag: string, options: readonly T[]): T {
  if (!(options as readonly string[]).includes(value)) throw new InputError(`${flag}: expected one of ${options.join(' | ')}, got '${value}'`);
  return value as T;
}

interface PkFlags {
  negatives: string; steps: string; budget: string; seed: string; seeds: string; group: string; lr: string; reduce: string;
  initRange: string; logEvery: string; json?: boolean; quiet?: boolean;
}

/** mean, min and max of one summary field over seeds. */
function spread(runs: PkSummary[], key: keyof PkSummary): { mean: number; min: number; max: number } | null {
  const xs = runs.map((r) => r[key]).filter((x): x is number => typeof x === 'number');
  if (xs.length === 0) return null;
  return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, min: Math.min(...xs), max: Math.max(...xs) };
}

const fmt = (x: number | null, d = 3) => (x === null ? '—' : x.toFixed(d));

export function registerPk(program: Command): void {
  program.command('pk')
    .description("the p^k experiment of E3.md: a softmax bigram over 100 actions + stop trained by GRPO through src/rl (see docs/PK.md)")
    .option('--negatives <m>', 'keep (GRPO) | mask (GRPOMask: zero the terms with negative advantage)', 'keep')
    .option('--steps <n>', 'GRPO steps (one group of --group episodes each)', String(PK_DEFAULTS.steps))
    .option('--budget <n>', 'episode budget B_tr (actions)', String(PK_DEFAULTS.budget))
    .option('--seed <s>', 'first seed', String(PK_DEFAULTS.seed))
    .option('--seeds <k>', 'number of seeds (seed, seed+1, …)', '1')
    .option('--group <g>', 'group size G (trajectories per step)', String(PK_DEFAULTS.groupSize))
    .option('--lr <x>', 'SGD step size', String(PK_DEFAULTS.lr))
    .option('--reduce <r>', 'sum | mean: how the G per-trajectory losses of a step combine', PK_DEFAULTS.reduce)
    .option('--init-range <x>', 'M ~ U[−x, x] before M[·,stop]=4, M[·,a*]=−4 (paper: 3)', '3')
    .option('--log-every <n>', 'steps per logged row', String(PK_DEFAULTS.logEvery))
    .option('--json', 'print one JSON document (per-step logs, summaries, spread over seeds)')
    .option('--quiet', 'no progress on stderr')
    .action(async (f: PkFlags) => {
      const negatives = choice(f.negatives, '--negatives', ['keep', 'mask'] as const);
      const reduce = choice(f.reduce, '--reduce', ['sum', 'mean'] as const);
      const steps = parseIntFlag(f.steps, '--steps', 1, 10_000_000);
      const base: Omit<PkOptions, 'seed'> = {
        negatives, steps, reduce,
        budget: parseIntFlag(f.budget, '--budget', 1, 10_000),
        groupSize: parseIntFlag(f.group, '--group', 2, 100_000),
        lr: parseFloatFlag(f.lr, '--lr', 0, 1e6),
        logEvery: Math.min(steps, parseIntFlag(f.logEvery, '--log-every', 1, 10_000_000)),
        init: { range: parseFloatFlag(f.initRange, '--init-range', 0, 50) },
      };
      const seed0 = parseSeed(f.seed);
      const nSeeds = parseIntFlag(f.seeds, '--seeds', 1, 1000);
      await initBackend('cpu'); // a 100 × 101 table: the loss's tensors are tiny, cpu is fastest
      const runs: { summary: PkSummary; log: PkLogRow[]; wallSeconds: number }[] = [];
      for (let k = 0; k < nSeeds; k++) {
        const seed = seed0 + k;
        const bar = progress(`pk ${negatives} seed ${seed}`, steps, Boolean(f.quiet || f.json));
        const t0 = wallNow();
        if (!f.json) process.stdout.write(`# seed ${seed}\n${'step'.padStart(9)} ${'episodes'.padStart(10)} ${'length'.padStart(7)} ${'reward'.padStart(7)} ${'p(stop)'.padStart(8)} ${'entropy'.padStart(8)} ${'p(a*)'.padStart(9)} ${'updates'.padStart(8)}\n`);
        const r = runPk({ ...base, seed }, (row) => {
          bar.update(row.step, { length: row.meanLength.toFixed(2), reward: row.reward.toFixed(3), pStop: row.pStop.toFixed(4) });
          if (!f.json) process.stdout.write(`${String(row.step).padStart(9)} ${String(row.episodes).padStart(10)} ${row.meanLength.toFixed(2).padStart(7)} ${row.reward.toFixed(4).padStart(7)} ${row.pStop.toFixed(4).padStart(8)} ${row.entropy.toFixed(4).padStart(8)} ${row.pAnswer.toExponential(2).padStart(9)} ${String(row.updates).padStart(8)}\n`);
        });
        bar.stop();
        const wallSeconds = (wallNow() - t0) / 1000;
        runs.push({ ...r, wallSeconds });
        if (!f.json) {
          const s = r.summary;
          process.stdout.write(`length ${fmt(s.lengthStart, 2)} → max ${fmt(s.lengthMax, 2)} (step ${s.lengthMaxStep}) → ${fmt(s.lengthEnd, 2)}; reward ${fmt(s.rewardEnd)}; ` +
            `p(stop) ${fmt(s.pStopStart, 4)} → ${fmt(s.pStopEnd, 4)}; entropy ${fmt(s.entropyStart)} → ${fmt(s.entropyEnd)}; ` +
            `negative-only updates that raised entropy ${fmt(s.negativeStepsEntropyUpFraction)} (argmax mass ${fmt(s.negativeStepsArgmaxMass)}); ${wallSeconds.toFixed(1)} s\n`);
        }
      }
      const summaries = runs.map((r) => r.summary);
      const keys = ['lengthStart', 'lengthMax', 'lengthEnd', 'rewardEnd', 'pStopStart', 'pStopEnd', 'entropyStart', 'entropyEnd', 'negativeStepsEntropyUpFraction'] as const;
      const spreadOut = Object.fromEntries(keys.map((k) => [k, spread(summaries, k)]));
      if (f.json) {
        const only = runs.length === 1 ? summaries[0]! : undefined;
        return printJson({ ...(only ?? { negatives }), config: { ...base, seeds: runs.map((r) => r.summary.seed) }, runs, spread: spreadOut });
      }
      if (runs.length > 1) {
        process.stdout.write(`# over ${runs.length} seeds: mean [min, max]\n`);
        for (const k of keys) {
          const s = spreadOut[k];
          if (s) process.stdout.write(`${k.padEnd(32)} ${fmt(s.mean, 4)} [${fmt(s.min, 4)}, ${fmt(s.max, 4)}]\n`);
        }
      }
    });
}
