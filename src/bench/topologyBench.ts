/**
 * `e3sim bench --topology`: the same small training config run in `sync` and in `async`
 * (η = 1, one sampler and the learner overlapping), reporting generated tokens per second of
 * each and the share of actor time spent neither computing nor moving weights.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseTrainConfig, type TrainConfig } from '../runtime/config.js';
import { TrainingRun, type Summary } from '../runtime/run.js';
import type { Now } from '../runtime/clock.js';
import type { BackendName } from '../tensor/backend.js';
import { median } from '../util/stats.js';

export interface TopologyBenchResult {
  backend: BackendName;
  steps: number;
  syncTokensPerSec: number;
  asyncTokensPerSec: number;
  speedup: number;
  /**
   * Median over the async runs (each run's figures are in `runs`): the share of (sampler + learner) × wall time spent
   * neither computing nor moving weights — waiting for the other side included.
   */
  overheadFraction: number;
  /**
   * Median over the async runs of 1 − (busiest actor's compute + transfer) / wall: the time the
   * bottleneck was not working — the topology's own cost (messages, scheduling, the pipeline's
   * fill at the start), not waiting that a faster bottleneck would remove.
   */
  criticalPathIdleFraction: number;
  /**
   * (S + L) / max(S, L) from the sync runs' sampler (S) and learner (L) compute: the best speedup overlap can give
   * with two free cores.
   */
  speedupBound: number;
  /**
   * Median over the async runs of the learner's idle share in steady state: from its first TRAIN
   * to the end of its last training step, 1 − its compute / that window. This leaves out the
   * pipeline's fill (waiting for the first batch) and the final checkpoint, and keeps what the
   * topology costs per step: routing, batch forming, the batch and weights crossing threads.
   */
  steadyStateOverheadFraction: number;
  runs: { policy: string; summary: Summary; steadyStateOverheadFraction: number }[];
}

/** See TopologyBenchResult.steadyStateOverheadFraction; reads the run's transitions.jsonl. */
function steadyIdle(dir: string, s: Summary): number {
  const learner = fs
    .readFileSync(path.join(dir, 'transitions.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"actor":"learner"'))
    .map((l) => JSON.parse(l) as { t: number; from: string | null; to: string });
  const start = learner.find((x) => x.to === 'training')?.t;
  const end = [...learner].reverse().find((x) => x.from === 'training')?.t;
  if (start === undefined || end === undefined || end <= start) return NaN;
  return Math.max(0, 1 - s.learnerComputeMs / (end - start));
}

export function topologyBenchConfig(policy: 'sync' | 'async', backend: BackendName, steps: number): TrainConfig {
  return parseTrainConfig(
    {
      name: `bench-topology-${policy}`,
      seed: 0,
      backend,
      model: { checkpoint: 'examples/checkpoints/base-countdown' },
      rollout: { problemsPerStep: 4, groupSize: 8, temperature: 1 },
      curriculum: { stages: [{ difficulty: 3, budgetTokens: 64, steps }] },
      learner: {
        lr: 1e-5,
        klCoef: 0,
        entropyCoef: 0,
        correction: policy === 'async' ? { kind: 'tis', c: 2 } : { kind: 'none' },
      },
      staleness: policy === 'async' ? { policy: 'async', eta: 1 } : { policy: 'sync' },
      topology: { samplers: 1, verifierThreads: 1 },
      checkpoint: { every: steps, keep: 1 },
    },
    'bench --topology',
  );
}

/** Alternates sync and async runs `repeats` times (the machine is noisy) and reports medians. */
export async function runTopologyBench(o: {
  backend: BackendName;
  steps: number;
  repeats: number;
  now: Now;
  log?: (s: string) => void;
}): Promise<TopologyBenchResult> {
  const runs: { policy: string; summary: Summary; steadyStateOverheadFraction: number }[] = [];
  for (let rep = 0; rep < o.repeats; rep++)
    for (const policy of ['sync', 'async'] as const) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `e3sim-bench-${policy}-`));
      try {
        const run = new TrainingRun({
          config: topologyBenchConfig(policy, o.backend, o.steps),
          out: dir,
          resume: false,
          command: 'bench --topology',
          versions: {},
          now: o.now,
        });
        const summary = await run.run();
        o.log?.(
          `${policy}: ${summary.tokensPerSec.toFixed(0)} tokens/s over ${summary.steps}` +
            ` steps (${(summary.wallMs / 1000).toFixed(1)} s), overhead ${(summary.overheadFraction * 100).toFixed(0)}` +
            `%`,
        );
        runs.push({ policy, summary, steadyStateOverheadFraction: steadyIdle(dir, summary) });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  const of = (p: string) => runs.filter((r) => r.policy === p).map((r) => r.summary);
  const sync = median(of('sync').map((s) => s.tokensPerSec));
  const async_ = median(of('async').map((s) => s.tokensPerSec));
  const critical = of('async').map(
    (s) => 1 - Math.max(s.samplerComputeMs, s.learnerComputeMs + s.transferMs) / s.wallMs,
  );
  const bound = of('sync').map(
    (s) => (s.samplerComputeMs + s.learnerComputeMs) / Math.max(s.samplerComputeMs, s.learnerComputeMs),
  );
  return {
    backend: o.backend,
    steps: o.steps,
    syncTokensPerSec: sync,
    asyncTokensPerSec: async_,
    speedup: async_ / sync,
    overheadFraction: median(of('async').map((s) => s.overheadFraction)),
    criticalPathIdleFraction: median(critical),
    speedupBound: median(bound),
    steadyStateOverheadFraction: median(
      runs.filter((r) => r.policy === 'async').map((r) => r.steadyStateOverheadFraction),
    ),
    runs,
  };
}
