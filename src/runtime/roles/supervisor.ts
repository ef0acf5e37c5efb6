import { createActor } from 'xstate';
import { supervisorMachine } from '../../../machines/index.js';
import type { Failure } from '../../../machines/supervisor.js';
import { giveUpMessage } from '../../core/supervision.js';
import type { TrainingRun } from '../run.js';
import { samplerSlot } from './planning.js';

export function makeSupervisor(run: TrainingRun) {
  return createActor(
    supervisorMachine.provide({
      actions: {
        restart: (_, f: Failure) => {
          if (f.role === 'sampler') samplerSlot(run, f.actor).actor.send({ type: 'RESTART' });
          else if (f.role === 'learner') run.learnerActor.send({ type: 'RESTART' });
          else if (f.role === 'grader') run.grader.send({ type: 'RESTART' });
          run.log(`${f.actor} failed (${f.error}); restarting`);
        },
        giveUp: (_, f) => run.abort(giveUpMessage(f, run.cfg.limits.restartsMax)),
      },
    }),
    {
      input: { restartsMax: run.cfg.limits.restartsMax, restarts: run.restarts },
      inspect: run.transitions.inspector('supervisor', 'supervisor'),
    },
  );
}
