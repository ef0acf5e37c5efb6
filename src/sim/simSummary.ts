/**
 * The figures of a finished virtual-clock run (deterministic; wall-clock figures are added by the
 * caller): the part both clocks write (core/summary.ts), then this clock's own.
 */
import type { SimEngine } from './engine.js';
import { commonSummary } from '../core/summary.js';

/** The figures of a finished run (deterministic; wall-clock figures are added by the caller). */
export function simSummary(sim: SimEngine): Record<string, unknown> {
  const s = sim.s;
  const hist = s.stalenessHist.map((x) => x ?? 0);
  const n = hist.reduce((a, b) => a + b, 0);
  const T = Math.max(s.t, 1e-12);
  const samplersBusy = s.samplers.reduce(
    (a, x) => a + x.busy + (x.state === 'generating' || x.state === 'syncingWeights' ? s.t - x.busySince : 0),
    0,
  );
  const verifiersBusy = s.verifiers.reduce((a, x) => a + x.busy + (x.state === 'verifying' ? s.t - x.busySince : 0), 0);
  const learnerBusy = s.learner.busy + (s.learner.state === 'training' ? s.t - s.learner.busySince : 0);
  return {
    ...commonSummary({
      policy: sim.o.config.staleness.policy,
      eta: sim.eta,
      topo: s.topo,
      counts: s.counts,
      finished: s.done,
      restarts:
        s.samplers.reduce((a, x) => a + x.restarts, 0) +
        s.verifiers.reduce((a, x) => a + x.restarts, 0) +
        s.learner.restarts,
      faultsFired: s.faultsFired,
    }),
    clock: 'virtual',
    compute: sim.o.compute.kind,
    profile: sim.o.profile.name,
    seed: sim.seed,
    correction: sim.o.config.learner.correction.kind,
    samplers: s.samplers.length,
    verifierThreads: s.verifiers.length,
    simSeconds: s.t,
    events: s.events,
    invariantChecks: s.invariantChecks,
    tokensPerSimSecond: s.topo.tokensGenerated / T,
    stepsPerSimHour: (s.topo.learnerVersion / T) * 3600,
    utilisation: {
      samplers: samplersBusy / (T * s.samplers.length),
      verifiers: verifiersBusy / (T * s.verifiers.length),
      learner: learnerBusy / T,
    },
    // Over every valid rollout when its batch formed (trained and dropped-stale); trainedMax: trained ones only.
    staleness: {
      mean: n ? hist.reduce((a, c, lag) => a + c * lag, 0) / n : 0,
      max: hist.reduce((m, c, lag) => (c > 0 ? lag : m), 0),
      histogram: hist,
      trainedMax: s.topo.stalenessMax,
    },
  };
}
