/**
 * Evaluations, the curriculum and supervision on the real clock: the evaluator's and supervisor's
 * machines' effects, and the curriculum core's (steps/curriculum.ts) — evaluations and measurements
 * run on the evaluation sampler thread.
 */
import fs from 'node:fs';
import path from 'node:path';
import type * as Comlink from 'comlink';
import { createActor } from 'xstate';
import { supervisorMachine, evaluatorMachine } from '../../../machines/index.js';
import { errorText } from '../../../machines/util.js';
import type { Failure } from '../../../machines/supervisor.js';
import { giveUpMessage } from '../../core/supervision.js';
import type { EvaluateResult } from '../../../machines/evaluator.js';
import type { SamplerApi } from '../../../actors/sampler.worker.js';
import type { TrainConfig } from '../config.js';
import { evalLine } from '../../core/metrics.js';
import type { ProblemSpec } from '../../curriculum/controller.js';
import type { Bucket } from '../../curriculum/buckets.js';
import type { CurriculumEffect, CurriculumEvent } from '../../steps/curriculum.js';
import type { LadderMeasurement } from '../../eval/countdown.js';
import { writeFileAtomic } from '../../util/atomic.js';
import type { PackedWeights } from '../../tensor/pack.js';
import type { TrainingRun, SamplerSlot, SamplerEndpoint } from '../run.js';
import { fromAsync } from './effects.js';
import { pump, samplerSlot } from './planning.js';

/** The sampler thread that evaluates and measures: sampler-0, or the local one beside remote samplers. */
export function evalHandle(run: TrainingRun): SamplerEndpoint {
  return run.evalSampler?.handle ?? run.samplers[0]!.handle;
}

/** J over `ladder` measured on sampler-0's thread (or the local eval thread) at the published version. */
export function measureOnSampler(
  run: TrainingRun,
  problems: ProblemSpec[],
  ladder: number[],
  samples: number,
  k: number,
  label: string,
): Promise<LadderMeasurement> {
  return onEvalThread(
    run,
    `measure ${label}`,
    run.topo.published,
    (api, weights) =>
      api.measure({
        version: run.topo.published,
        weights,
        problems,
        ladder,
        samples,
        k,
        temperature: run.cfg.rollout.temperature,
        seed: run.cfg.seed,
      }),
    run.cfg.limits.samplerTimeoutMs,
  );
}

/** One event into the core's curriculum step (steps/curriculum.ts), its effects carried out on this clock. */
export function stepCurriculum(run: TrainingRun, ev: CurriculumEvent): void {
  for (const e of run.curriculum.step(ev)) carryOutCurriculum(run, e);
}

/**
 * The run's start: a resumed run's difficulty buckets back from buckets.json, then the curriculum
 * starts (what it has not measured yet first).
 */
export function startCurriculum(run: TrainingRun): void {
  const file = path.join(run.dir, 'buckets.json');
  if (run.cur.usesBuckets() && fs.existsSync(file)) {
    const kept = JSON.parse(fs.readFileSync(file, 'utf8')) as { assignment: Record<string, Bucket> };
    run.cur.restoreBuckets(kept.assignment);
  }
  stepCurriculum(run, { type: 'start' });
}

function carryOutCurriculum(run: TrainingRun, e: CurriculumEffect): void {
  switch (e.type) {
    case 'measure':
      // on sampler-0's thread (or the local eval thread) at the published version; the answer is the next event
      measureOnSampler(run, e.problems, e.ladder, e.samples, e.k, e.label).then(
        (m) => stepCurriculum(run, { type: 'measured', m }),
        (err: unknown) => stepCurriculum(run, { type: 'measureFailed', error: errorText(err) }),
      );
      break;
    case 'line':
      run.writeLine(e.line);
      break;
    case 'log':
      run.log(e.text);
      break;
    case 'bucketsFile':
      writeFileAtomic(path.join(run.dir, 'buckets.json'), JSON.stringify(e.file, null, 2) + '\n');
      break;
    case 'pump':
      setImmediate(() => pump(run));
      break;
    case 'transition':
      run.transitions.record('curriculum', 'curriculum', e.from, e.to, e.event);
      break;
    case 'fail':
      run.abort(e.message);
      break;
  }
}

