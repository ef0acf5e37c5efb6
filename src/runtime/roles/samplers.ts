/**
 * The samplers' side of the real clock: planning each step's requests (core/admission), handing
 * work and weights to sampler threads, the sampler machine's effects, and delivery to the verifiers.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { createActor } from 'xstate';
import { samplerMachine } from '../../../machines/index.js';
import type { SamplerApi } from '../../../actors/sampler.worker.js';
import { assert } from '../../util/errors.js';
import { GenerateSchema, RolloutsSchema, type Generate, type Rollouts, type ScoredGroup } from '../messages.js';
import { unplanned } from '../../core/ledger.js';
import { slotOf } from '../../core/batch.js';
import { backfillSlot, slotsPerStep } from '../../core/dynamicSampling.js';
import { mayPlanStep, outstandingGroupsOf, problemsPerRequest, requestSlices } from '../../core/admission.js';
import { minVersionFor, requestVersion, swapsInFlight } from '../../core/staleness.js';
import { THREAD_START_MS, WorkerHandle, postWeights } from '../workers.js';
import { problemsOfStep, stageOfStep } from '../stages.js';
import type { ProblemSpec } from '../curriculum.js';
import type { TrainingRun, SamplerConnection, SamplerSlot } from '../run.js';
import { fromAsync, asInputErrorIfBackend } from './effects.js';
import { remoteSampler } from './nats.js';
import { pumpVerifiers } from './verifiers.js';

/**
 * The stage, problems and budget of learner step k: the problems of every slot the step may use
 * (with dynamic sampling, the backfill slots after the plan's; core/dynamicSampling).
 */
export function planOf(run: TrainingRun, k: number): { stage: number; budgetTokens: number; problems: ProblemSpec[] } {
  const n = slotsPerStep(run.cfg.rollout.problemsPerStep, run.cfg.rollout.dynamicSampling);
  if (!run.cur.dynamic) {
    // A fixed list by number count: step k's stage and problems are a pure function of (seed, k).
    const stage = stageOfStep(run.cfg.curriculum.stages, k);
    return {
      stage: stage.index,
      budgetTokens: stage.budgetTokens!,
      problems: problemsOfStep(run.cfg.curriculum.stages, run.cfg.seed, k, n),
    };
  }
  // Buckets, thresholds or the coupled rule: the stage current when step k is planned.
  const stage = run.cur.state.stage;
  return { stage, budgetTokens: run.cur.budgetOf(stage), problems: run.cur.problemsForStep(k, n) };
}

/**
 * The sampler requests of learner step k, minus groups already held: the plan's problems not yet
 * generated, and (after a resume) the backfills its held filtered groups are owed.
 */
export function requestsForStep(run: TrainingRun, k: number): Generate[] {
  const plan = planOf(run, k);
  run.requestsProblem.set(k, new Map(plan.problems.map((p) => [p.id, { numbers: p.numbers, target: p.target }])));
  run.stageOfPlannedStep.set(k, { stage: plan.stage, budgetTokens: plan.budgetTokens });
  run.problemsOfPlannedStep.set(k, plan.problems);
  const problems = unplanned(k, plan.problems.slice(0, run.cfg.rollout.problemsPerStep), run.accounting);
  const per = problemsPerRequest(run.cfg.rollout, run.cfg.topology.samplers);
  const out = requestSlices(problems.length, per).map((r) =>
    generateRequest(run, k, `s${k}r${r.index}`, problems.slice(r.first, r.end), plan.budgetTokens),
  );
  for (const g of run.queue.all()) {
    const b = g.step === k ? backfillOf(run, g) : null;
    if (b) out.push(b);
  }
  return out;
}

function generateRequest(
  run: TrainingRun,
  k: number,
  requestId: string,
  problems: ProblemSpec[],
  budgetTokens: number,
): Generate {
  return {
    type: 'Generate',
    requestId,
    step: k,
    problems,
    groupSize: run.cfg.rollout.groupSize,
    budgetTokens,
    temperature: run.cfg.rollout.temperature,
    minVersion: minVersionFor(k, run.eta),
    inflight: swapsInFlight(run.cfg.staleness.policy),
    seed: run.cfg.seed,
    fault: null,
    slowFactor: run.faults.slowFactor('sampler'),
    mismatch: run.cfg.rollout.mismatch,
    kv: run.cfg.rollout.kv,
  };
}

/**
 * The request that replaces a filtered group (core/dynamicSampling): its slot's successor, unless
 * the group is kept, its rounds are used, or the successor is already generated.
 */
