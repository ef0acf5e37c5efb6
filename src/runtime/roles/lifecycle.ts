/**
 * The real clock's lifecycle, the coordinator machine's effects: starting the topology (actors,
 * threads, the verifier pool, the step-0 checkpoint) in dependency order, a checkpoint between
 * steps, and stopping it (actors, threads, pool, NATS) whatever state it is in.
 */
import path from 'node:path';
import { Piscina } from 'piscina';
import { ACTORS_DIR } from '../workers.js';
import { threadBundleDir } from '../bundle.js';

import { makeEvaluator, requestEval } from './evaluation.js';
import { startCurriculum } from './curriculum.js';
import { makeSupervisor } from './supervisor.js';
import { makeLearnerActor, startLearner } from './learner.js';
import { makeWeightStore } from './weightStore.js';
import { makeBatcher } from './batcher.js';
import { makeGrader } from './grader.js';
import { startNats } from './nats.js';
import { makeSamplerActor, startSampler } from './samplers.js';
import { makeVerifierActor } from './verifiers.js';

import type { ActorRefFrom } from 'xstate';
import type { learnerMachine } from '../../../machines/index.js';
import { assert, errnoLine } from '../../util/errors.js';
import { learnState } from '../../core/topology.js';
import { slotOf } from '../../core/batch.js';
import { writeRunCheckpoint, type RunState } from '../checkpointer.js';
import type { TrainingRun } from '../run.js';
import { logOffsets } from './metrics.js';
import { pump } from './planning.js';

export async function start(run: TrainingRun): Promise<void> {
  const resume = run.resumed;
  const optimizer = run.optimizer;
  if (resume) {
    run.cur.state = { ...resume.state.curriculum };
    // the steps a dynamic curriculum planned before the checkpoint are trained as planned
    for (const [k, plan] of Object.entries(resume.state.plans ?? {})) run.plans.set(Number(k), plan);
  }
  run.supervisor = makeSupervisor(run);
  run.weightStore = makeWeightStore(run);
  run.learnerActor = makeLearnerActor(run);
  run.batcher = makeBatcher(run); // its gate reads the learner machine, from its first snapshot on
  run.grader = makeGrader(run);

  run.evaluator = run.cfg.eval ? makeEvaluator(run, run.cfg.eval) : null;
  for (const a of [run.supervisor, run.weightStore, run.grader, run.evaluator]) a?.start();

  if (run.o.nats) await startNats(run);
  if (!run.remote.has('verifier')) {
    const bundle = threadBundleDir();
    run.pool = new Piscina({
      filename: bundle ? path.join(bundle, 'verify-task.mjs') : path.join(ACTORS_DIR, 'verify.task.mjs'),
      minThreads: run.cfg.topology.verifierThreads,
      maxThreads: run.cfg.topology.verifierThreads,
    });
    run.pool.on('error', (e: Error) => run.log(`verifier pool: ${e.message}`));
  }
  await startLearner(run, {
    weights: run.weights.get(run.topo.learnerVersion)!,
    optimizer,
    version: run.topo.learnerVersion,
  });
  for (let i = 0; i < run.cfg.topology.samplers; i++) {
    const id = `sampler-${i}`;
    run.samplers.push({ id, ...(await startSampler(run, id)), actor: makeSamplerActor(run, id) });
  }
  for (let i = 0; i < run.cfg.topology.verifierThreads; i++) {
    const id = `verifier-${i}`;
    run.verifiers.push({ id, actor: makeVerifierActor(run, id) });
  }
  if (!resume) writeStepZeroCheckpoint(run);
  startCurriculum(run);
  run.t0 = run.o.now();
  run.learnerActor.start();
  // after the learner: its gate reads the learner machine's state, and a resumed queue may hold a
  // whole step (groups sent to it before now wait in its mailbox)
  run.batcher.start();
  for (const v of run.verifiers) v.actor.start();
  for (const s of run.samplers) s.actor.start();
  // Evaluations that were running when the checkpoint was taken: their lines were cut with the log.
  for (const v of resume?.state.evalsPending ?? []) if (run.evaluator) requestEval(run, v);
}

/**
 * The curriculum's part of a checkpoint: its state, a dynamic curriculum's plans of the steps in
 * flight, the difficulty buckets when a stage uses them (null before they are measured).
 */
