/**
 * The virtual clock's verifiers: queued groups handed to idle verifiers, each verification a piece
 * of work of the cost model's duration.
 */
import { jitterFactor } from './profile.js';
import type { SimEngine } from './engine.js';
import type { VerifyJob } from './state.js';
import { scheduleWork } from './work.js';

export function dispatchVerifiers(sim: SimEngine): void {
  const s = sim.s;
  for (let i = 0; i < s.verifiers.length && s.verifyQueue.length > 0 && sim.verifiersIdle > 0; i++) {
    const v = s.verifiers[i]!;
    if (v.state !== 'idle') continue;
    startVerify(sim, i, s.verifyQueue.shift()!, 'VERIFY');
  }
}

export function startVerify(sim: SimEngine, i: number, job: VerifyJob, event: string): void {
  const v = sim.s.verifiers[i]!;
  v.job = job;
  v.epoch++;
  sim.setVerifier(i, 'verifying', event);
  const dur =
    sim.cost.verifySeconds(job.group.lengths.length) *
    v.slow *
    jitterFactor(sim.o.profile.verifier.jitter, sim.seed, 2, job.attempts, job.step, job.group.slot);
  scheduleWork(sim, 'verifier', i, v, job.step, dur, 'verified');
}