function backfillOf(run: TrainingRun, g: ScoredGroup): Generate | null {
  if (!run.queue.filtered(g)) return null;
  const P = run.cfg.rollout.problemsPerStep;
  const slot = backfillSlot(slotOf(g.problemId), P, run.cfg.rollout.dynamicSampling);
  if (slot === null) return null;
  const p = run.problemsOfPlannedStep.get(g.step)?.[slot];
  assert(p, `no problem planned for step ${g.step} slot ${slot}`);
  if (unplanned(g.step, [p], run.accounting).length === 0) return null;
  const budget = run.stageOfPlannedStep.get(g.step)!.budgetTokens;
  return generateRequest(run, g.step, `s${g.step}b${slot}`, [p], budget);
}

/** A group reached the batcher: a filtered one's replacement goes ahead of planned work. */
export function backfill(run: TrainingRun, g: ScoredGroup): void {
  const req = backfillOf(run, g);
  if (!req) return;
  run.reissue.push(req);
  setImmediate(() => pump(run));
}

/** The last step that may be planned now: with a dynamic curriculum, not past the current stage. */
export function planLimit(run: TrainingRun): number {
  if (!run.cur.dynamic) return run.maxSteps;
  if (run.cur.measuring) return run.version; // the stage's budget is being decided
  const st = run.cur.state;
  if (st.stage >= run.cfg.curriculum.stages.length - 1) return run.maxSteps;
  return Math.min(run.maxSteps, run.version - st.stepsInStage + run.cfg.curriculum.stages[st.stage]!.steps);
}

/** Hands work to idle samplers while admission allows (AReaL: start step k only at version ≥ k − 1 − η). */
export function pump(run: TrainingRun): void {
  if (run.fatal || run.interrupted) return;
  while (run.idleSamplers.size > 0) {
    let req = run.reissue.shift();
    if (!req) {
      while (
        run.planned.length === 0 &&
        mayPlanStep({
          step: run.nextStep,
          lastStep: planLimit(run),
          publishedVersion: run.version,
          eta: run.eta,
          outstandingGroups: outstandingGroups(run),
          groupsPerStep: run.cfg.rollout.problemsPerStep,
          capacityGroups: run.bounds.plannedGroups,
        })
      ) {
        run.planned.push(...requestsForStep(run, run.nextStep));
        run.nextStep++;
      }
      req = run.planned.shift();
    }
    if (!req) return;
    const id = run.idleSamplers.values().next().value!;
    run.idleSamplers.delete(id);
    const request = GenerateSchema.parse({ ...req, fault: run.faults.take('sampler', req.step) });
    run.inflight.set(request.requestId, request);
    samplerSlot(run, id).actor.send({ type: 'GENERATE', request });
  }
}

/**
 * Hands sampler `slot` the weights a piece of work needing version ≥ `min` runs at: the newest
 * available when it starts (core/admission requestVersion), posted now if its port lacks them;
 * if even that is older than `min` (a held-back publication), the publication posts it when it
 * comes. Weights reach a sampler only here (and in-flight swaps), never between two pieces of
 * work, so which weights sampled a step follows the order of events, as on the virtual clock.
 * Returns a release for the wait.
 */
export function handWeights(run: TrainingRun, slot: SamplerSlot, min: number): () => void {
  if (run.remote.has('sampler') || swapsInFlight(run.cfg.staleness.policy)) return () => {};
  const at = requestVersion(run.available, min);
  postWeightsTo(run, slot, run.available);
  if (!at.waits) return () => {};
  slot.needs.push(min);
  return () => slot.needs.splice(slot.needs.indexOf(min), 1);
}

/** Groups of the steps planned and not yet formed into a batch. */
export function outstandingGroups(run: TrainingRun): number {
  return outstandingGroupsOf(run.nextStep - 1, run.formedThrough, run.cfg.rollout.problemsPerStep);
}

export function samplerSlot(run: TrainingRun, id: string): SamplerSlot {
  const s = run.samplers.find((x) => x.id === id);
  assert(s, `no sampler '${id}'`);
  return s;
}

/** What sampler `id` talks to: a fresh worker thread, or the NATS work queue; and the version it holds. */
export async function startSampler(run: TrainingRun, id: string): Promise<SamplerConnection> {
  if (run.remote.has('sampler')) return remoteSampler(run);
  const { handle, port, version } = await spawnSamplerThread(run, id);
  return { handle, port, posted: version };
}

