/**
 * The virtual clock's faults (core/faults.ts plans): one-shot crashes and hangs at a step or a
 * time, slowdowns, grader stalls, seeded storms; crashes and restarts under core/supervision.
 */
import { afterRestart, intoFailure, superviseFailure } from '../steps/restarts.js';
import { reissue } from '../core/admission.js';
import { groupRewards } from '../core/grading.js';
import { Rng } from '../util/rng.js';
import { actorName, actorOf, firedName, roleSize } from '../core/faults.js';
import type { SimRole } from '../core/roles.js';
import type { SimEngine } from './engine.js';
import { graded, tryTrain } from './learning.js';
import { pump } from './sampling.js';
import { dispatchVerifiers, startVerify } from './verifying.js';
import { actor, fired, timeoutSeconds } from './work.js';

export function scheduleFaults(sim: SimEngine): void {
  sim.o.faults.forEach((f, fi) => {
    if ((f.kind === 'crash' || f.kind === 'hang' || f.kind === 'slow') && 'time' in f.at)
      sim.q.add(f.at.time, 'fault', -1, 0, { index: fi });
    if (f.kind === 'stall') sim.q.add(f.at.time, 'fault', -1, 0, { index: fi });
    if (f.kind === 'storm') {
      sim.s.stormNext[fi] = 0;
      scheduleStorm(sim, fi, f.from);
    }
  });
}

export function scheduleStorm(sim: SimEngine, fi: number, from: number): void {
  const f = sim.o.faults[fi]!;
  if (f.kind !== 'storm') return;
  const n = sim.s.stormNext[fi]!;
  if (n >= f.max) return;
  const rng = new Rng(`storm/${sim.seed}/${fi}/${n}`);
  const t = from + -Math.log(1 - rng.float()) / f.rate;
  if (t > f.until) return;
  sim.q.add(t, 'storm', -1, 0, { index: fi, n });
}

export function actorsOf(sim: SimEngine, role: SimRole, index: number | null): number[] {
  const n = roleSize(role, sim.o.config.topology);
  if (index !== null && index >= n) return [];
  return index === null ? Array.from({ length: n }, (_, i) => i) : [index];
}

export function applyFault(
  sim: SimEngine,
  kind: 'crash' | 'hang' | 'slow',
  role: SimRole,
  i: number,
  factor: number,
  duration: number | undefined,
  /** Seconds added to each piece of the actor's work (a slowdown's `addSeconds`). */
  addS = 0,
): void {
  const name = actorName(role, i);
  fired(sim, firedName({ kind, actor: name, time: sim.s.t }));
  if (kind === 'slow') {
    const a = actor(sim, role, i);
    a.slow *= factor;
    if (addS > 0) a.slowAddS = (a.slowAddS ?? 0) + addS;
    if (duration !== undefined)
      sim.q.add(sim.s.t + duration, 'slow-end', i, 0, addS > 0 ? { role, factor, addS } : { role, factor });
    return;
  }
  if (kind === 'crash') return crash(sim, role, i, 'CRASH');
  // hang: work in progress stops; the supervisor notices at the timeout
  const timeout = timeoutSeconds(sim, role);
  if (role === 'sampler') {
    const sm = sim.s.samplers[i]!;
    if (sm.state === 'generating' || sm.state === 'syncingWeights') {
      sm.epoch++;
      sim.q.add(Math.max(sim.s.t, sm.genStart + timeout), 'timeout', i, sm.epoch, { role });
    } else if (sm.state === 'idle' || sm.state === 'delivering') sm.next = 'hang';
  } else if (role === 'verifier') {
    const v = sim.s.verifiers[i]!;
    if (v.state === 'verifying') {
      v.epoch++;
      sim.q.add(Math.max(sim.s.t, v.busySince + timeout), 'timeout', i, v.epoch, { role });
    } else if (v.state === 'idle') v.next = 'hang';
  } else {
    const l = sim.s.learner;
    if (l.state === 'training' || l.state === 'publishing') {
      l.epoch++;
      sim.q.add(Math.max(sim.s.t, l.workStart + timeout), 'timeout', 0, l.epoch, { role });
    } else if (l.state === 'waitingForBatch') l.next = 'hang';
  }
}

