/**
 * The weight store on the real clock: the weights kept by version, the store machine's effects
 * (a broadcast, late or lost-then-resent when a fault says so), and a version going out to the
 * samplers — threads, NATS — which is what `published` means (core/topology).
 */
import { createActor } from 'xstate';
import { weightStoreMachine } from '../../../machines/index.js';
import type { PackedWeights } from '../../tensor/pack.js';
import { assert } from '../../util/errors.js';
import { swapsInFlight } from '../../core/staleness.js';
import { postWeights } from '../workers.js';
import type { TrainingRun } from '../run.js';
import { postWeightsTo } from './samplers.js';

/** Weight versions the store keeps (the newest and the one before: requests start at the published one while the learner's waits to go out). */
const WEIGHT_VERSIONS_KEPT = 2;

export function storeWeights(run: TrainingRun, version: number, w: PackedWeights): void {
  run.weights.set(version, w);
  for (const v of run.weights.keys()) if (v < version - WEIGHT_VERSIONS_KEPT + 1) run.weights.delete(v);
}

export function makeWeightStore(run: TrainingRun) {
  return createActor(
    weightStoreMachine.provide({
      actions: {
        broadcast: (_, p) => broadcast(run, p.version),
        versionError: (_, p) => run.abort(`weight store: version ${p.got} published after ${p.have}`),
      },
    }),
    { input: { version: run.topo.learnerVersion }, inspect: run.transitions.inspector('weightStore', 'weightStore') },
  );
}

/** The weight store's broadcast of `version`, late or lost-then-resent when a fault says so. */
export function broadcast(run: TrainingRun, version: number): void {
  const pub = run.faults.publication(version);
  if (pub.delayMs === 0) return broadcastNow(run, version);
  run.log(
    `weights v${version}: publication ${pub.dropped ? `lost (injected); sent again in ${pub.delayMs} ms` : `delayed by ${pub.delayMs} ms (injected)`}`,
  );
  const t = setTimeout(() => {
    run.publicationTimers.delete(t);
    // (gone: a newer version went out first)
    if (!run.fatal && run.weights.has(version)) broadcastNow(run, version);
  }, pub.delayMs);
  run.publicationTimers.add(t);
}

export function broadcastNow(run: TrainingRun, version: number): void {
  const w = run.weights.get(version);
  assert(w, `weights v${version} not in the store`);
  const t = run.o.now();
  if (run.evalSampler) postWeights(run.evalSampler.port, version, w);
  if (run.nats && run.remote.has('sampler')) {
    // remote samplers fetch the version their next request names from the object store: out once it is there
    run.trace.flow(`w:${version}:nats`, `weights v${version}`, 'weightStore', 'weightStore', 's', run.sinceOpen());
    const nats = run.nats;
    nats.publishWeights(version, w).then(
      () => {
        if (!nats.isClosed) weightsOut(run, version);
      },
      (e: Error) => {
        if (!nats.isClosed) run.abort(`publishing weights v${version} to NATS: ${e.message}`);
      },
    );
  } else {
    // In-flight updates swap weights mid-generation: every sampler gets every version at once.
    // Otherwise a sampler is handed the published version when its next request starts (handWeights).
    if (swapsInFlight(run.cfg.staleness.policy)) for (const s of run.samplers) postWeightsTo(run, s, version, false);
    weightsOut(run, version);
  }
  run.transferMs += run.o.now() - t;
}

/** Version `version` is out to the samplers: admission and requests read it, the learner's wait ends (core/topology `published`). */
function weightsOut(run: TrainingRun, version: number): void {
  run.topo.published = Math.max(run.topo.published, version);
  const wait = run.publicationWait;
  if (wait && wait.version <= run.topo.published) {
    run.publicationWait = null;
    wait.resolve();
  }
}
