/**
 * The virtual clock's topology (core/topology Topology): the engine's state, ledger and a step
 * queue over the state's scored groups, the run's rules, and this clock's forms of a group (a
 * scored entry) and of a step's requests (slot lists). The engine builds one when it starts and
 * again when it loads a checkpoint or a snapshot (which replace the state and the ledger).
 */
import { outcomeOf as outcomeOfRewards, type GroupOutcome } from '../core/dynamicSampling.js';
import type { BatchGroup } from '../core/batch.js';
import { brokenSteps } from '../core/faults.js';
import { StepQueue, stepQueueCapacity } from '../core/stepQueue.js';
import { topologyRules, type Topology } from '../core/topology.js';
import type { Scored } from './compute.js';
import type { SimEngine } from './engine.js';
import { planLimit, planStep } from './sampling.js';
import type { Request, ScoredEntry } from './state.js';

export function makeTopology(sim: SimEngine): Topology<ScoredEntry, Request> {
  const c = sim.o.config;
  const ds = c.rollout.dynamicSampling;
  const rules = topologyRules(c, {
    eta: sim.eta,
    maxSteps: sim.o.maxSteps,
    capacityGroups: sim.capacity,
    brokenSteps: brokenSteps(sim.o.faults),
    checkpoints: sim.o.dir !== null,
    evaluates: sim.o.compute.evaluate !== undefined,
  });
  const queue = new StepQueue<ScoredEntry>(
    sim.perStep,
    stepQueueCapacity(sim.capacity, ds),
    ds,
    (e) => e.slot,
    (e) => outcomeOf(e.scored),
    sim.s.scored,
  );
  return {
    rules,
    state: sim.s.topo,
    ledger: sim.ledger,
    queue,
    viewOf: viewOfEntry,
    view: () => ({
      lastStep: planLimit(sim),
      publishedVersion: sim.s.topo.published,
      formedThrough: sim.s.topo.formedThrough,
    }),
    plan: (k) => planStep(sim, k),
  };
}

/** A scored group's rewards and verdicts (core/dynamicSampling `outcomeOf`). */
function outcomeOf(scored: Scored): GroupOutcome {
  const c = scored.correct;
  return outcomeOfRewards(scored.rewards, c ? (i) => c[i]! : undefined);
}

/** A queued group as the batch rule reads it (its rows start and swap together: one oldest version). */
function viewOfEntry(e: ScoredEntry): BatchGroup {
  const { scored, group } = e;
  return {
    slot: e.slot,
    rewards: scored.rewards,
    invalid: scored.invalid,
    lengths: group.lengths,
    correct: scored.correct,
    oldest: group.minVersion,
  };
}
