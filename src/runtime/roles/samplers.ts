/**
 * The samplers' side of the real clock: handing weights to sampler threads, the sampler machine's
 * effects, and delivery to the verifiers (planning is roles/planning.ts).
 */
import { createActor } from 'xstate';
import { samplerMachine } from '../../../machines/index.js';
import { assert } from '../../util/errors.js';
import { RolloutsSchema, type Rollouts } from '../messages.js';
import { requestVersion, swapsInFlight } from '../../core/staleness.js';
import { slotOf } from '../../core/batch.js';
import { reissue } from '../../core/admission.js';
import { postWeights } from '../workers.js';
import type { TrainingRun, SamplerConnection, SamplerSlot } from '../run.js';
import { fromAsync } from './effects.js';
import { remoteSampler } from './nats.js';
import { pump, samplerSlot, topologyOf } from './planning.js';
import { failureOf, stepSampling } from '../../core/topology.js';
import { spawnSamplerThread } from './samplerThread.js';
import { pumpVerifiers } from './verifiers.js';

/**
 * Hands sampler `slot` the weights a request of `step` runs at: the newest published when it starts
 * (core/staleness requestVersion), posted now if its port lacks them. Weights reach a sampler only
 * here (and in-flight swaps), never between two requests, so which weights sampled a step follows
 * the order of events, as on the virtual clock.
 */
export function handWeights(run: TrainingRun, slot: SamplerSlot, step: number): void {
  if (run.remote.has('sampler') || swapsInFlight(run.cfg.staleness.policy)) return;
  const at = requestVersion(run.topo.published, step, run.eta);
  assert(at.violation === null, at.violation!);
  postWeightsTo(run, slot, at.version);
}

/** What sampler `id` talks to: a fresh worker thread, or the NATS work queue; and the version it holds. */
export async function startSampler(run: TrainingRun, id: string): Promise<SamplerConnection> {
  if (run.remote.has('sampler')) return remoteSampler(run);
  const { handle, port, version } = await spawnSamplerThread(run, id);
  return { handle, port, posted: version };
}

export function makeSamplerActor(run: TrainingRun, id: string) {
  const timeout = run.cfg.limits.samplerTimeoutMs;
  const machine = samplerMachine.provide({
    actors: {
      syncWeights: fromAsync(async ({ input }) => {
        const slot = samplerSlot(run, input.id);
        handWeights(run, slot, input.request.step);
        const v = await slot.handle.call(
          'syncWeights',
          (api) => api.syncWeights(input.request.minVersion, timeout),
          timeout,
        );
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
          reissue(run.topo, { ...p.request, fault: null });
        }
        run.supervisor.send({ type: 'FAILED', actor: p.id, role: 'sampler', error: p.error });
      },
    },
  });
  return createActor(machine, { input: { id }, inspect: run.transitions.inspector(id, 'sampler') });
}

/**
 * Sampler → verifiers: each problem's rollouts into the ledger (core/topology `delivered`) and on
 * to verification; waits while the verify queue is full.
 */
export async function deliverRollouts(run: TrainingRun, r: Rollouts): Promise<void> {
  assert(run.inflight.delete(r.requestId), `rollouts for unknown request ${r.requestId}`);
  run.topo.tokensGenerated += r.generatedTokens;
  run.samplerComputeMs += r.computeMs;
  run.topo.inflightSwaps += r.swaps;
  run.topo.inflightRecomputes += r.recomputes;
  run.topo.inflightAborts += r.aborts;
  run.samplerTensors.set(r.samplerId, r.numTensors);
  const byProblem = new Map<string, Rollouts['rollouts']>();
  for (const x of r.rollouts) byProblem.set(x.problemId, [...(byProblem.get(x.problemId) ?? []), x]);
  const c = topologyOf(run);
  for (const [problemId, rollouts] of byProblem) {
    const samples = rollouts.map((x) => x.sampleIndex);
    for (const e of stepSampling(c, { type: 'delivered', step: r.step, slot: slotOf(problemId), samples })) {
      assert(failureOf(e) === null, failureOf(e)!);
      for (const x of rollouts) run.tokensUnqueued += x.completion.length;
      run.groupsUnqueued++;
      run.verifyJobs.push({ jobId: `${r.step}/${problemId}`, step: r.step, problemId, rollouts });
      run.trace.flow(`g:${r.step}/${problemId}`, 'rollouts', r.samplerId, 'sampler', 's', run.sinceOpen());
    }
  }
  pumpVerifiers(run);
  while (run.verifyJobs.length > run.bounds.verifyJobs && !run.fatal)
    await new Promise<void>((res) => run.deliveryWaiters.push(res));
}

/** Posts weights `version` to a sampler's port (once per version: `posted` only grows). */
export function postWeightsTo(run: TrainingRun, s: SamplerSlot, version: number, timed = true): void {
  if (s.posted >= version) return;
  const t = run.o.now();
  run.trace.flow(`w:${version}:${s.id}`, `weights v${version}`, 'weightStore', 'weightStore', 's', run.sinceOpen());
  run.trace.flow(`w:${version}:${s.id}`, `weights v${version}`, s.id, 'sampler', 'f', run.sinceOpen());
  postWeights(s.port, version, run.weights.get(version)!);
  s.posted = version;
  if (timed) run.transferMs += run.o.now() - t;
}