function curriculumRecord(run: TrainingRun): Pick<RunState, 'curriculum' | 'plans' | 'buckets'> {
  return {
    curriculum: { ...run.cur.state },
    plans: run.cur.dynamic ? Object.fromEntries(run.plans) : undefined,
    buckets: run.cur.usesBuckets() ? run.cur.bucketAssignment : undefined,
  };
}

/** A new run's step-0 checkpoint: a learner that crashes before the first periodic one restarts from it. */
function writeStepZeroCheckpoint(run: TrainingRun): void {
  writeRunCheckpoint(run.dir, {
    gptConfig: run.gptConfig,
    seed: run.cfg.seed,
    command: run.o.command,
    versions: run.o.versions,
    weights: run.initWeights,
    state: {
      version: 0,
      accounting: [],
      queue: [],
      ...curriculumRecord(run),
      faultsFired: [],
      restarts: {},
      topology: learnState(run.topo),
      tokensGenerated: 0,
      logs: logOffsets(run),
      evalsPending: [],
    },
    keep: run.cfg.checkpoint.keep,
    trainConfig: run.cfg,
  });
}

export async function checkpoint(run: TrainingRun): Promise<void> {
  run.paused = true;
  if (keepsWorkInFlight(run)) run.draining = true; // from here: drainWorkInFlight says why
  try {
    // The learner must be between steps; the batcher holds new batches while paused.
    const deadline = run.o.now() + run.cfg.limits.learnerTimeoutMs;
    while (!run.learnerActor.getSnapshot().matches('waitingForBatch')) {
      if (run.fatal) throw new Error(run.fatal);
      if (run.o.now() > deadline) throw new Error('learner did not come to rest for the checkpoint');
      await new Promise((r) => setTimeout(r, 5));
    }
    run.snapshot = null;
    const snap = await learnerSnapshot(run.learnerActor, () => run.snapshot);
    assert(
      snap.version === run.topo.learnerVersion,
      `snapshot at v${snap.version}, published v${run.topo.learnerVersion}`,
    );
    // (after the learner's snapshot, which the samplers' work in flight overlaps)
    await drainWorkInFlight(run);
    const held = new Set(run.queue.all().map((g) => `${g.step}/${slotOf(g.problemId)}`));
    const ledger = run.ledger.toEntries((step, slot) => held.has(`${step}/${slot}`));
    const state: RunState = {
      version: run.topo.learnerVersion,
      accounting: ledger.entries,
      accountingSettled: ledger.settled,
      queue: run.queue.all(),
      ...curriculumRecord(run),
      faultsFired: run.faults.firedNames(),
      restarts: { ...run.supervisor.getSnapshot().context.restarts },
      topology: learnState(run.topo),
      // the rollouts being verified are generated again on resume: their tokens are not kept either
      tokensGenerated: run.topo.tokensGenerated - run.tokensUnqueued,
      logs: logOffsets(run),
      evalsPending: run.evalsInFlight.filter((v) => v === run.topo.learnerVersion),
      wallMs: run.wallMsBefore + (run.o.now() - run.t0),
    };
    try {
      writeRunCheckpoint(run.dir, {
        gptConfig: run.gptConfig,
        seed: run.cfg.seed,
        command: run.o.command,
        versions: run.o.versions,
        weights: snap.weights,
        optimizer: { state: snap.optimizer, step: snap.adamStep },
        state,
        keep: run.cfg.checkpoint.keep,
        trainConfig: run.cfg,
      });
    } catch (e) {
      if (errnoLine(e)) run.envError ??= e as Error; // the run ends with it (one line naming the file)
      throw e;
    }
    for (const k of [...run.sinceCheckpoint.keys()]) if (k <= run.topo.learnerVersion) run.sinceCheckpoint.delete(k);
    run.log(`checkpoint step-${run.topo.learnerVersion}`);
  } finally {
    run.paused = false;
    run.batcher.send({ type: 'POKE' });
    if (run.draining) {
      run.draining = false;
      setImmediate(() => pump(run)); // the requests the wait held back
    }
  }
}