/** A planned fault's moment (event `fault`): a grader stall, or a crash, hang or slowdown of its targets. */
export function faultEvent(sim: SimEngine, index: number): void {
  const s = sim.s;
  const f = sim.o.faults[index]!;
  if (f.kind === 'stall') {
    fired(sim, firedName({ kind: 'stall', actor: 'graders', time: s.t }));
    s.graderStalledUntil = Math.max(s.graderStalledUntil, s.t + f.for);
    sim.q.add(s.graderStalledUntil, 'grader-resume', -1, 0);
  } else if (f.kind === 'crash' || f.kind === 'hang' || f.kind === 'slow') {
    const a = actorOf(f.actor);
    // 'sampler' with no index: crash/hang one (chosen by the seeded stream), slow all.
    let targets = actorsOf(sim, a.role, a.index);
    if (a.index === null && f.kind !== 'slow' && targets.length > 0)
      targets = [new Rng(`fault-target/${sim.seed}/${index}`).int(targets.length)];
    for (const i of targets)
      if (f.kind === 'slow') applyFault(sim, 'slow', a.role, i, f.factor, f.for, f.addSeconds);
      else applyFault(sim, f.kind, a.role, i, 1, undefined);
  }
}

/** The `n`-th fault of storm `fi` (event `storm`): a seeded kind, role and target, then the next one scheduled. */
export function stormEvent(sim: SimEngine, fi: number, n: number): void {
  const s = sim.s;
  const f = sim.o.faults[fi]!;
  if (f.kind !== 'storm' || s.done) return;
  const rng = new Rng(`storm-pick/${sim.seed}/${fi}/${n}`);
  const kind = rng.pick(f.kinds);
  const role = rng.pick(f.roles);
  const targets = actorsOf(sim, role, null);
  applyFault(sim, kind, role, targets[rng.int(targets.length)]!, f.slowFactor, f.slowFor);
  s.stormNext[fi] = n + 1;
  scheduleStorm(sim, fi, s.t);
}

/**
 * A crash (or a hang's timeout). Busy actors fail and come back after their restart time, along
 * their machines (steps/restarts intoFailure: `failed`, reported to the supervisor, then a sampler's
 * and the learner's `restarting`): a sampler's request is re-issued; a verifier retries its job
 * (or, out of attempts, delivers it as invalid); the learner redoes its step. An idle actor's
 * process is dead but nobody knows yet: its next piece of work fails.
 */
export function crash(sim: SimEngine, role: SimRole, i: number, event: string): void {
  const p = sim.o.profile;
  if (role === 'sampler') {
    const sm = sim.s.samplers[i]!;
    if (sm.state === 'idle' || sm.state === 'delivering') return void (sm.next = 'crash');
    if (sm.state !== 'syncingWeights' && sm.state !== 'generating') return; // already failed or restarting
    const path = failurePath(sim, role, sm.state, `sampler-${i}`, ['failed', 'restarting']);
    reissue(sim.s.topo, { ...sm.req!, attempt: sm.req!.attempt + 1 });
    sm.req = null;
    sm.gen = null;
    sm.epoch++;
    sm.restarts = supervise(sim, `sampler-${i}`, role, sm.restarts, event);
    sim.setSampler(i, path[0]!, event);
    sim.setSampler(i, path[1]!, 'RESTART');
    sim.q.add(sim.s.t + p.sampler.restartS, 'restarted', i, sm.epoch, { role });
  } else if (role === 'verifier') {
    const v = sim.s.verifiers[i]!;
    if (v.state === 'idle') return void (v.next = 'crash');
    if (v.state !== 'verifying') return;
    const path = failurePath(sim, role, v.state, `verifier-${i}`, ['failed']);
    v.job!.attempts++;
    v.epoch++;
    v.restarts = supervise(sim, `verifier-${i}`, role, v.restarts, event);
    sim.setVerifier(i, path[0]!, event);
    sim.q.add(sim.s.t + p.verifier.restartS, 'restarted', i, v.epoch, { role });
  } else {
    const l = sim.s.learner;
    if (l.state === 'waitingForBatch') return void (l.next = 'crash');
    if (l.state !== 'training' && l.state !== 'publishing') return;
    const path = failurePath(sim, role, l.state, 'learner', ['failed', 'restarting']);
    if (l.state === 'publishing') l.replay = true; // its weights were computed: the restart replays to them
    l.epoch++;
    l.restarts = supervise(sim, 'learner', role, l.restarts, event);
    sim.setLearner(path[0]!, event);
    sim.setLearner(path[1]!, 'RESTART');
    sim.q.add(sim.s.t + p.learner.restartS, 'restarted', 0, l.epoch, { role });
  }
}

