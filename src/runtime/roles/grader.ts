import { createActor } from 'xstate';
import { graderMachine } from '../../../machines/index.js';
import { gradeGroup } from '../grade.js';
import type { ScoredGroup } from '../messages.js';
import { slowdownMs } from '../../util/slowdown.js';
import type { TrainingRun } from '../run.js';
import { fromAsync } from './effects.js';

export function makeGrader(run: TrainingRun) {
  return createActor(
    graderMachine.provide({
      actors: {
        grade: fromAsync(async ({ input }) => {
          run.trace.flow(`g:${input.job.job.jobId}`, 'rollouts', 'grader', 'grader', 't', run.sinceOpen());
          // injected faults: once, on the first group of the step (a hang answers at the grader's timeout, as a
          // failure)
          const fault = run.faults.take('grader', input.job.job.step, 'grader');
          if (fault === 'crash') throw new Error(`grader crashed (injected) grading ${input.job.job.jobId}`);
          if (fault === 'hang') {
            await new Promise((r) => setTimeout(r, run.cfg.limits.verifierTimeoutMs));
            throw new Error(
              `grader: grading ${input.job.job.jobId} took longer than ${run.cfg.limits.verifierTimeoutMs} ms (injected hang)`,
            );
          }
          const t0 = run.o.now();
          const out =
            run.nats && run.remote.has('grader')
              ? await run.nats.call<ScoredGroup>(
                  'grade',
                  input.job.job.jobId,
                  input.job,
                  run.cfg.limits.verifierTimeoutMs,
                )
              : gradeGroup(input.job);
          const slowMs = slowdownMs(run.o.now() - t0, run.faults.slowness('grader'));
          if (slowMs > 0) await new Promise((r) => setTimeout(r, slowMs));
          return out;
        }),
        deliver: fromAsync(async ({ input }) => {
          run.batcher.send({ type: 'GROUP', group: input.group });
        }),
      },
      actions: {
        overflow: () => run.abort('grader queue overflow'),
        broken: (_, p) => run.abort(`grader: ${p.error}`),
        reportFailure: (_, p) =>
          run.supervisor.send({ type: 'FAILED', actor: 'grader', role: 'grader', error: p.error }),
      },
    }),
    { input: { queueMax: run.bounds.graderJobs }, inspect: run.transitions.inspector('grader', 'grader') },
  );
}
