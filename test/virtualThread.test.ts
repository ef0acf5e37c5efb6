/**
 * The virtual clock's thread (sim/runThread.ts) is kept between runs — a scenario's cells run one
 * after another in it: a reused thread gives the bytes of a fresh one and of a run on this thread,
 * and a thread whose run failed or was killed is never handed another run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runVirtual, defaultSettings } from '../src/sim/run.js';
import { runVirtualThread } from '../src/sim/runThread.js';
import { freshDir, jitteryProfile, simConfig } from './helpers/sim.js';

const config = () =>
  simConfig({
    staleness: { policy: 'async', eta: 1 },
    curriculum: { stages: [{ difficulty: 3, budgetTokens: 24, steps: 3 }] },
  });
const settings = () => defaultSettings(jitteryProfile(), 3, { compute: 'real' });
const metrics = (dir: string) => fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8');

describe('the virtual clock thread, kept between runs', () => {
  it('a second run reuses the thread and gives the bytes of the first and of a run on this thread', async () => {
    const a = freshDir('thread-a');
    const b = freshDir('thread-b');
    const first = runVirtualThread({ config: config(), settings: settings(), dir: a, resume: false });
    const ra = await first.result;
    const second = runVirtualThread({ config: config(), settings: settings(), dir: b, resume: false });
    const rb = await second.result;
    expect(ra.status).toBe('done');
    expect(second.threadId).toBe(first.threadId);
    expect(rb.summary.weightsSha256).toBe(ra.summary.weightsSha256);
    expect(metrics(b)).toBe(metrics(a));
    const c = freshDir('thread-here');
    const here = await runVirtual({ config: config(), settings: settings(), dir: c, resume: false });
    expect(here.summary.weightsSha256).toBe(ra.summary.weightsSha256);
    expect(metrics(c)).toBe(metrics(a));
  }, 120_000);

  it('a thread whose run failed, or that was killed, is ended: the next run gets a new one', async () => {
    const ok = runVirtualThread({ config: config(), settings: settings(), dir: freshDir('t-ok'), resume: false });
    await ok.result;
    const bad = config();
    bad.model.checkpoint = '/nonexistent/checkpoint';
    const failed = runVirtualThread({ config: bad, settings: settings(), dir: freshDir('t-bad'), resume: false });
    expect(failed.threadId).toBe(ok.threadId);
    await expect(failed.result).rejects.toThrow(/nonexistent/);
    const next = runVirtualThread({ config: config(), settings: settings(), dir: freshDir('t-next'), resume: false });
    expect(next.threadId).not.toBe(failed.threadId);
    await next.kill();
    await expect(next.result).rejects.toThrow(/exited/);
    const after = runVirtualThread({ config: config(), settings: settings(), dir: freshDir('t-after'), resume: false });
    expect(after.threadId).not.toBe(next.threadId);
    expect((await after.result).status).toBe('done');
  }, 120_000);
});
