import type { Command } from 'commander';
import os from 'node:os';
import { initBackend, parseBackend } from '../../tensor/backend.js';
import { REFERENCE_BENCH, runPolicyBench, runPolicyBenchThreads, type BenchShape } from '../../bench/policyBench.js';
import { runLatencyBench } from '../../bench/latencyBench.js';
import { wallNow } from '../../runtime/clock.js';
import { parseIntFlag, printJson } from '../common.js';
import { InputError } from '../../util/errors.js';
import { runTopologyBench } from '../../bench/topologyBench.js';
import { SIM_BENCH_CASES, runSimBench } from '../../bench/simBench.js';

export const BENCH_SHAPES: Record<string, BenchShape> = {
  reference: REFERENCE_BENCH,
  large: { dModel: 512, nHeads: 8, nLayers: 8, contextLength: 128, batch: 256, promptTokens: 16, vocabSize: 128 },
  /** A smoke-test size (seconds even on the plain-JavaScript cpu backend). */
  tiny: { dModel: 32, nHeads: 2, nLayers: 1, contextLength: 32, batch: 4, promptTokens: 8, vocabSize: 32 },
};

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('sampling and training throughput of the tiny GPT')
    .option('--backend <b>', 'auto|tensorflow|webgpu|wasm|cpu', 'auto')
    .option(
      '--shape <name>',
      'reference (dModel 128, 4 heads, 2 layers, ctx 128, batch 64, prompt 16) | large (dModel 512, 8 heads, 8 layers, batch 256) | tiny (smoke test)',
      'reference',
    )
    .option('--repeats <n>', 'timed repeats (after one warm-up); medians are reported', '3')
    .option('--threads <n>', 'worker threads running the workload at once (one model each; aggregate tokens/s)', '1')
    .option('--topology', 'train the same small config in sync and async (η = 1) and compare tokens/s')
    .option('--steps <n>', 'learner steps per topology run', '8')
    .option('--sim', 'simulated events per second of the virtual clock (compute: none) on cluster-sized topologies')
    .option('--row <n>', 'with --sim: only this row of the table (1 = the first), for alternated runs of one row')
    .option('--json', 'print JSON')
    .option('--no-train', 'measure sampling only (e.g. a large shape on a slow backend)')
    .option(
      '--rl-step',
      "where one learner step's time goes at the e3-countdown experiment's shape (sample, verify/grade, log-probs, optimiser steps, publish)",
    )
    .option('--latency', 'message latency: xstate send, worker round trip, and both (p50/p99)')
    .action(async (o: BenchFlags) => {
      if (o.row !== undefined && !o.sim) throw new InputError('--row: only with --sim (a row of its table)');
      if (o.rlStep) return rlStep(o);
      if (o.latency) return latencyBench(o);
      if (o.sim) return simBench(o);
      if (o.topology) return topologyBench(o);
      return policyBench(o);
    });
}

interface BenchFlags {
  backend: string;
  shape: string;
  repeats: string;
  threads: string;
  train: boolean;
  json?: boolean;
  topology?: boolean;
  steps: string;
  sim?: boolean;
  row?: string;
  latency?: boolean;
  rlStep?: boolean;
}

/** --latency: what one message costs (xstate, a worker round trip, both). */
async function latencyBench(o: BenchFlags): Promise<void> {
  const rows = await runLatencyBench({ messages: 20_000, now: wallNow });
  if (o.json) return printJson({ cpu: os.cpus()[0]?.model ?? 'cpu', rows });
  process.stdout.write('| path | messages | p50 µs | p99 µs | mean µs |\n|---|---:|---:|---:|---:|\n');
  for (const r of rows)
    process.stdout.write(
      `| ${r.name} | ${r.messages.toLocaleString('en-US')} | ${r.p50Us.toFixed(1)} | ${r.p99Us.toFixed(1)} | ${r.meanUs.toFixed(1)} |\n`,
    );
}

/** --sim: simulated events per second of the virtual clock. */
async function simBench(o: BenchFlags): Promise<void> {
  const repeats = parseIntFlag(o.repeats, '--repeats', 1, 100);
  const row = o.row === undefined ? null : parseIntFlag(o.row, '--row', 1, SIM_BENCH_CASES.length);
  const rows = await runSimBench({
    repeats,
    cases: row === null ? undefined : [SIM_BENCH_CASES[row - 1]!],
    now: wallNow,
    log: o.json ? undefined : (s) => process.stderr.write(`  ${s}\n`),
  });
  if (o.json) return printJson({ cpu: os.cpus()[0]?.model ?? 'cpu', rows });
  process.stdout.write('| topology | events | simulated s | wall s (median) | events/s |\n|---|---:|---:|---:|---:|\n');
  for (const r of rows) {
    process.stdout.write(
      `| ${r.name} | ${r.events.toLocaleString('en-US')} | ${r.simSeconds.toFixed(0)}` +
        ` | ${r.medianWallSeconds.toFixed(2)} | ${Math.round(r.eventsPerSecond).toLocaleString('en-US')}` +
        ` |\n`,
    );
  }
}