/**
 * One-step-off: the work in flight at a checkpoint, step v + 1, was started at v − 1 while step v
 * trained. A checkpoint does not keep work in flight — a resume generates it again, at the version
 * published then — so a resumed run would train those rollouts at another version than the
 * uninterrupted one. The checkpoint therefore lets it reach the batcher's queue first, so that
 * the checkpoint keeps it with its versions. No new request goes out from the checkpoint's start
 * (`run.draining`, set in `checkpoint`), which the publication's effects begin before any message
 * can come in: the checkpoint keeps what was in flight then, whatever the threads' speeds.
 * Bounded by the sampler's and verifier's timeouts (past them the rest is generated again on
 * resume, and the log says so). The learner needs step v + 1 next anyway. Not the other policies: a sync
 * run's work in flight started at the published version (the resume generates the same); in async
 * and in-flight runs every sampler is busy, so the wait would last up to a whole generation with
 * the samplers going idle one by one, for a resume that cannot be the same run anyway (there the
 * threads' timing decides which version samples what): their work in flight is generated again
 * after a resume, at the newest version, within the bound.
 */
async function drainWorkInFlight(run: TrainingRun): Promise<void> {
  if (!keepsWorkInFlight(run)) return;
  const limits = run.cfg.limits;
  const deadline = run.o.now() + limits.samplerTimeoutMs + limits.verifierTimeoutMs;
  while ((run.inflight.size > 0 || run.groupsUnqueued > 0) && !run.fatal) {
    if (run.o.now() > deadline) {
      run.log(
        `checkpoint: ${run.inflight.size} requests and ${run.groupsUnqueued} groups still in flight; a resume generates them again`,
      );
      return;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Whether a checkpoint keeps the work in flight (drainWorkInFlight): one-step-off only. */
function keepsWorkInFlight(run: TrainingRun): boolean {
  return run.cfg.staleness.policy === 'one-step-off';
}

/**
 * The learner's snapshot for a checkpoint: SNAPSHOT sent; resolves once the learner is back in
 * `waitingForBatch` holding it, rejects as soon as it leaves `snapshotting` any other way. (A loop
 * polling for `failed` every 5 ms never saw it — the supervisor restarts a failed learner at once —
 * and then waited for ever on a learner back in `waitingForBatch` without a snapshot.)
 */
export function learnerSnapshot<S>(actor: ActorRefFrom<typeof learnerMachine>, taken: () => S | null): Promise<S> {
  return new Promise((resolve, reject) => {
    const sub = actor.subscribe((st) => {
      if (st.matches('snapshotting')) return;
      sub.unsubscribe();
      const snap = taken();
      if (snap && st.matches('waitingForBatch')) resolve(snap);
      else
        reject(
          new Error(
            `the learner left snapshotting for ${JSON.stringify(st.value)} without a snapshot${st.context.error ? ` (${st.context.error})` : ''}`,
          ),
        );
    });
    actor.send({ type: 'SNAPSHOT' });
    if (!actor.getSnapshot().matches('snapshotting')) {
      sub.unsubscribe();
      reject(new Error(`the learner cannot take a snapshot in ${JSON.stringify(actor.getSnapshot().value)}`));
    }
  });
}

export async function stopAll(run: TrainingRun): Promise<void> {
  // The final evaluation runs on a sampler thread: let it finish (bounded by the sampler timeout).
  const deadline = run.o.now() + run.cfg.limits.samplerTimeoutMs;
  while (run.evalsInFlight.length > 0 && !run.fatal && !run.interrupted && run.o.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  for (const w of run.deliveryWaiters.splice(0)) w();
  for (const t of run.publicationTimers) clearTimeout(t);
  run.publicationTimers.clear();
  for (const a of [
    ...run.samplers.map((s) => s.actor),
    ...run.verifiers.map((v) => v.actor),
    run.learnerActor,
    run.batcher,
    run.grader,
    run.weightStore,
    run.supervisor,
    run.evaluator,
  ]) {
    a?.stop();
  }
  run.curriculum.stop();
  await Promise.all(run.samplers.map((s) => s.handle?.terminate().catch(() => {})));
  await run.evalSampler?.handle.terminate().catch(() => {});
  await run.learner?.terminate().catch(() => {});
  await run.pool?.destroy().catch(() => {});
  // The run's queues and weights on NATS are deleted, also after an interruption: --resume
  // re-plans its in-flight work and creates them afresh.
  await run.nats?.close();
}
