import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, waitFor, type AnyStateMachine } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { MACHINES } from '../machines/index.js';
import {
  FAULT_ROLES,
  REMOTE_ROLES,
  ROLE_TABLE,
  SIM_FAULT_ROLES,
  topologyEdges,
  topologyMarkdown,
  type RoleRow,
} from '../src/core/roles.js';
import { samplerMachine } from '../machines/sampler.js';
import { learnerMachine } from '../machines/learner.js';
import { verifierMachine } from '../machines/verifier.js';
import { supervisorMachine } from '../machines/supervisor.js';
import { coordinatorMachine } from '../machines/coordinator.js';
import { curriculumMachine } from '../machines/curriculum.js';
import { graderMachine } from '../machines/grader.js';
import { batcherMachine } from '../machines/batcher.js';
import type { Generate, Rollouts, ScoredGroup, TrainBatch, VerdictMsg } from '../src/runtime/messages.js';
import type { VerifyJob } from '../machines/verifier.js';
import type { TrainOutput } from '../machines/learner.js';
import { stepLearning } from '../src/core/topology.js';
import { publishing } from './helpers/topology.js';

/** Every state node's path-style id under the root, e.g. 'idle' (these machines are flat). */
function stateNames(m: AnyStateMachine): string[] {
  return Object.keys(m.root.states);
}

/** done/error events of every invoking state (invoke ids are `0.<machine>.<state>`). */
function invokeEvents(m: AnyStateMachine): { type: string; output?: unknown; error?: unknown }[] {
  const out: { type: string; output?: unknown; error?: unknown }[] = [];
  for (const [name, node] of Object.entries(m.root.states)) {
    if ((node as { invoke: unknown[] }).invoke.length === 0) continue;
    out.push(
      { type: `xstate.done.actor.0.${m.id}.${name}`, output: {} },
      { type: `xstate.error.actor.0.${m.id}.${name}`, error: new Error('boom') },
    );
  }
  return out;
}

const request = { requestId: 'r', step: 1 } as unknown as Generate;
const USER_EVENTS: Record<string, object[]> = {
  coordinator: [
    { type: 'STEP_DONE', step: 1, checkpoint: true },
    { type: 'STEP_DONE', step: 2, checkpoint: true },
    { type: 'INTERRUPT' },
    { type: 'ABORT', error: 'x' },
  ],
  sampler: [{ type: 'GENERATE', request }, { type: 'RESTART' }, { type: 'STOP' }],
  verifier: [{ type: 'VERIFY', job: { jobId: 'j', step: 1, problemId: 'p', rollouts: [] } }, { type: 'STOP' }],
  grader: [
    { type: 'GRADE', job: { job: { jobId: 'j', step: 1, problemId: 'p', rollouts: [] }, verdicts: [] } },
    { type: 'RESTART' },
    { type: 'STOP' },
  ],
  batcher: [{ type: 'GROUP', group: {} }, { type: 'LEARNER_READY' }, { type: 'POKE' }, { type: 'STOP' }],
  learner: [{ type: 'TRAIN', batch: { step: 1 } }, { type: 'SNAPSHOT' }, { type: 'RESTART' }, { type: 'STOP' }],
  weightStore: [{ type: 'PUBLISHED', version: 1 }, { type: 'PUBLISHED', version: 5 }, { type: 'STOP' }],
  curriculum: [{ type: 'STEP_DONE' }, { type: 'MEASURED' }, { type: 'MEASURE_FAILED', error: 'x' }, { type: 'STOP' }],
  evaluator: [{ type: 'EVALUATE', request: { version: 1, budgets: [8] } }, { type: 'STOP' }],
  supervisor: [{ type: 'FAILED', actor: 'a', role: 'sampler', error: 'x' }, { type: 'STOP' }],
};
const INPUTS: Record<string, unknown> = {
  coordinator: { step: 0, maxSteps: 2 },
  sampler: { id: 's' },
  verifier: { id: 'v', attemptsMax: 2 },
  grader: { queueMax: 4 },
  weightStore: { version: 0 },
  curriculum: { measureFirst: true },
  supervisor: { restartsMax: 1, restarts: {} },
};
/** Injected guards to explore both ways (each variant's reachable states are united). */
const GUARDED: Record<string, Record<string, () => boolean>[]> = {
  batcher: [{ batchReady: () => true }, { batchReady: () => false }],
  // (a stage that is done, not the last, and not measured would loop: the owner's stageChanged moves it on)
  curriculum: [
    { measuresStages: () => true, stageDone: () => true, lastStage: () => false },
    { measuresStages: () => false, stageDone: () => false, lastStage: () => false },
    { measuresStages: () => false, stageDone: () => true, lastStage: () => true },
  ],
};
const TRANSIENT: Record<string, string[]> = { curriculum: ['starting'] };

