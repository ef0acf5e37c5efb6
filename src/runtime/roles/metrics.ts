/**
 * metrics.jsonl rows (core/metrics), the log offsets a checkpoint records and the check a resume
 * makes of them, and summary.json on the real clock.
 */
import fs from 'node:fs';
import path from 'node:path';
import { weightsSha256 } from '../../tensor/pack.js';
import { InputError, assert } from '../../util/errors.js';
import type { TrainStats } from '../messages.js';
import type { FormedBatch } from '../../core/batch.js';
import { accountingViolation, lostViolation, stalenessBoundViolation } from '../../core/invariants.js';
import { stepRow, stepStageOf } from '../../core/metrics.js';
import { commonSummary } from '../../core/summary.js';
import type { RunState } from '../checkpointer.js';
import { writeFileAtomic } from '../../util/atomic.js';
import type { TrainingRun, Summary } from '../run.js';
import { outstandingGroups } from './planning.js';

export function writeMetrics(run: TrainingRun, step: number, formed: FormedBatch, s: TrainStats): void {
  const f = formed.figures;
  const planned = run.plans.get(step) ?? { stage: run.cur.state.stage, budgetTokens: 0 };
  run.plans.delete(step);
  const stage = stepStageOf(run.cfg.curriculum.stages, planned);
  const wallMs = run.o.now() - run.t0;
  const tokensPerSec = ((run.topo.tokensGenerated - run.tokensAtStart) / Math.max(1, wallMs)) * 1000;
  const { computeMs, numTensors, ...learner } = s;
  const line = stepRow({
    step,
    tSeconds: run.sinceOpen() / 1000,
    stage,
    batch: f,
    counts: run.ledger.counts(),
    totals: run.topo,
    tokensPerSec,
    queueGroups: outstandingGroups(run),
    trained: formed.trainedDigest,
    learner,
    extra: {
      wallMs,
      computeMs,
      numTensors,
      learnerNumTensors: numTensors,
      samplerNumTensors: Object.fromEntries(run.samplerTensors),
    },
  });
  run.writeLine(line);
  const t = run.sinceOpen();
  run.trace.counter('learning', t, { reward: f.rewardMean, passRate: f.passRate, lengthMean: f.lengthMean });
  run.trace.counter('staleness', t, { mean: f.stalenessMean, max: f.stalenessMax });
  run.trace.counter('queues', t, { verifyJobs: run.verifyJobs.length, batcherGroups: run.queue.size });
  const done = step - run.stepsAtStart;
  run.o.onStep?.({
    step,
    maxSteps: run.maxSteps,
    stage: stage.stage,
    difficulty: stage.difficulty ?? stage.buckets?.join('+') ?? '?',
    budgetTokens: stage.budgetTokens,
    passRate: f.passRate,
    rewardMean: f.rewardMean,
    lengthMean: f.lengthMean,
    stalenessMean: f.stalenessMean,
    stalenessMax: f.stalenessMax,
    tokensPerSec,
    etaSeconds: done > 0 ? ((wallMs / done) * (run.maxSteps - step)) / 1000 : NaN,
    loss: s.loss,
  });
}

export function writeSummary(run: TrainingRun): Summary {
  const c = run.ledger.counts();
  const wallMs = run.o.now() - run.t0;
  const actors = run.cfg.topology.samplers + 1;
  const busy = run.samplerComputeMs + run.learnerComputeMs + run.transferMs;
  const restarts = Object.values(run.supervisor.getSnapshot().context.restarts).reduce((a, b) => a + b, 0);
  const w = run.weights.get(run.topo.learnerVersion)!;
  const summary: Summary = {
    ...commonSummary({
      policy: run.cfg.staleness.policy,
      eta: run.eta,
      topo: run.topo,
      counts: c,
      // after an interrupt the pending rollouts are in the checkpoint's queue or sampled again on --resume
      finished: !run.interrupted,
      restarts,
      faultsFired: run.faults.firedNames(),
    }),
    policy: run.cfg.staleness.policy,
    weightsSha256: weightsSha256(w.data),
    interrupted: run.interrupted,
    replayMismatches: run.replayMismatches,
    // The whole run, across resumes; the last piece (this process) under its own name.
    wallMs: run.wallMsBefore + wallMs,
    tokensPerSec: (run.topo.tokensGenerated / Math.max(1, run.wallMsBefore + wallMs)) * 1000,
    lastPiece: {
      wallMs,
      tokensGenerated: run.topo.tokensGenerated - run.tokensAtStart,
      tokensPerSec: ((run.topo.tokensGenerated - run.tokensAtStart) / Math.max(1, wallMs)) * 1000,
    },
    samplerComputeMs: run.samplerComputeMs,
    learnerComputeMs: run.learnerComputeMs,
    transferMs: run.transferMs,
    overheadFraction: Math.max(0, 1 - busy / Math.max(1, wallMs * actors)),
    transitions: run.transitions.count,
    transport: run.nats
      ? {
          kind: 'nats',
          remote: [...run.remote],
          published: run.nats.published,
          redelivered: run.nats.redelivered,
          duplicatesDropped: run.nats.duplicates,
        }
      : { kind: 'threads' },
    eval: run.evaluations.at(-1) ?? null,
  };
  const bad =
    lostViolation(c, run.interrupted) ??
    accountingViolation(c) ??
    stalenessBoundViolation(summary.stalenessMax, run.eta);
  assert(bad === null, bad!);
  writeFileAtomic(path.join(run.dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

/** Where the logs stand now (a checkpoint records it; a resume cuts the logs back to it). */
export function logOffsets(run: TrainingRun): NonNullable<RunState['logs']> {
  fs.fsyncSync(run.metricsFd); // the logs a checkpoint points into are on the disk before it is
  return {
    metrics: fs.fstatSync(run.metricsFd).size,
    transitions: run.transitions.bytes(),
    trace: run.trace.bytes(),
    tMs: run.sinceOpen(),
  };
}

/**
 * A resume cuts each log back to the length its checkpoint recorded; a log already shorter than
 * that lost lines the checkpoint counts on (cut by hand, or restored from an older copy): exit 2
 * naming it, before anything is written.
 */
export function checkLogsNotShort(dir: string, at: NonNullable<RunState['logs']>): void {
  for (const [name, bytes] of [
    ['metrics.jsonl', at.metrics],
    ['transitions.jsonl', at.transitions],
    ['trace.json', at.trace],
  ] as const) {
    const file = path.join(dir, name);
    const size = fs.existsSync(file) ? fs.statSync(file).size : 0;
    if (size < bytes)
      throw new InputError(
        `--resume: ${file} has ${size} bytes, fewer than the ${bytes} its last checkpoint recorded: lines the checkpoint counts on are missing (restore the file, or start a new run)`,
      );
  }
}