/** The machine's way from `state` into a failure, if it is the one this clock knows (and reported); else the run fails. */
function failurePath<S extends string>(
  sim: SimEngine,
  role: SimRole,
  state: string,
  id: string,
  states: readonly S[],
): S[] {
  const f = intoFailure(role, state, id);
  if (!f.reported || f.states.join() !== states.join())
    sim.fail(
      `the ${role} machine fails from '${state}' through ${f.states.join(', ')}${f.reported ? '' : ' without reporting it'}; the virtual clock knows ${states.join(', ')}`,
    );
  return f.states as S[];
}

/** A failure under the supervisor machine: the actor's new restart count, or the run fails. */
function supervise(sim: SimEngine, actor: string, role: SimRole, restarts: number, error: string): number {
  const d = superviseFailure({ actor, role, error }, restarts, sim.o.config.limits.restartsMax);
  if ('giveUp' in d) runFailed(sim, d.giveUp);
  return d.restarts;
}

/**
 * An actor's restart is over (a verifier's pause before its next attempt): its machine says what
 * it does next (steps/restarts afterRestart), and this clock does it.
 */
export function restarted(sim: SimEngine, role: SimRole, i: number): void {
  if (role === 'sampler') {
    const next = afterRestart(role, { id: `sampler-${i}` });
    const sm = sim.s.samplers[i]!;
    sm.version = -1; // a fresh process: it loads the newest weights with its next request
    sim.setSampler(i, known(sim, role, next.state, ['idle']), 'RESTARTED');
    if (next.actions.includes('becameIdle')) {
      sim.s.idle.push(i);
      pump(sim);
    }
  } else if (role === 'verifier') {
    const v = sim.s.verifiers[i]!;
    const job = v.job!;
    const next = afterRestart(role, {
      id: `verifier-${i}`,
      attempts: job.attempts,
      attemptsMax: sim.o.config.limits.verifyAttemptsMax,
    });
    if (known(sim, role, next.state, ['verifying', 'delivering']) === 'verifying') startVerify(sim, i, job, 'RETRY');
    else {
      // Out of attempts: the group is handed on as invalid (its rollouts are dropped-invalid).
      v.job = null;
      sim.setVerifier(i, 'delivering', 'GIVE_UP');
      graded(sim, job, groupRewards(null, job.group.lengths, undefined));
      sim.setVerifier(i, 'idle', 'DELIVERED');
      dispatchVerifiers(sim);
    }
  } else {
    const next = afterRestart(role, { id: 'learner' });
    sim.setLearner(known(sim, role, next.state, ['waitingForBatch']), 'RESTARTED');
    // `ready`: the batch it held again (its update redone, or replayed to the weights it had), else the next
    if (next.actions.includes('ready')) tryTrain(sim);
  }
}

/** The machine's next state, if this clock knows how to be there; else the run fails naming it. */
function known<S extends string>(sim: SimEngine, role: SimRole, state: string, states: readonly S[]): S {
  if (!(states as readonly string[]).includes(state))
    sim.fail(`the ${role} machine goes to '${state}' after a restart; the virtual clock knows ${states.join(', ')}`);
  return state as S;
}

export function runFailed(sim: SimEngine, why: string): never {
  throw new Error(`run failed at t=${sim.s.t.toFixed(3)} s (event #${sim.s.events}, seed ${sim.seed}): ${why}`);
}