describe('the role table (src/core/roles.ts)', () => {
  it('has one row per machine, an effects module of its own that exists, and the lists read from it', () => {
    expect(Object.keys(ROLE_TABLE).sort()).toEqual(Object.keys(MACHINES).sort());
    const modules = Object.values(ROLE_TABLE).map((row) => row.effects);
    for (const m of modules) expect(existsSync(new URL(`../src/runtime/roles/${m}`, import.meta.url)), m).toBe(true);
    expect(new Set(modules).size).toBe(modules.length); // a role's effects are found by its module's name
    expect(FAULT_ROLES).toEqual(['sampler', 'verifier', 'grader', 'learner']);
    expect(SIM_FAULT_ROLES).toEqual(['sampler', 'verifier', 'learner']);
    expect(REMOTE_ROLES).toEqual(['sampler', 'verifier', 'grader']);
    // a role that recovers by restart is one whose machine takes RESTART
    for (const [role, row] of Object.entries(ROLE_TABLE)) {
      const events: readonly string[] = MACHINES[role as keyof typeof MACHINES].root.events;
      expect(events.includes('RESTART'), `${role} takes RESTART`).toBe(row.recovery === 'restart');
    }
  });

  it("sends only to roles of the table, RESTART only from the supervisor to roles that recover by restart, and docs/ARCHITECTURE.md's table is generated from it", () => {
    for (const [from, row] of Object.entries(ROLE_TABLE) as [string, RoleRow][])
      for (const m of row.sends) {
        expect(Object.keys(ROLE_TABLE), `${from} → ${m.to}`).toContain(m.to);
        if (m.what === 'RESTART') {
          expect(from).toBe('supervisor');
          expect(ROLE_TABLE[m.to as keyof typeof ROLE_TABLE].recovery).toBe('restart');
        }
        if (m.what === 'FAILED') expect(m.to).toBe('supervisor');
      }
    // every role that fails to the supervisor says so (the supervisor restarts or gives up)
    for (const r of FAULT_ROLES) expect(topologyEdges().has(`${r}→supervisor`), r).toBe(true);
    const doc = readFileSync(new URL('../docs/ARCHITECTURE.md', import.meta.url), 'utf8');
    const generated = /<!-- roles:begin[^>]*-->\n([\s\S]*?)<!-- roles:end -->/.exec(doc);
    expect(generated, 'the generated section of docs/ARCHITECTURE.md').not.toBeNull();
    expect(generated![1]).toBe(topologyMarkdown());
  });
});

describe('every machine, by xstate/graph shortest paths', () => {
  for (const [role, machine] of Object.entries(MACHINES)) {
    it(`${role}: every state is reachable, and the failure paths exist`, () => {
      const variants = (GUARDED[role] ?? [null]).map(
        (g) => (g ? machine.provide({ guards: g } as never) : machine) as AnyStateMachine,
      );
      const m = variants[0]!;
      const paths = variants.flatMap((v) =>
        getShortestPaths(v, { input: INPUTS[role], events: [...USER_EVENTS[role]!, ...invokeEvents(v)] as never }),
      );
      const reached = new Set(paths.map((p) => String(p.state.value)));
      const expected = stateNames(m).filter((s) => !(TRANSIENT[role] ?? []).includes(s));
      expect([...reached].sort()).toEqual(expected.sort());
      if (role === 'sampler' || role === 'learner') {
        // failed → restarting → back to work
        const toRestart = paths.find((p) => p.state.value === 'restarting')!;
        expect(toRestart.steps.map((s) => s.event.type)).toContain('RESTART');
      }
    });
  }
});

