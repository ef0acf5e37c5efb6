import type * as Comlink from 'comlink';
import { createActor } from 'xstate';
import { evaluatorMachine } from '../../../machines/index.js';
import type { EvaluateResult } from '../../../machines/evaluator.js';
import type { SamplerApi } from '../../../actors/sampler.worker.js';
import type { TrainConfig } from '../config.js';
import { evalLine } from '../../core/metrics.js';
import type { PackedWeights } from '../../tensor/pack.js';
import type { TrainingRun, SamplerSlot, SamplerEndpoint } from '../run.js';
import { fromAsync } from './effects.js';

/** The sampler thread that evaluates and measures: sampler-0, or the local one beside remote samplers. */
export function evalHandle(run: TrainingRun): SamplerEndpoint {
  return run.evalSampler?.handle ?? run.samplers[0]!.handle;
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
