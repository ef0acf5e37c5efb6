/** Every role's machine, by role name (for the runtime, `e3sim diagram` and the path tests). */
import { samplerMachine } from './sampler.js';
import { learnerMachine } from './learner.js';
import { verifierMachine } from './verifier.js';
import { graderMachine } from './grader.js';
import { batcherMachine } from './batcher.js';
import { weightStoreMachine } from './weightStore.js';
import { curriculumMachine } from './curriculum.js';
import { evaluatorMachine } from './evaluator.js';
import { supervisorMachine } from './supervisor.js';
import { coordinatorMachine } from './coordinator.js';

export {
  samplerMachine,
  learnerMachine,
  verifierMachine,
  graderMachine,
  batcherMachine,
  weightStoreMachine,
  curriculumMachine,
  evaluatorMachine,
  supervisorMachine,
  coordinatorMachine,
};

export const MACHINES = {
  coordinator: coordinatorMachine,
  sampler: samplerMachine,
  verifier: verifierMachine,
  grader: graderMachine,
  batcher: batcherMachine,
  learner: learnerMachine,
  weightStore: weightStoreMachine,
  curriculum: curriculumMachine,
  evaluator: evaluatorMachine,
  supervisor: supervisorMachine,
} as const;
export type Role = keyof typeof MACHINES;
