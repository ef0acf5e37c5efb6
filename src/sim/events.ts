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
  const s = sim.s;
  switch (ev.kind) {
    case 'synced': {
      const sm = s.samplers[ev.actor]!;
      if (sm.epoch !== ev.epoch || sm.state !== 'syncingWeights') break;
      sm.version = sm.syncTo;
      beginGenerate(sim, ev.actor, 'WEIGHTS_SYNCED');
      break;
    }
    case 'generated': {
      const sm = s.samplers[ev.actor]!;
      if (sm.epoch !== ev.epoch || sm.state !== 'generating') break;
      sim.setSampler(ev.actor, 'delivering', 'GENERATED');
      sim.q.add(sim.s.t + sim.o.profile.messageLatencyS, 'delivered', ev.actor, sm.epoch);
      break;
    }
    case 'delivered': {
      const sm = s.samplers[ev.actor]!;
      if (sm.epoch !== ev.epoch || sm.state !== 'delivering') break;
      delivered(sim, ev.actor);
      pump(sim);
      break;
    }
    case 'swap': {
      const sm = s.samplers[ev.actor]!;
      if (sm.epoch === ev.epoch) swap(sim, ev.actor, ev.data.version);
      break;
    }
    case 'verified': {
      const v = s.verifiers[ev.actor]!;
      if (v.epoch !== ev.epoch || v.state !== 'verifying') break;
      const job = v.job!;
      v.job = null;
      sim.setVerifier(ev.actor, 'delivering', 'VERIFIED');
      graded(sim, job, sim.o.compute.score(job.step, job.group));
      sim.setVerifier(ev.actor, 'idle', 'DELIVERED');
      dispatchVerifiers(sim);
      break;
    }
    case 'trained':
      if (s.learner.epoch === ev.epoch && s.learner.state === 'training') trained(sim);
      break;
    case 'published':
      if (s.learner.epoch === ev.epoch && s.learner.state === 'publishing') return publishedEvent(sim);
      break;
    case 'republish':
      if (s.learner.epoch === ev.epoch && s.learner.state === 'publishing') {
        s.learner.publishAttempts++;
        sim.q.add(sim.s.t + sim.cost.transferSeconds(), 'published', 0, s.learner.epoch);
      }
      break;
    case 'crash':
    case 'timeout': {
      const role = ev.data.role;
      if (actor(sim, role, ev.actor).epoch === ev.epoch)
        crash(sim, role, ev.actor, ev.kind === 'crash' ? 'CRASH' : 'TIMEOUT');
      break;
    }
    case 'restarted': {
      const role = ev.data.role;
      if (actor(sim, role, ev.actor).epoch === ev.epoch) restarted(sim, role, ev.actor);
      break;
    }
    case 'slow-end': {
      actor(sim, ev.data.role, ev.actor).slow /= ev.data.factor;
      break;
    }
    case 'grader-resume': {
      if (s.t < s.graderStalledUntil) break;
      const waiting = s.graderWaiting.splice(0);
      for (const w of waiting) graded(sim, w.job, w.scored);
      break;
    }
    case 'fault':
      faultEvent(sim, ev.data.index);
      break;
    case 'storm':
      stormEvent(sim, ev.data.index, ev.data.n);
      break;
    case 'measured':
      measuredEvent(sim);
      break;
    default:
      sim.fail(`unknown event '${(ev as { kind: string }).kind}'`);
  }
  return 'continue';
}
