/**
 * A piece of work on the virtual clock: its completion event, or the crash or hang a fault plan
 * puts in its way (core/faults.ts), and the log of faults that fired.
 */
import { actorName, actorOf, firedName } from '../core/faults.js';
import type { SimRole } from '../core/roles.js';
import { faultLine } from '../core/metrics.js';
import type { SimEngine } from './engine.js';
import type { ActorS } from './state.js';

export function fired(sim: SimEngine, key: string): void {
  sim.s.faultsFired.push(key);
  sim.metric(faultLine(sim.s.t, key, sim.s.events));
  sim.o.onLog?.(`fault ${key} at t=${sim.s.t.toFixed(3)} s`);
}

/**
 * The end of a piece of work that takes `dur` seconds: its completion event `done`, or — when a
 * fault is planned for it (for its step, or waiting since the actor was idle) — a crash halfway
 * through, or a hang the supervisor notices at the role's timeout.
 */
export function scheduleWork(
  sim: SimEngine,
  role: SimRole,
  i: number,
  a: ActorS,
  step: number,
  dur: number,
  done: 'verified' | 'trained' | 'generated',
): void {
  const fault = stepFault(sim, role, i, step) ?? a.next;
  a.next = null;
  const total = dur + (a.slowAddS ?? 0); // a slowdown's seconds added to each piece of work
  if (fault === 'crash') sim.q.add(sim.s.t + total / 2, 'crash', i, a.epoch, { role });
  else if (fault === 'hang') sim.q.add(sim.s.t + timeoutSeconds(sim, role), 'timeout', i, a.epoch, { role });
  else sim.q.add(sim.s.t + total, done, i, a.epoch);
}

export function timeoutSeconds(sim: SimEngine, role: SimRole): number {
  return sim.o.config.limits[`${role}TimeoutMs`] / 1000;
}

export function actor(sim: SimEngine, role: SimRole, i: number): ActorS {
  return role === 'sampler' ? sim.s.samplers[i]! : role === 'verifier' ? sim.s.verifiers[i]! : sim.s.learner;
}

/** A crash or hang planned for `role`'s first work of `step` (fires once). */
export function stepFault(sim: SimEngine, role: SimRole, index: number, step: number): 'crash' | 'hang' | null {
  const faults = sim.o.faults;
  for (let fi = 0; fi < faults.length; fi++) {
    const f = faults[fi]!;
    if ((f.kind !== 'crash' && f.kind !== 'hang') || !('step' in f.at) || f.at.step !== step) continue;
    const a = actorOf(f.actor);
    if (a.role !== role || (a.index !== null && a.index !== index) || sim.s.stepFaults.includes(fi)) continue;
    sim.s.stepFaults.push(fi);
    fired(sim, firedName({ kind: f.kind, actor: actorName(role, index), step }));
    return f.kind;
  }
  return null;
}
