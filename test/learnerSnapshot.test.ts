/**
 * A checkpoint's wait for the learner's snapshot (src/runtime/roles/lifecycle.ts learnerSnapshot),
 * on the real learner machine: a snapshot that fails, with the supervisor restarting the learner
 * at once, ends the wait with the error. (The wait used to poll for `failed` every 5 ms: the
 * restart took the learner through `failed` in one go, back to `waitingForBatch` without a
 * snapshot, and the checkpoint waited for ever with the run paused.)
 */
import { createActor, fromPromise } from 'xstate';
import { describe, expect, it } from 'vitest';
import { learnerMachine } from '../machines/index.js';
import { learnerSnapshot } from '../src/runtime/roles/lifecycle.js';

function learner(snapshot: () => Promise<void>) {
  const states: string[] = [];
  const actor = createActor(
    learnerMachine.provide({
      actors: { snapshot: fromPromise(snapshot), restart: fromPromise(async () => {}) },
      // the supervisor's part: a failed learner is restarted at once
      actions: { ready: () => {}, reportFailure: () => actor.send({ type: 'RESTART' }) },
    }),
  );
  actor.subscribe((s) => states.push(JSON.stringify(s.value)));
  actor.start();
  return { actor, states };
}
const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)),
  ]);

describe("a checkpoint's wait for the learner's snapshot", () => {
  it('resolves with the snapshot the learner took', async () => {
    let taken: { version: number } | null = null;
    const { actor } = learner(async () => {
      taken = { version: 3 };
    });
    await expect(
      within(
        learnerSnapshot(actor, () => taken),
        1_000,
      ),
    ).resolves.toEqual({ version: 3 });
    expect(actor.getSnapshot().value).toBe('waitingForBatch');
  });

  it('rejects, naming the error, when the snapshot fails and the learner is restarted at once', async () => {
    const { actor, states } = learner(async () => {
      throw new Error('learner thread exited');
    });
    await expect(
      within(
        learnerSnapshot(actor, () => null),
        1_000,
      ),
    ).rejects.toThrow(/the learner left snapshotting for "failed" without a snapshot \(learner thread exited\)/);
    // the learner went through failed and restarting and is back, as the supervisor wants
    await within(
      new Promise<void>((r) => {
        const check = () => (actor.getSnapshot().value === 'waitingForBatch' ? r() : setTimeout(check, 1));
        check();
      }),
      1_000,
    );
    expect(states).toEqual(['"waitingForBatch"', '"snapshotting"', '"failed"', '"restarting"', '"waitingForBatch"']);
  });

  it('rejects when the learner is not between steps', async () => {
    const { actor } = learner(async () => {});
    actor.send({ type: 'STOP' });
    await expect(
      within(
        learnerSnapshot(actor, () => null),
        1_000,
      ),
    ).rejects.toThrow(/cannot take a snapshot in "stopped"/);
  });
});
