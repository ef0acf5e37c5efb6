/**
 * The virtual clock's events and what each does: a completion of an actor's work (checked against
 * the actor's epoch, so work of a crashed incarnation is ignored), a fault, a restart.
 */
import type { SimEngine } from './engine.js';
import { crash, faultEvent, restarted, stormEvent } from './faultDriver.js';
import { graded, publishedEvent, trained } from './learning.js';
import type { SimEvent } from './queue.js';
import { beginGenerate, delivered, pump, swap } from './sampling.js';
import { dispatchVerifiers } from './verifying.js';
import { actor } from './work.js';
import { measuredEvent } from './curriculum.js';

/** One event's effects on the state: 'done' when the last step is published, 'checkpoint' when one is due. */
export function handleEvent(sim: SimEngine, ev: SimEvent): 'continue' | 'done' | 'checkpoint' {
  switch (ev.kind) {
    case 'synced':
    case 'generated':
    case 'delivered':
    case 'swap':
      samplerEvent(sim, ev);
      break;
    case 'verified':
      verifiedEvent(sim, ev);
      break;
    case 'trained':
    case 'published':
    case 'republish':
      return learnerEvent(sim, ev);
    case 'crash':
    case 'timeout':
    case 'restarted':
    case 'slow-end':
    case 'fault':
    case 'storm':
      supervisionEvent(sim, ev);
      break;
    case 'grader-resume': {
      const s = sim.s;
      if (s.t < s.graderStalledUntil) break;
      const waiting = s.graderWaiting.splice(0);
      for (const w of waiting) graded(sim, w.job, w.scored);
      break;
    }
    case 'measured':
      measuredEvent(sim);
      break;
    default:
      sim.fail(`unknown event '${(ev as { kind: string }).kind}'`);
  }
  return 'continue';
}

type EventOfKind<K extends SimEvent['kind']> = Extract<SimEvent, { kind: K }>;

/** A sampler's work completing (weights synced, generated, delivered) or a weight swap reaching it; stale epochs ignored. */
function samplerEvent(sim: SimEngine, ev: EventOfKind<'synced' | 'generated' | 'delivered' | 'swap'>): void {
  const sm = sim.s.samplers[ev.actor]!;
  if (sm.epoch !== ev.epoch) return;
  switch (ev.kind) {
    case 'synced':
      if (sm.state !== 'syncingWeights') return;
      sm.version = sm.syncTo;
      beginGenerate(sim, ev.actor, 'WEIGHTS_SYNCED');
      return;
    case 'generated':
      if (sm.state !== 'generating') return;
      sim.setSampler(ev.actor, 'delivering', 'GENERATED');
      sim.q.add(sim.s.t + sim.o.profile.messageLatencyS, 'delivered', ev.actor, sm.epoch);
      return;
    case 'delivered':
      if (sm.state !== 'delivering') return;
      delivered(sim, ev.actor);
      pump(sim);
      return;
    case 'swap':
      swap(sim, ev.actor, ev.data.version);
  }
}

/** A verifier's group verified: graded, and the verifier takes the next job. */
function verifiedEvent(sim: SimEngine, ev: EventOfKind<'verified'>): void {
  const v = sim.s.verifiers[ev.actor]!;
  if (v.epoch !== ev.epoch || v.state !== 'verifying') return;
  const job = v.job!;
  v.job = null;
  sim.setVerifier(ev.actor, 'delivering', 'VERIFIED');
  graded(sim, job, sim.o.compute.score(job.step, job.group));
  sim.setVerifier(ev.actor, 'idle', 'DELIVERED');
  dispatchVerifiers(sim);
}

/** The learner's update done, its version out (or a publication tried again); stale epochs ignored. */
function learnerEvent(
  sim: SimEngine,
  ev: EventOfKind<'trained' | 'published' | 'republish'>,
): 'continue' | 'done' | 'checkpoint' {
  const l = sim.s.learner;
  if (l.epoch !== ev.epoch) return 'continue';
  if (ev.kind === 'trained') {
    if (l.state === 'training') trained(sim);
  } else if (l.state === 'publishing') {
    if (ev.kind === 'published') return publishedEvent(sim);
    l.publishAttempts++;
    sim.q.add(sim.s.t + sim.cost.transferSeconds(), 'published', 0, l.epoch);
  }
  return 'continue';
}

/** Faults and their ends: a crash or timeout, a restart done, a slowdown over, a planned fault or storm firing. */
function supervisionEvent(
  sim: SimEngine,
  ev: EventOfKind<'crash' | 'timeout' | 'restarted' | 'slow-end' | 'fault' | 'storm'>,
): void {
  switch (ev.kind) {
    case 'crash':
    case 'timeout':
      if (actor(sim, ev.data.role, ev.actor).epoch === ev.epoch)
        crash(sim, ev.data.role, ev.actor, ev.kind === 'crash' ? 'CRASH' : 'TIMEOUT');
      return;
    case 'restarted':
      if (actor(sim, ev.data.role, ev.actor).epoch === ev.epoch) restarted(sim, ev.data.role, ev.actor);
      return;
    case 'slow-end': {
      const a = actor(sim, ev.data.role, ev.actor);
      a.slow /= ev.data.factor;
      if (ev.data.addS) a.slowAddS = (a.slowAddS ?? 0) - ev.data.addS;
      return;
    }
    case 'fault':
      faultEvent(sim, ev.data.index);
      return;
    case 'storm':
      stormEvent(sim, ev.data.index, ev.data.n);
  }
}