describe('machines with injected fakes', () => {
  it('sampler: sync → generate → deliver, and a failed generate reports the request, then restarts', async () => {
    const failures: unknown[] = [];
    let fail = false;
    const m = samplerMachine.provide({
      actors: {
        syncWeights: fromPromise(async () => {}),
        generate: fromPromise<Rollouts, { id: string; request: Generate }>(async () => {
          if (fail) throw new Error('worker exited');
          return { type: 'Rollouts' } as Rollouts;
        }),
        deliver: fromPromise(async () => {}),
        restart: fromPromise(async () => {}),
      },
      actions: { reportFailure: (_, p) => failures.push(p), becameIdle: () => {} },
    });
    const a = createActor(m, { input: { id: 's0' } }).start();
    const seen: string[] = [];
    a.subscribe((s) => seen.push(String(s.value)));
    a.send({ type: 'GENERATE', request });
    await waitFor(a, (s) => s.matches('idle') && seen.includes('delivering'));
    expect(seen).toEqual(expect.arrayContaining(['syncingWeights', 'generating', 'delivering', 'idle']));
    fail = true;
    a.send({ type: 'GENERATE', request });
    await waitFor(a, (s) => s.matches('failed'));
    expect(failures).toEqual([{ id: 's0', request, error: 'worker exited' }]);
    a.send({ type: 'RESTART' });
    await waitFor(a, (s) => s.matches('idle'));
    expect(a.getSnapshot().context.request).toBeNull();
  });

  it('learner: a failed train keeps the batch for the retry; snapshot returns to waiting', async () => {
    const failures: { batch: unknown }[] = [];
    const m = learnerMachine.provide({
      actors: {
        train: fromPromise<TrainOutput, { batch: TrainBatch }>(async () => {
          throw new Error('learner exited (code 70)');
        }),
        publish: fromPromise(async () => {}),
        snapshot: fromPromise(async () => {}),
        restart: fromPromise(async () => {}),
      },
      actions: { reportFailure: (_, p) => failures.push(p), ready: () => {} },
    });
    const a = createActor(m).start();
    a.send({ type: 'SNAPSHOT' });
    await waitFor(a, (s) => s.matches('waitingForBatch'));
    const batch: TrainBatch = { type: 'TrainBatch', step: 3, learnerVersion: 2, groups: [] };
    a.send({ type: 'TRAIN', batch });
    await waitFor(a, (s) => s.matches('failed'));
    expect(failures[0]!.batch).toEqual(batch);
    a.send({ type: 'RESTART' });
    await waitFor(a, (s) => s.matches('waitingForBatch'));
  });

  it('verifier: retries up to attemptsMax, then hands the group on as unverified', async () => {
    let calls = 0;
    const delivered: unknown[] = [];
    const m = verifierMachine.provide({
      actors: {
        verify: fromPromise<VerdictMsg[], { id: string; job: VerifyJob; attempt: number }>(async () => {
          calls++;
          throw new Error('timeout');
        }),
        deliver: fromPromise(async ({ input }) => {
          delivered.push((input as { verdicts: unknown }).verdicts);
        }),
      },
      actions: { becameIdle: () => {}, reportFailure: () => {} },
    });
    const a = createActor(m, { input: { id: 'v', attemptsMax: 3 } }).start();
    a.send({ type: 'VERIFY', job: { jobId: 'j', step: 1, problemId: 'p', rollouts: [] } });
    await waitFor(a, (s) => s.matches('idle') && delivered.length === 1, { timeout: 2000 });
    expect(calls).toBe(3);
    expect(delivered).toEqual([null]);
  });

  it('an error inside a delivery or a batch dispatch (a bug, not a fault) ends in broken and aborts, naming it', async () => {
    const boom = fromPromise(async () => {
      throw new Error('invariant broke');
    }) as never;
    const broken: string[] = [];
    const onBroken = (_: unknown, p: { error: string }) => void broken.push(p.error);
    const b = createActor(
      batcherMachine.provide({
        actors: { dispatch: boom },
        actions: { broken: onBroken },
        guards: { batchReady: () => true },
      }),
    ).start();
    b.send({ type: 'LEARNER_READY' });
    await waitFor(b, (s) => s.matches('broken'), { timeout: 2000 });
    const g = createActor(
      graderMachine.provide({
        actors: { grade: fromPromise(async () => ({}) as ScoredGroup), deliver: boom },
        actions: { overflow: () => {}, reportFailure: () => {}, broken: onBroken },
      }),
      { input: { queueMax: 2 } },
    ).start();
    g.send({ type: 'GRADE', job: { job: { jobId: 'j', step: 1, problemId: 'p', rollouts: [] }, verdicts: [] } });
    await waitFor(g, (s) => s.matches('broken'), { timeout: 2000 });
    const v = createActor(
      verifierMachine.provide({
        actors: { verify: fromPromise(async () => [] as VerdictMsg[]), deliver: boom },
        actions: { becameIdle: () => {}, reportFailure: () => {}, broken: onBroken },
      }),
      { input: { id: 'v', attemptsMax: 1 } },
    ).start();
    v.send({ type: 'VERIFY', job: { jobId: 'j', step: 1, problemId: 'p', rollouts: [] } });
    await waitFor(v, (s) => s.matches('broken'), { timeout: 2000 });
    expect(broken).toEqual(['dispatch: invariant broke', 'deliver: invariant broke', 'deliver: invariant broke']);
  });

  it('supervisor: restarts within the budget, gives up past it', () => {
    const restarted: string[] = [];
    const gaveUp: string[] = [];
    const a = createActor(
      supervisorMachine.provide({
        actions: {
          restart: (_, f) => restarted.push(f.actor),
          giveUp: (_, f) => gaveUp.push(`${f.actor}:${f.restarts}`),
        },
      }),
      { input: { restartsMax: 2, restarts: {} } },
    ).start();
    for (let i = 0; i < 3; i++) a.send({ type: 'FAILED', actor: 's0', role: 'sampler', error: 'x' });
    expect(restarted).toEqual(['s0', 's0']);
    expect(gaveUp).toEqual(['s0:2']);
    expect(a.getSnapshot().value).toBe('gaveUp');
  });

  it.each([
    [0, [2, 4, 5]],
    // resumed from an interrupt's checkpoint at step 1: the multiples of 2, as an uninterrupted run
    // (counting 2 from the resume gave 3 and 5), then the end
    [1, [2, 4, 5]],
  ])('coordinator: from step %i, checkpoints at every multiple of N and at the end, then stops', async (from, want) => {
    const checkpoints: number[] = [];
    const a = createActor(
      coordinatorMachine.provide({
        actors: {
          start: fromPromise(async () => {}),
          checkpoint: fromPromise(async ({ input }) => {
            checkpoints.push((input as { step: number }).step);
          }),
          stop: fromPromise(async () => {}),
        },
      }),
      { input: { step: from, maxSteps: 5 } },
    ).start();
    await waitFor(a, (s) => s.matches('running'));
    // the topology's step decides (core/topology `published` → stepDone), as roles/learner.ts sends it
    const learning = publishing({ maxSteps: 5, checkpointEvery: 2 }, from);
    for (let k = from + 1; k <= 5; k++) {
      const done = stepLearning(learning, { type: 'published', version: k, passRate: 0 }).find(
        (e) => e.type === 'stepDone',
      )!;
      a.send({ type: 'STEP_DONE', step: k, checkpoint: done.checkpoint || done.last });
      await waitFor(a, (s) => s.matches('running') || s.status === 'done');
    }
    await waitFor(a, (s) => s.status === 'done');
    expect(checkpoints).toEqual(want);
    expect(a.getSnapshot().value).toBe('done');
  });

  it('coordinator: an interrupt while starting checkpoints and stops once the topology is up', async () => {
    const checkpoints: number[] = [];
    let started!: () => void;
    const a = createActor(
      coordinatorMachine.provide({
        actors: {
          start: fromPromise(() => new Promise<void>((r) => (started = r))),
          checkpoint: fromPromise(async ({ input }) => {
            checkpoints.push((input as { step: number }).step);
          }),
          stop: fromPromise(async () => {}),
        },
      }),
      { input: { step: 0, maxSteps: 5 } },
    ).start();
    a.send({ type: 'INTERRUPT' });
    expect(a.getSnapshot().value).toBe('starting');
    started();
    await waitFor(a, (s) => s.status === 'done', { timeout: 2000 });
    expect(checkpoints).toEqual([0]);
    expect(a.getSnapshot().value).toBe('done');
    expect(a.getSnapshot().context.interrupted).toBe(true);
  });

  /** A stand-in for the stage state's owner (curriculum/controller.ts), driving the machine's guards. */
  function stageOwner(stageSteps: number[]) {
    const st = { stage: 0, steps: 0, changes: [] as number[] };
    return {
      st,
      stepDone: () => st.steps++,
      guards: {
        stageDone: () => st.steps >= stageSteps[st.stage]!,
        lastStage: () => st.stage >= stageSteps.length - 1,
      },
      stageChanged: () => {
        st.stage++;
        st.steps = 0;
        st.changes.push(st.stage);
      },
    };
  }

  it('curriculum (coupled): measures at each stage start, then runs until the owner says the stage is done', () => {
    const measured: number[] = [];
    const owner = stageOwner([2, 2]);
    const a = createActor(
      curriculumMachine.provide({
        actions: { measure: () => measured.push(owner.st.stage), stageChanged: owner.stageChanged },
        guards: { ...owner.guards, measuresStages: () => true },
      }),
      { input: { measureFirst: true } },
    );
    const seen: string[] = [];
    a.subscribe((s) => seen.push(String(s.value)));
    a.start();
    expect(a.getSnapshot().value).toBe('measuring');
    expect(measured).toEqual([0]);
    owner.stepDone();
    a.send({ type: 'STEP_DONE' }); // a step of the old stage published while measuring: decided after
    expect(a.getSnapshot().value).toBe('measuring');
    a.send({ type: 'MEASURED' });
    expect(a.getSnapshot().value).toBe('running'); // one step of two
    owner.stepDone();
    a.send({ type: 'STEP_DONE' });
    expect(owner.st.changes).toEqual([1]);
    expect(a.getSnapshot().value).toBe('measuring');
    expect(measured).toEqual([0, 1]);
    a.send({ type: 'MEASURED' });
    owner.stepDone();
    owner.stepDone();
    a.send({ type: 'STEP_DONE' });
    expect(a.getSnapshot().value).toBe('finished');
    expect(seen).toEqual(['measuring', 'measuring', 'running', 'measuring', 'running', 'finished']);
  });

  it('curriculum: a failed measurement ends in failed with its error reported', () => {
    const reported: string[] = [];
    const a = createActor(
      curriculumMachine.provide({
        actions: { measure: () => {}, stageChanged: () => {}, reportFailure: (_, p) => reported.push(p.error) },
        guards: { stageDone: () => false, lastStage: () => false, measuresStages: () => true },
      }),
      { input: { measureFirst: true } },
    ).start();
    a.send({ type: 'MEASURE_FAILED', error: 'thread died' });
    expect(a.getSnapshot().value).toBe('failed');
    expect(reported).toEqual(['thread died']);
  });

  it('curriculum: advances through the stage list and announces each stage; it keeps no stage counters', () => {
    const owner = stageOwner([2, 1]);
    const curriculum = curriculumMachine.provide({
      actions: { stageChanged: owner.stageChanged },
      guards: { ...owner.guards, measuresStages: () => false },
    });
    const a = createActor(curriculum, { input: {} }).start();
    owner.stepDone();
    a.send({ type: 'STEP_DONE' });
    expect(owner.st.changes).toEqual([]);
    owner.stepDone();
    a.send({ type: 'STEP_DONE' });
    expect(owner.st.changes).toEqual([1]);
    owner.stepDone();
    a.send({ type: 'STEP_DONE' });
    expect(a.getSnapshot().value).toBe('finished');
    expect(Object.keys(a.getSnapshot().context).sort()).toEqual(['error', 'measureFirst']);
  });

  it('an action or guard nobody provided throws instead of doing nothing (grader overflow)', () => {
    const a = createActor(graderMachine, { input: { queueMax: 0 } });
    const errors: unknown[] = [];
    a.subscribe({ error: (e) => errors.push(e) });
    a.start();
    a.send({ type: 'GRADE', job: { job: { jobId: 'j', step: 1, problemId: 'p', rollouts: [] }, verdicts: null } });
    expect(String(errors[0])).toMatch(/grader: action 'overflow' was not provided/);
    const b = createActor(batcherMachine);
    const bErrors: unknown[] = [];
    b.subscribe({ error: (e) => bErrors.push(e) });
    b.start();
    b.send({ type: 'LEARNER_READY' });
    expect(String(bErrors[0])).toMatch(/batcher: guard 'batchReady' was not provided/);
  });
});