/**
 * Runs `f` on the evaluation thread at weights `version`: the separate eval thread (beside remote
 * samplers) has every version posted to it; sampler-0's thread gets them with the call.
 */
export async function onEvalThread<R>(
  run: TrainingRun,
  what: string,
  version: number,
  f: (api: Comlink.Remote<SamplerApi>, weights: { version: number; weights: PackedWeights } | undefined) => Promise<R>,
  ms: number,
): Promise<R> {
  // On sampler-0's thread the weights travel with the call and are put back afterwards: an
  // evaluation never changes the weights the next request of that sampler generates with.
  // (a version the store no longer keeps is evaluated at the newest, and says so)
  const at = run.weights.has(version) ? version : run.topo.learnerVersion;
  const weights = evalSlot(run) ? { version: at, weights: run.weights.get(at)! } : undefined;
  return evalHandle(run).call(what, (api) => f(api, weights), ms);
}

/** The sampler slot evaluations and measurements run on (null: the separate eval thread, fed every version). */
export function evalSlot(run: TrainingRun): SamplerSlot | null {
  return run.evalSampler ? null : run.samplers[0]!;
}

export function requestEval(run: TrainingRun, version: number): void {
  run.evalsInFlight.push(version);
  run.evaluator!.send({ type: 'EVALUATE', request: { version, budgets: run.cfg.eval!.budgets } });
}

export function evalSettled(run: TrainingRun, version: number): void {
  const i = run.evalsInFlight.indexOf(version);
  if (i >= 0) run.evalsInFlight.splice(i, 1);
}

export function makeEvaluator(run: TrainingRun, ev: NonNullable<TrainConfig['eval']>) {
  return createActor(
    evaluatorMachine.provide({
      actors: {
        evaluate: fromAsync(async ({ input }) => {
          const r: EvaluateResult = await onEvalThread(
            run,
            'evaluate',
            input.request.version,
            (api, weights) =>
              api.evaluate({
                version: input.request.version,
                weights,
                difficulty: ev.difficulty,
                problems: ev.problems,
                samples: ev.samples,
                budgets: input.request.budgets,
                ks: ev.ks,
                temperature: run.cfg.rollout.temperature,
                seed: run.cfg.seed,
              }),
            run.cfg.limits.samplerTimeoutMs,
          );
          return r;
        }),
      },
      actions: {
        report: (_, p) => {
          const r = p.result;
          run.evaluations.push({ step: p.request.version, rows: r.rows });
          run.writeLine(
            evalLine({
              step: p.request.version,
              tSeconds: run.sinceOpen() / 1000,
              evaluatedVersion: r.version,
              eval: ev,
              budgets: r.rows,
            }),
          );
          run.log(
            `eval step ${p.request.version}: ${r.rows.map((x) => `pass@1 ${x.passAt['1']!.toFixed(3)} at ${x.budget}`).join(', ')}`,
          );
          evalSettled(run, p.request.version);
        },
        reportFailure: (_, p) => {
          run.log(`evaluation failed: ${p.error}`);
          evalSettled(run, p.request.version);
        },
      },
    }),
    { inspect: run.transitions.inspector('evaluator', 'evaluator') },
  );
}

export function makeSupervisor(run: TrainingRun) {
  return createActor(
    supervisorMachine.provide({
      actions: {
        restart: (_, f: Failure) => {
          if (f.role === 'sampler') samplerSlot(run, f.actor).actor.send({ type: 'RESTART' });
          else if (f.role === 'learner') run.learnerActor.send({ type: 'RESTART' });
          else if (f.role === 'grader') run.grader.send({ type: 'RESTART' });
          run.log(`${f.actor} failed (${f.error}); restarting`);
        },
        giveUp: (_, f) => run.abort(giveUpMessage(f, run.cfg.limits.restartsMax)),
      },
    }),
    {
      input: { restartsMax: run.cfg.limits.restartsMax, restarts: run.restarts },
      inspect: run.transitions.inspector('supervisor', 'supervisor'),
    },
  );
}
