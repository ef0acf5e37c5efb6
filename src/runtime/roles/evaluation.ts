/**
 * Evaluations, curriculum measurements and supervision on the real clock: the evaluator, curriculum
 * and supervisor machines' effects, run on the evaluation sampler thread.
 */
import fs from 'node:fs';
import path from 'node:path';
import type * as Comlink from 'comlink';
import { createActor } from 'xstate';
import { curriculumMachine, supervisorMachine, evaluatorMachine } from '../../../machines/index.js';
import type { Failure } from '../../../machines/supervisor.js';
import { giveUpMessage } from '../../core/supervision.js';
import type { EvaluateResult } from '../../../machines/evaluator.js';
import type { SamplerApi } from '../../../actors/sampler.worker.js';
import type { TrainConfig } from '../config.js';
import { evalLine } from '../../core/metrics.js';
import { budgetChoiceRecord, bucketsRecord, stageLog, type ProblemSpec } from '../../curriculum/controller.js';
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
    run.published,
    (api, weights) =>
      api.measure({
        version: run.published,
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

/** Coupled curriculum, at a stage start: J over the ladder on the stage's data, then E3.md's rule. */
export async function measureStage(run: TrainingRun, stage: number): Promise<void> {
  const c = run.cfg.curriculum;
  const problems = run.cur.stageProblems(stage, c.measure.problems, `measure-${run.published}`);
  const m = await measureOnSampler(run, problems, c.ladder!, c.measure.samples, c.k, `stage ${stage}`);
  const d = run.cur.decide(stage, m);
  const r = budgetChoiceRecord(c, { step: run.published, stage, problems: problems.length, m, d });
  run.writeLine(r.line);
  run.log(r.log);
  run.cur.measuring = false;
  setImmediate(() => pump(run));
}

/** Difficulty buckets from the starting policy's pass rates (once per run; kept in buckets.json). */
export async function measureBuckets(run: TrainingRun): Promise<void> {
  const file = path.join(run.dir, 'buckets.json');
  const pool = run.cur.poolProblems();
  if (fs.existsSync(file)) {
    run.cur.restoreBuckets(
      pool,
      (JSON.parse(fs.readFileSync(file, 'utf8')) as { assignment: Record<string, 'easy' | 'medium' | 'hard'> })
        .assignment,
    );
    return;
  }
  const p = run.cfg.curriculum.pool!;
  const m = await measureOnSampler(run, pool, [p.budgetTokens], p.samples, p.k, 'difficulty pool');
  const b = run.cur.setBuckets(pool, m);
  const r = bucketsRecord(run.cfg.curriculum, { step: run.published, m, b });
  writeFileAtomic(file, JSON.stringify(r.file, null, 2) + '\n');
  run.writeLine(r.line);
  run.log(r.log);
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
  const at = run.weights.has(version) ? version : run.version;
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

export function makeCurriculum(run: TrainingRun) {
  const coupled = run.cfg.curriculum.kind === 'coupled';
  return createActor(
    curriculumMachine.provide({
      actors: { measure: fromAsync(async () => measureStage(run, run.cur.state.stage)) },
      actions: {
        stageChanged: () => {
          const reason = run.cur.stageDoneReason();
          run.cur.advance();
          const p = { stage: run.cur.state.stage };
          if (coupled) run.cur.measuring = true;
          // Past the run's last step (--max-steps cut it) no step of the new stage follows: no line.
          if (run.published >= run.maxSteps) return;
          run.writeLine({ type: 'stage', step: run.published, stage: p.stage, reason });
          run.log(stageLog(p.stage, run.published, reason));
          setImmediate(() => pump(run));
        },
        reportFailure: (_, p) => run.abort(`curriculum: measuring stage ${run.cur.state.stage} failed: ${p.error}`),
      },
      guards: {
        stageDone: () => run.cur.stageDoneReason() !== null,
        lastStage: () => run.cur.state.stage >= run.cfg.curriculum.stages.length - 1,
        measuresStages: () => coupled,
      },
    }),
    {
      input: { measureFirst: run.cur.measuring },
      inspect: run.transitions.inspector('curriculum', 'curriculum'),
    },
  );
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
