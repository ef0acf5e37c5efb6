/**
 * Piscina task: verify one group's completions with the task's external verifier (rewards never
 * come from the model's own verdict tokens). Stateless.
 */
import { verify } from '../src/tasks/countdown/verifier.js';
import type { MessagePort } from 'node:worker_threads';
import type { VerdictMsg } from '../src/runtime/messages.js';
import { slowdownMs } from '../src/util/slowdown.js';

export interface VerifyTask {
  numbers: number[];
  target: number;
  completions: number[][];
  fault: 'crash' | 'hang' | null;
  slowFactor: number;
  slowMs: number;
  /** Told when the task starts in a thread: the verifier's timeout counts from then (runtime/roles/verifiers). */
  started?: MessagePort;
}

export default async function verifyGroup(t: VerifyTask): Promise<VerdictMsg[]> {
  t.started?.postMessage('started');
  t.started?.close();
  if (t.fault === 'crash') process.exit(70);
  if (t.fault === 'hang') await new Promise(() => {});
  const t0 = performance.now();
  const out = t.completions.map((c) => {
    const v = verify({ numbers: t.numbers, target: t.target }, c);
    return { correct: v.correct, reason: v.reason, attempts: v.attempts, selfChecks: v.selfVerdicts };
  });
  const slowMs = slowdownMs(performance.now() - t0, t);
  if (slowMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, slowMs);
  return out;
}