/** A sampler worker thread at the newest available version, with the port its new weights arrive on. */
export async function spawnSamplerThread(
  run: TrainingRun,
  id: string,
): Promise<{ handle: WorkerHandle<SamplerApi>; port: MessagePort; version: number }> {
  const handle = new WorkerHandle<SamplerApi>(id, 'sampler.worker.ts');
  const { port1, port2 } = new MessageChannel();
  const version = run.available;
  const w = run.weights.get(version)!;
  const data = w.data.slice();
  const { transfer } = await import('comlink');
  await handle
    .call(
      'init',
      (api) =>
        api.init(
          transfer(
            {
              backend: run.cfg.backend,
              config: run.gptConfig,
              weights: { manifest: w.manifest, data },
              version,
              weightsPort: port2,
              samplerId: id,
            },
            [data.buffer, port2 as unknown as Transferable],
          ),
        ),
      THREAD_START_MS,
    )
    .catch(asInputErrorIfBackend);
  return { handle, port: port1, version };
}

export function makeSamplerActor(run: TrainingRun, id: string) {
  const timeout = run.cfg.limits.samplerTimeoutMs;
  const machine = samplerMachine.provide({
    actors: {
      syncWeights: fromAsync(async ({ input }) => {
        const slot = samplerSlot(run, input.id);
        const release = handWeights(run, slot, input.request.minVersion);
        const v = await slot.handle
          .call('syncWeights', (api) => api.syncWeights(input.request.minVersion, timeout), timeout)
          .finally(release);
        assert(
          v >= input.request.minVersion,
          `sampler ${input.id} at v${v} below the admitted v${input.request.minVersion}`,
        );
      }),
      generate: fromAsync(async ({ input }) => {
        const raw = await samplerSlot(run, input.id).handle.call(
          'generate',
          (api) => api.generate(input.request),
          timeout,
        );
        const r = RolloutsSchema.safeParse(raw);
        if (!r.success)
          throw new Error(
            `sampler ${input.id}: malformed Rollouts: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`,
          );
        return r.data;
      }),
      deliver: fromAsync(async ({ input }) => deliverRollouts(run, input.result)),
      restart: fromAsync(async ({ input }) => {
        const old = samplerSlot(run, input.id);
        await old.handle.terminate().catch(() => {});
        old.port.close();
        const fresh = await startSampler(run, input.id);
        old.handle = fresh.handle;
        old.port = fresh.port;
        old.posted = fresh.posted;
      }),
    },
    actions: {
      becameIdle: (_, p) => {
        run.idleSamplers.add(p.id);
        setImmediate(() => pump(run));
      },
      reportFailure: (_, p) => {
        if (p.request) {
          run.inflight.delete(p.request.requestId);
          run.reissue.unshift({ ...p.request, fault: null });
        }
        run.supervisor.send({ type: 'FAILED', actor: p.id, role: 'sampler', error: p.error });
      },
    },
  });
  return createActor(machine, { input: { id }, inspect: run.transitions.inspector(id, 'sampler') });
}

/** Sampler → verifiers: account the ids, split into groups, wait while the verify queue is full. */
export async function deliverRollouts(run: TrainingRun, r: Rollouts): Promise<void> {
  assert(run.inflight.delete(r.requestId), `rollouts for unknown request ${r.requestId}`);
  for (const x of r.rollouts) run.accounting.generated(x.id);
  run.tokensGenerated += r.generatedTokens;
  run.samplerComputeMs += r.computeMs;
  run.inflightSwaps += r.swaps;
  run.inflightRecomputes += r.recomputes;
  run.inflightAborts += r.aborts;
  run.samplerTensors.set(r.samplerId, r.numTensors);
  const byProblem = new Map<string, Rollouts['rollouts']>();
  for (const x of r.rollouts) byProblem.set(x.problemId, [...(byProblem.get(x.problemId) ?? []), x]);
  for (const [problemId, rollouts] of byProblem) {
    run.verifyJobs.push({ jobId: `${r.step}/${problemId}`, step: r.step, problemId, rollouts });
    run.trace.flow(`g:${r.step}/${problemId}`, 'rollouts', r.samplerId, 'sampler', 's', run.sinceOpen());
  }
  pumpVerifiers(run);
  while (run.verifyJobs.length > run.bounds.verifyJobs && !run.fatal)
    await new Promise<void>((res) => run.deliveryWaiters.push(res));
}

/** Posts weights `version` to a sampler's port (once per version: `posted` only grows). */
export function postWeightsTo(run: TrainingRun, s: SamplerSlot, version: number, timed = true): void {
  if (s.posted >= version) return;
  const t = run.o.now();
  run.trace.flow(`w:${version}:${s.id}`, `weights v${version}`, 'learner', 'learner', 's', run.sinceOpen());
  run.trace.flow(`w:${version}:${s.id}`, `weights v${version}`, s.id, 'sampler', 'f', run.sinceOpen());
  postWeights(s.port, version, run.weights.get(version)!);
  s.posted = version;
  if (timed) run.transferMs += run.o.now() - t;
}