/** --topology: sync against async training of the same small config. */
async function topologyBench(o: BenchFlags): Promise<void> {
  const backend = parseBackend(o.backend);
  const steps = parseIntFlag(o.steps, '--steps', 2, 1000);
  const r = await runTopologyBench({
    backend,
    steps,
    repeats: parseIntFlag(o.repeats, '--repeats', 1, 100),
    now: wallNow,
    log: o.json ? undefined : (s) => process.stderr.write(`  ${s}\n`),
  });
  if (o.json) return printJson(r);
  process.stdout.write(
    `sync ${r.syncTokensPerSec.toFixed(0)} tokens/s, async ${r.asyncTokensPerSec.toFixed(0)}` +
      ` tokens/s: speedup ${r.speedup.toFixed(2)}x (bound from the sync runs' compute: ${r.speedupBound.toFixed(2)}` +
      `x); async: actors idle ${(r.overheadFraction * 100).toFixed(0)}%, bottleneck idle ${(r.criticalPathIdleFraction * 100).toFixed(1)}` +
      `% (in steady state: ${(r.steadyStateOverheadFraction * 100).toFixed(1)}` +
      `%)\n`,
  );
}

/** The default: sampling and training tokens/s of the tiny GPT at a shape, in one or more threads. */
async function policyBench(o: BenchFlags): Promise<void> {
  const shape = BENCH_SHAPES[o.shape];
  if (!shape)
    throw new InputError(`--shape: expected one of ${Object.keys(BENCH_SHAPES).join(', ')}, got '${o.shape}'`);
  const repeats = parseIntFlag(o.repeats, '--repeats', 1, 100);
  const threads = parseIntFlag(o.threads, '--threads', 1, 16);
  if (threads > 1) {
    const r = await runPolicyBenchThreads(parseBackend(o.backend), shape, {
      threads,
      repeats,
      train: o.train,
      now: wallNow,
      log: o.json ? undefined : (s) => process.stderr.write(`  ${s}\n`),
    });
    if (o.json) return printJson(r);
    process.stdout.write(
      `${r.backend} × ${threads} threads: sample ${r.sampleTokensPerSec.toFixed(0)} tokens/s, ${o.train ? `train ${r.trainTokensPerSec.toFixed(0)} tokens/s` : 'no training measured'} (all threads)\n`,
    );
    return;
  }
  const backend = await initBackend(parseBackend(o.backend));
  if (!o.json)
    process.stderr.write(
      `backend: ${backend.name} (${backend.detail}); ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}\n`,
    );
  const r = await runPolicyBench(backend.name, shape, {
    repeats,
    train: o.train,
    now: wallNow,
    log: o.json ? undefined : (s) => process.stderr.write(`  ${s}\n`),
  });
  if (o.json) return printJson({ ...r, detail: backend.detail });
  process.stdout.write(
    `${r.backend}: sample ${r.sampleTokensPerSec.toFixed(0)} tokens/s, ` +
      (o.train
        ? `train ${r.trainTokensPerSec.toFixed(0)} tokens/s (${r.trainStepMs.toFixed(0)} ms/step)`
        : 'no training measured') +
      `\n`,
  );
}

async function rlStep(o: { backend: string; repeats: string; json?: boolean }): Promise<void> {
  const [{ runRlStepBench }, { FULL, BASE, B_TR }] = await Promise.all([
    import('../../bench/rlStepBench.js'),
    import('../../experiments/e3Countdown.js'),
  ]);
  const repeats = parseIntFlag(o.repeats, '--repeats', 1, 100);
  const backend = await initBackend(parseBackend(o.backend));
  const shape = {
    checkpoint: BASE,
    problems: FULL.problemsPerStep,
    groupSize: FULL.groupSize,
    budgetTokens: B_TR,
    minibatches: FULL.minibatches,
    difficulty: 3,
  };
  const r = runRlStepBench(shape, {
    repeats,
    now: wallNow,
    log: o.json ? undefined : (s) => process.stderr.write(`  ${s}\n`),
  });
  if (o.json) return printJson({ backend: backend.name, shape, ...r });
  process.stdout.write(
    `one learner step on ${backend.name}: ${shape.problems} problems × ${shape.groupSize} samples at ${shape.budgetTokens} tokens (${r.tokensPerStep} completion tokens), ${shape.minibatches} minibatches; medians of ${repeats}\n`,
  );
  process.stdout.write('| phase | ms | share |\n|---|---:|---:|\n');
  for (const x of r.rows)
    process.stdout.write(`| ${x.phase} | ${x.medianMs.toFixed(0)} | ${(x.share * 100).toFixed(0)}% |\n`);
  process.stdout.write(`| total | ${r.totalMs.toFixed(0)} | |\n`);
}
