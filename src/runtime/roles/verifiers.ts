/**
 * The verifiers on the real clock: the verifier machine's effects (a piscina pool or NATS for the
 * work), and verification jobs handed to idle verifiers.
 */
import { MessageChannel } from 'node:worker_threads';
import { createActor } from 'xstate';
import { verifierMachine } from '../../../machines/index.js';
import type { VerifyJob } from '../../../machines/verifier.js';
import type { VerifyTask } from '../../../actors/verify.task.js';
import { assert } from '../../util/errors.js';
import { VerdictSchema, type VerdictMsg } from '../messages.js';
import { THREAD_START_MS } from '../workers.js';
import { slotOf } from '../../core/batch.js';
import type { TrainingRun } from '../run.js';
import { fromAsync } from './effects.js';

export function pumpVerifiers(run: TrainingRun): void {
  while (run.idleVerifiers.size > 0 && run.verifyJobs.length > 0) {
    const id = run.idleVerifiers.values().next().value!;
    run.idleVerifiers.delete(id);
    run.verifiers.find((v) => v.id === id)!.actor.send({ type: 'VERIFY', job: run.verifyJobs.shift()! });
  }
  if (run.verifyJobs.length <= run.bounds.verifyJobs) for (const w of run.deliveryWaiters.splice(0)) w();
}

export function problemOf(run: TrainingRun, job: VerifyJob): { numbers: number[]; target: number } {
  // The prompt is `n1 n2 … → target :` (one token per integer); recover the problem from the planned step.
  const p = run.plans.get(job.step)?.problems[slotOf(job.problemId)];
  assert(p && p.id === job.problemId, `no problem for ${job.step}/${job.problemId}`);
  return p;
}

/**
 * One verification in the piscina pool. limits.verifierTimeoutMs counts from the task's start in a
 * thread, which the task reports on a port: a thread the pool is still starting (after a crash or
 * an aborted hang it replaces it, and tsx's start takes seconds on a loaded machine) is bounded by
 * THREAD_START_MS instead, so a slow start is not taken for a hung verification.
 */
export async function verifyInPool(
  run: Pick<TrainingRun, 'cfg' | 'pool'>,
  jobId: string,
  task: VerifyTask,
  n: number,
  startMs = THREAD_START_MS,
): Promise<VerdictMsg[]> {
  const limit = run.cfg.limits.verifierTimeoutMs;
  const ac = new AbortController();
  const { port1, port2 } = new MessageChannel();
  const thread = { started: false };
  let timer = setTimeout(() => ac.abort(), startMs);
  port1.once('message', () => {
    clearTimeout(timer);
    thread.started = true;
    timer = setTimeout(() => ac.abort(), limit);
  });
  try {
    const out = await run.pool!.run({ ...task, started: port2 }, { signal: ac.signal, transferList: [port2] });
    return VerdictSchema.array().length(n).parse(out);
  } catch (e) {
    if (ac.signal.aborted)
      throw new Error(
        thread.started
          ? `verification of ${jobId} took longer than ${limit} ms`
          : `verification of ${jobId} did not start: no verifier thread within ${startMs} ms`,
      );
    throw e;
  } finally {
    clearTimeout(timer);
    port1.close();
  }
}

export function makeVerifierActor(run: TrainingRun, id: string) {
  const machine = verifierMachine.provide({
    actors: {
      verify: fromAsync(async ({ input }) => {
        run.trace.flow(`g:${input.job.jobId}`, 'rollouts', input.id, 'verifier', 't', run.sinceOpen());
        const problem = problemOf(run, input.job);
        const task: VerifyTask = {
          ...problem,
          completions: input.job.rollouts.map((r) => r.completion),
          fault: input.attempt === 1 ? run.faults.take('verifier', input.job.step, input.id) : null,
          ...run.faults.slowness('verifier'),
        };
        if (run.nats && run.remote.has('verifier')) {
          const out = await run.nats.call('verify', input.job.jobId, task, run.cfg.limits.verifierTimeoutMs);
          return VerdictSchema.array().length(input.job.rollouts.length).parse(out);
        }
        return verifyInPool(run, input.job.jobId, task, input.job.rollouts.length);
      }),
      deliver: fromAsync(async ({ input }) => {
        const overlong = run.cfg.rollout.overlong;
        const budgetTokens = run.plans.get(input.job.step)?.budgetTokens;
        const shaping =
          overlong?.kind === 'soft' && budgetTokens !== undefined ? { budgetTokens, overlong } : undefined;
        run.grader.send({ type: 'GRADE', job: { job: input.job, verdicts: input.verdicts, shaping } });
      }),
    },
    actions: {
      becameIdle: (_, p) => {
        run.idleVerifiers.add(p.id);
        setImmediate(() => pumpVerifiers(run));
      },
      reportFailure: (_, p) => run.supervisor.send({ type: 'FAILED', actor: p.id, role: 'verifier', error: p.error }),
      broken: (_, p) => run.abort(`${id}: ${p.error}`),
    },
  });
  return createActor(machine, {
    input: { id, attemptsMax: run.cfg.limits.verifyAttemptsMax },
    inspect: run.transitions.inspector(id, 'verifier'),
  });
}
