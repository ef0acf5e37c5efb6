/**
 * `e3sim bench --latency`: what one message costs on the paths the topology uses, one message
 * in flight at a time (so each figure is a latency, not a throughput):
 *   - xstate: GRADE sent to the real grader machine until its `deliver` actor runs (grading done
 *     in process): the actor system's own cost — queueing, guards, assign, two promise invokes;
 *   - worker round trip over a raw MessagePort (postMessage both ways);
 *   - worker round trip as a comlink call (what the sampler and learner handles use);
 *   - both: the grader machine with `grade` done by a comlink call to a worker thread.
 */
import { createActor, fromPromise } from 'xstate';
import { MessageChannel } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { graderMachine, type GradeJob } from '../../machines/grader.js';
import type { ScoredGroup } from '../runtime/messages.js';
import { WorkerHandle } from '../runtime/workers.js';
import type { BenchWorkerApi } from './policyBench.js';
import { mean, quantile } from '../util/stats.js';

export interface LatencyRow {
  name: string;
  messages: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
}

const JOB = { job: { id: 'g0' }, verdicts: null } as unknown as GradeJob;
const GROUP = { id: 'g0' } as unknown as ScoredGroup;

function row(name: string, samplesMs: number[]): LatencyRow {
  const us = samplesMs.map((x) => x * 1000);
  return { name, messages: us.length, p50Us: quantile(us, 0.5), p99Us: quantile(us, 0.99), meanUs: mean(us) };
}

/** Times `once` `n` times, one at a time, after `warm` unmeasured calls; milliseconds per call. */
async function timeEach(
  n: number,
  warm: number,
  now: () => number,
  once: (i: number) => Promise<void>,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < warm + n; i++) {
    const t0 = now();
    await once(i);
    if (i >= warm) out.push(now() - t0);
  }
  return out;
}

/** GRADE sent to the grader machine, timed until its deliver actor runs. */
async function timeGrader(
  n: number,
  warm: number,
  now: () => number,
  grade: () => Promise<ScoredGroup>,
): Promise<number[]> {
  let resolveDelivered: () => void = () => {};
  const actor = createActor(
    graderMachine.provide({
      actors: {
        grade: fromPromise(grade),
        deliver: fromPromise(async () => resolveDelivered()),
      },
    }),
    { input: { queueMax: 4 } },
  );
  actor.start();
  const out = await timeEach(n, warm, now, async () => {
    const delivered = new Promise<void>((r) => (resolveDelivered = r));
    actor.send({ type: 'GRADE', job: JOB });
    await delivered;
  });
  actor.stop();
  return out;
}

export async function runLatencyBench(opts: { messages: number; now: () => number }): Promise<LatencyRow[]> {
  const { messages: n, now } = opts;
  const warm = Math.min(1000, n);
  const rows: LatencyRow[] = [];
  rows.push(
    row('xstate: grader machine, GRADE → deliver (in process)', await timeGrader(n, warm, now, async () => GROUP)),
  );

  const worker = new WorkerHandle<BenchWorkerApi>('latency-echo', 'bench.worker.ts');
  try {
    const { port1, port2 } = new MessageChannel();
    await worker.call(
      'echo port',
      (api) => api.echoOn(Comlink.transfer(port2, [port2 as unknown as Transferable])),
      60_000,
    );
    const raw = await timeEach(
      n,
      warm,
      now,
      (i) =>
        new Promise<void>((resolve) => {
          port1.once('message', () => resolve());
          port1.postMessage(i);
        }),
    );
    port1.close();
    rows.push(row('worker round trip: raw MessagePort', raw));
    rows.push(
      row(
        'worker round trip: comlink call',
        await timeEach(n, warm, now, async (i) => {
          await worker.call('echo', (api) => api.echo(i), 60_000);
        }),
      ),
    );

    rows.push(
      row(
        'xstate + worker: GRADE → grade in a worker (comlink) → deliver',
        await timeGrader(n, warm, now, async () => {
          await worker.call('echo', (api) => api.echo(0), 60_000);
          return GROUP;
        }),
      ),
    );
  } finally {
    await worker.terminate();
  }
  return rows;
}
