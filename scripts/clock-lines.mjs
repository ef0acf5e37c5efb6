#!/usr/bin/env node
// Lines of clock-specific code (issue #30's target): src/runtime and src/sim without the transports
// (src/runtime/nats/, the worker and thread plumbing, the zod messages), the cost model and compute
// (sim/profile.ts, compute.ts, policyCompute.ts) and the shared infrastructure that both clocks or
// the CLI use (config, the run lock, the checkpoint files, the bundle's paths, the clock itself).
// Prints each counted file under what it holds, the totals, and the rules' side (src/core,
// src/steps) beside them. `node scripts/clock-lines.mjs [--json]`; `--root DIR` counts another
// checkout (a `git worktree` of an older commit).
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const root = args.includes('--root') ? args[args.indexOf('--root') + 1] : process.cwd();

/** Left out of the count, each with its reason. */
const EXCLUDED = {
  'src/runtime/nats/': 'transport (NATS JetStream)',
  'src/runtime/workers.ts': 'transport (worker threads, comlink)',
  'src/runtime/messages.ts': 'transport (the messages, zod schemas)',
  'src/runtime/bundle.ts': "transport (the bundle's thread entry files)",
  'src/runtime/config.ts': 'the config schema (both clocks and the CLI)',
  'src/runtime/runLock.ts': 'the run directory lock (both clocks)',
  'src/runtime/checkpointer.ts': "the real clock's checkpoint files (format, atomic writes)",
  'src/runtime/clock.ts': 'the one wall clock and randomness gate',
  'src/sim/profile.ts': 'cost model',
  'src/sim/compute.ts': 'compute (the surrogate)',
  'src/sim/policyCompute.ts': 'compute (the real GPT)',
};

/** What each counted file holds (a file not named here is "unclassified", which this script reports). */
const HOLDS = {
  'interprets the core (effects in, events out)': [
    'src/runtime/roles/planning.ts',
    'src/runtime/roles/batcher.ts',
    'src/runtime/roles/learner.ts',
    'src/runtime/roles/curriculum.ts',
    'src/sim/sampling.ts',
    'src/sim/learning.ts',
    'src/sim/curriculum.ts',
    'src/sim/verifying.ts',
    'src/sim/topology.ts',
  ],
  "actors' records, scheduling and the loop": [
    'src/runtime/run.ts',
    'src/runtime/runTypes.ts',
    'src/runtime/roles/lifecycle.ts',
    'src/runtime/roles/effects.ts',
    'src/runtime/roles/supervisor.ts',
    'src/sim/engine.ts',
    'src/sim/events.ts',
    'src/sim/queue.ts',
    'src/sim/state.ts',
    'src/sim/work.ts',
  ],
  'threads, pools and workers (the real effects)': [
    'src/runtime/roles/samplers.ts',
    'src/runtime/roles/samplerThread.ts',
    'src/runtime/roles/verifiers.ts',
    'src/runtime/roles/grader.ts',
    'src/runtime/grade.ts',
    'src/runtime/roles/weightStore.ts',
    'src/runtime/roles/evaluation.ts',
    'src/runtime/roles/nats.ts',
  ],
  'faults and restarts as simulated process deaths': ['src/sim/faultDriver.ts'],
  'files: rows, summaries, checkpoints': [
    'src/runtime/roles/metrics.ts',
    'src/sim/simSummary.ts',
    'src/sim/simCheckpoint.ts',
  ],
  'hosting: settings, the run thread, the pre-run estimate': [
    'src/sim/run.ts',
    'src/sim/runThread.ts',
    'src/runtime/estimate.ts',
  ],
};

function tsFiles(dir) {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) return [];
  return fs
    .readdirSync(abs, { recursive: true })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f).split(path.sep).join('/'))
    .sort();
}
const lines = (f) => fs.readFileSync(path.join(root, f), 'utf8').split('\n').length - 1;
const excluded = (f) => Object.keys(EXCLUDED).some((e) => (e.endsWith('/') ? f.startsWith(e) : f === e));

const counted = [...tsFiles('src/runtime'), ...tsFiles('src/sim')].filter((f) => !excluded(f));
const kindOf = new Map(Object.entries(HOLDS).flatMap(([k, fs_]) => fs_.map((f) => [f, k])));
const groups = new Map();
for (const f of counted) {
  const k = kindOf.get(f) ?? 'unclassified';
  if (!groups.has(k)) groups.set(k, []);
  groups.get(k).push([f, lines(f)]);
}
const total = counted.reduce((a, f) => a + lines(f), 0);
const rules = [...tsFiles('src/core'), ...tsFiles('src/steps')].reduce((a, f) => a + lines(f), 0);
const sum = (xs) => xs.reduce((a, [, n]) => a + n, 0);

if (args.includes('--json')) {
  const byKind = Object.fromEntries(
    [...groups].map(([k, xs]) => [k, { lines: sum(xs), files: Object.fromEntries(xs) }]),
  );
  console.log(JSON.stringify({ clockSpecific: total, rulesCoreAndSteps: rules, byKind }, null, 2));
} else {
  for (const [k, xs] of groups) {
    console.log(`${String(sum(xs)).padStart(6)}  ${k}`);
    for (const [f, n] of xs) console.log(`${String(n).padStart(14)}  ${f}`);
  }
  console.log(`${String(total).padStart(6)}  clock-specific lines (src/runtime + src/sim, without the excluded below)`);
  console.log(`${String(rules).padStart(6)}  the rules both clocks call (src/core + src/steps)`);
  for (const [e, why] of Object.entries(EXCLUDED)) console.log(`     -  ${e}: ${why}`);
}
