/**
 * The virtual clock (src/sim): byte-identical replay from a seed (with faults, across a halt and
 * resume), closed forms for throughput and staleness, invariant checks that catch a planted
 * violation, fault plans, and the real tiny GPT on it (wasm; cpu in sim.cpu.test.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventQueue } from '../src/sim/queue.js';
import { SimEngine, SimInvariantError } from '../src/sim/engine.js';
import { parseProfile } from '../src/sim/profile.js';
import { faultsFromSpecs, type SimFaultInput } from '../src/core/faults.js';
import { SurrogateCompute, SurrogateSchema, type Compute } from '../src/sim/compute.js';
import { defaultSettings, runVirtual } from '../src/sim/run.js';
import { normalQuantile } from '../src/util/normal.js';
import { Rng } from '../src/util/rng.js';
import { thousandthsText } from '../src/util/decimal.js';
import { idleCount, initialState, takeIdle } from '../src/sim/state.js';
import { fixedProfile, freshDir, jitteryProfile, simConfig, simRun } from './helpers/sim.js';
import { MACHINES } from '../machines/index.js';

interface NodeLike {
  key: string;
  transitions?: Map<string, { target?: NodeLike[] }[]>;
  always?: { target?: NodeLike[] }[];
  states?: Record<string, NodeLike>;
}

/** Every (from, event → to) edge of a machine: `on`, invoke done/error and `after` transitions, `always`. */
function machineEdges(root: NodeLike): Set<string> {
  const edges = new Set<string>();
  const visit = (n: NodeLike) => {
    for (const [event, defs] of n.transitions?.entries() ?? [])
      for (const d of defs) for (const t of d.target ?? []) edges.add(`${n.key} -${event}-> ${t.key}`);
    for (const d of n.always ?? []) for (const t of d.target ?? []) edges.add(`${n.key} -always-> ${t.key}`);
    for (const c of Object.values(n.states ?? {})) visit(c);
  };
  visit(root);
  return edges;
}

type Summary = Record<string, unknown> & {
  staleness: { mean: number; max: number; histogram: number[] };
  utilisation: Record<string, number>;
};

describe('event queue', () => {
  it('pops by time, then by scheduling order, and survives a JSON round trip', () => {
    const q = new EventQueue();
    const times = [5, 1, 3, 1, 5, 0, 3, 2];
    // the actor index names each event; one kind with a payload survives the round trip too
    times.forEach((t, i) => q.add(t, 'fault', i, 0, { index: 10 * i }));
    const first = [q.pop()!, q.pop()!, q.pop()!].map((e) => e.actor);
    expect(first).toEqual([5, 1, 3]);
    const copy = EventQueue.fromJSON(JSON.parse(JSON.stringify(q.toJSON())));
    copy.add(3, 'trained', 99, 0);
    q.add(3, 'trained', 99, 0);
    const rest = (x: EventQueue) =>
      Array.from({ length: x.size }, () => {
        const e = x.pop()!;
        return e.kind === 'fault' ? `${e.actor}:${e.data.index}` : `${e.actor}:${e.kind}`;
      });
    expect(rest(copy)).toEqual(['7:70', '2:20', '6:60', '99:trained', '0:0', '4:40']);
    expect(rest(q)).toEqual(['7:70', '2:20', '6:60', '99:trained', '0:0', '4:40']);
  });

  it('pops thousands of interleaved events in (time, scheduling order), past its first capacity', () => {
    // the heap's sift paths (ties, a node with one child, growth) against a sort
    const q = new EventQueue();
    const rng = Rng.fromInts(7, 1, 2, 3);
    const pending: { t: number; seq: number }[] = [];
    const popped: number[] = [];
    const expected: number[] = [];
    let seq = 0,
      now = 0,
      most = 0;
    for (let round = 0; round < 40; round++) {
      // a burst of adds (times on a coarse grid, so ties are common), then some pops
      const adds = 1 + Math.floor(rng.float() * 300);
      for (let i = 0; i < adds; i++) {
        const t = now + Math.floor(rng.float() * 50) / 4;
        q.add(t, 'fault', seq, 0, { index: seq });
        pending.push({ t, seq: seq++ });
      }
      most = Math.max(most, q.size);
      const pops = Math.floor((rng.float() * (pending.length + 1)) / 2);
      pending.sort((a, b) => a.t - b.t || a.seq - b.seq);
      for (const e of pending.splice(0, pops)) expected.push(e.seq);
      for (let i = 0; i < pops; i++) {
        const e = q.pop()!;
        popped.push(e.actor);
        now = e.t;
        q.release(e);
      }
    }
    expect(most).toBeGreaterThan(1024); // past the first capacity: the key arrays grew
    pending.sort((a, b) => a.t - b.t || a.seq - b.seq);
    for (const e of pending) expected.push(e.seq);
    while (q.size > 0) popped.push(q.pop()!.actor);
    expect(popped).toEqual(expected);
  });

  it('hands out idle samplers in the order they became idle, its array kept within twice the idle count', () => {
    const s = initialState(simConfig({ topology: { samplers: 300, verifierThreads: 1 } }));
    const reference = s.idle.slice();
    const rng = Rng.fromInts(11, 0, 0, 0);
    let longest = 0;
    for (let round = 0; round < 200; round++) {
      const take = Math.floor(rng.float() * (idleCount(s) + 1));
      for (let k = 0; k < take; k++) expect(takeIdle(s)).toBe(reference.shift());
      const back = Math.floor(rng.float() * 120);
      for (let k = 0; k < back; k++) {
        const i = Math.floor(rng.float() * 300);
        s.idle.push(i);
        reference.push(i);
      }
      expect(idleCount(s)).toBe(reference.length);
      longest = Math.max(longest, s.idle.length);
      expect(s.idle.length).toBeLessThanOrEqual(Math.max(2 * idleCount(s), 64 + idleCount(s)));
    }
    expect(longest).toBeGreaterThan(300); // the list grew past its start and was cut back
    while (idleCount(s) > 0) takeIdle(s);
    expect(() => takeIdle(s)).toThrow(/no sampler is idle/);
    expect(idleCount(s)).toBe(0);
  });

  it("writes a transition's time as JavaScript prints k / 1000, over a million values of every size", () => {
    const rng = Rng.fromInts(3, 1, 4, 1);
    const edges = [0, 1, 5, 9, 10, 50, 99, 100, 101, 110, 500, 999, 1000, 1001, 1010, 1100, 123_456_789];
    const ks = [...edges, 2 ** 43 * 1000 - 1, 8e15 - 1, 8e15, 8e15 + 7, 2 ** 53 - 1];
    for (let i = 0; i < 1_000_000; i++) {
      // k in µs of simulated time (the line's t is k / 1000 ms), from 1 µs to 10¹⁶ (317 years)
      const digits = 1 + Math.floor(rng.float() * 16);
      ks.push(Math.floor(rng.float() * 10 ** digits));
    }
    const wrong = ks.filter((k) => thousandthsText(k) !== String(k / 1000));
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  it('normal quantiles match known values', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 5);
  });
});

const none = {
  compute: 'none' as const,
  surrogate: SurrogateSchema.parse({ lengthMedian: 20, lengthSigma: 0.6, tailFraction: 0.1, tailFactor: 4 }),
};
const stormy: SimFaultInput[] = [
  { kind: 'crash', actor: 'sampler-1', at: { time: 0.3 } },
  { kind: 'hang', actor: 'verifier', at: { step: 3 } },
  { kind: 'crash', actor: 'learner', at: { step: 5 } },
  { kind: 'delay-publication', version: 2, by: 0.5 },
  { kind: 'drop-publication', version: 4, retryAfter: 0.25 },
  { kind: 'stall', actor: 'graders', at: { time: 0.8 }, for: 0.4 },
  { kind: 'slow', actor: 'sampler-0', factor: 3, at: { time: 0.1 }, for: 1 },
  {
    kind: 'storm',
    rate: 2,
    kinds: ['crash', 'hang', 'slow'],
    roles: ['sampler', 'verifier', 'learner'],
    until: 6,
    slowFor: 0.5,
  },
];
const asyncCfg = (seed = 0) =>
  simConfig({
    seed,
    staleness: { policy: 'async', eta: 2 },
    topology: { samplers: 3, verifierThreads: 2 },
    rollout: { problemsPerStep: 4, groupSize: 4, problemsPerRequest: 1 },
    curriculum: { stages: [{ difficulty: 3, budgetTokens: 64, steps: 12 }] },
    checkpoint: { every: 4, keep: 3 },
    limits: { samplerTimeoutMs: 2000, verifierTimeoutMs: 1000, learnerTimeoutMs: 3000, restartsMax: 100 },
  });

describe('virtual clock, compute: none', () => {
  it('replays byte for byte from a seed, faults and storms included; another seed gives another schedule', async () => {
    const settings = { ...none, profile: jitteryProfile(), maxSteps: 12, faults: stormy };
    const a = await simRun(asyncCfg(), settings);
    const b = await simRun(asyncCfg(), settings);
    const c = await simRun(asyncCfg(1), settings);
    expect(a.status).toBe('done');
    expect(a.metrics.length).toBeGreaterThan(0);
    expect(a.transitions.split('\n').length).toBeGreaterThan(100);
    expect(b.metrics).toBe(a.metrics);
    expect(b.transitions).toBe(a.transitions);
    expect(c.metrics).not.toBe(a.metrics);
    expect(c.transitions).not.toBe(a.transitions);
    const s = a.summary as Summary;
    expect((s.faultsFired as string[]).length).toBeGreaterThan(8);
    expect(s.restarts as number).toBeGreaterThan(0);
    expect(s.rolloutsLost).toBe(0);
    expect(s.rolloutsGenerated).toBe(12 * 4 * 4);
    expect(s.staleness.max).toBeLessThanOrEqual(2);
    expect(s.invariantChecks).toBe(s.events);
  });

  it("every state change it records is an edge of that role's xstate machine (machines/), on the machine's event", async () => {
    const r = await simRun(asyncCfg(3), { ...none, profile: jitteryProfile(), maxSteps: 12, faults: stormy });
    const lines = r.transitions
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { role: string; from: string | null; to: string; event: string });
    const roles = new Set(lines.map((l) => l.role));
    expect([...roles].sort()).toEqual(['curriculum', 'learner', 'sampler', 'verifier']);
    const seen = new Set<string>();
    for (const role of roles) {
      const m = (MACHINES as unknown as Record<string, { root: NodeLike; config: { initial?: string } }>)[role]!;
      const edges = machineEdges(m.root);
      for (const l of lines.filter((x) => x.role === role)) {
        // (a first state is the machine's initial one, or where its transient initial state goes at once)
        // the event too: both clocks write the machine's own (steps/restarts machineEventType on this one)
        if (l.from === null)
          expect(
            l.event === 'xstate.init' &&
              (l.to === m.config.initial || edges.has(`${m.config.initial} -always-> ${l.to}`)),
            `${role} starts in ${l.to} (${l.event})`,
          ).toBe(true);
        // (or an eventless edge the same macrostep took: the curriculum's running → finished after a STEP_DONE)
        else
          expect(
            edges.has(`${l.from} -${l.event}-> ${l.to}`) || edges.has(`${l.from} -always-> ${l.to}`),
            `${role}: ${l.from} -${l.event}-> ${l.to}`,
          ).toBe(true);
        seen.add(`${role}:${l.from}->${l.to}`);
      }
    }
    // The storm exercised the failure paths, not just the happy ones.
    for (const e of [
      'sampler:generating->failed',
      'sampler:restarting->idle',
      'verifier:failed->verifying',
      'learner:restarting->waitingForBatch',
    ])
      expect(seen.has(e), e).toBe(true);
  });

  it('a run halted at a checkpoint and resumed writes exactly what the uninterrupted run writes', async () => {
    const settings = { ...none, profile: jitteryProfile(), maxSteps: 12, faults: stormy };
    const full = await simRun(asyncCfg(), settings);
    const dir = freshDir('halted');
    const halted = await simRun(asyncCfg(), settings, { dir, halt: true });
    expect(halted.status).toBe('halted');
    expect(halted.summary.steps).toBe(4);
    expect(fs.readFileSync(path.join(dir, 'checkpoints', 'latest'), 'utf8').trim()).toBe('step-4');
    // the same checkpoint as an older version wrote it: the topology's fields loose on the state,
    const older = freshDir('halted-older');
    fs.cpSync(dir, older, { recursive: true });
    const file = path.join(older, 'checkpoints', 'step-4', 'sim-state.json');
    const body = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(body.state.topo.planned.length + body.state.topo.reissue.length).toBeGreaterThan(0); // work in flight
    Object.assign(body.state, body.state.topo);
    delete body.state.topo;
    // and from before idle samplers were taken by index: the idle list holds only those waiting
    body.state.idle = body.state.idle.slice(body.state.idleHead);
    delete body.state.idleHead;
    fs.writeFileSync(file, JSON.stringify(body));
    // a checkpoint whose topology disagrees with its learner's record (the last step formed) fails at its first event
    const drifted = freshDir('halted-drifted');
    fs.cpSync(dir, drifted, { recursive: true });
    const dfile = path.join(drifted, 'checkpoints', 'step-4', 'sim-state.json');
    const dbody = JSON.parse(fs.readFileSync(dfile, 'utf8'));
    dbody.state.topo.formedThrough += 1;
    fs.writeFileSync(dfile, JSON.stringify(dbody));
    const err = await simRun(asyncCfg(), settings, { dir: drifted, resume: true }).catch((e) => e);
    expect(err).toBeInstanceOf(SimInvariantError);
    expect(err.message).toMatch(/the topology has steps formed through \d+, the learner \d+/);
    for (const d of [dir, older]) {
      const resumed = await simRun(asyncCfg(), settings, { dir: d, resume: true });
      expect(resumed.status).toBe('done');
      expect(resumed.metrics).toBe(full.metrics);
      expect(resumed.transitions).toBe(full.transitions);
      expect(resumed.summary.events).toBe(full.summary.events);
      expect(resumed.summary.invariantChecks).toBe(full.summary.invariantChecks);
    }
    // A run with no checkpoint yet (3 steps, none due before step 4, the last not checkpointed)
    // resumed to 12 starts over, as the real clock does: the bytes of the uninterrupted run.
    const short = freshDir('no-checkpoint');
    expect((await simRun(asyncCfg(), { ...settings, maxSteps: 3 }, { dir: short })).summary.steps).toBe(3);
    expect(fs.existsSync(path.join(short, 'checkpoints', 'latest'))).toBe(false);
    const over = await simRun(asyncCfg(), settings, { dir: short, resume: true });
    expect(over.summary.steps).toBe(12);
    expect(over.metrics).toBe(full.metrics);
    expect(over.transitions).toBe(full.transitions);
  });

  it('checkpoints do not grow with run length: step 10 of a 20-step run and step 200 of a 210-step run within 10% (issue #30)', async () => {
    // The ledger holds the steps not yet trained (core/ledger.ts); it used to hold one byte per
    // rollout of the whole run from the start, so a longer run's checkpoints were larger at every step.
    const size = async (steps: number, at: number) => {
      const cfg = simConfig({
        staleness: { policy: 'async', eta: 2 },
        topology: { samplers: 3, verifierThreads: 2 },
        rollout: { problemsPerStep: 4, groupSize: 4, problemsPerRequest: 1 },
        curriculum: { stages: [{ difficulty: 3, budgetTokens: 64, steps }] },
        checkpoint: { every: 10, keep: 2 },
      });
      const r = await simRun(cfg, { ...none, profile: jitteryProfile(), maxSteps: steps }, { dir: freshDir('size') });
      expect(r.status).toBe('done');
      return fs.statSync(path.join(r.dir!, 'checkpoints', `step-${at}`, 'sim-state.json')).size;
    };
    const early = await size(20, 10);
    const late = await size(210, 200);
    expect(Math.abs(late - early) / early, `${early} vs ${late} bytes`).toBeLessThan(0.1);
  });

  it("learner-bound async: throughput and staleness are Little's law's (L = λW with the queue full)", async () => {
    // Samplers plentiful, verification and transfers free, a request takes 1 s, a step 2 s; the
    // queue holds Q = m·P groups. Steady state: λ = P/D_l groups/s, L = Q, so W = L/λ = m·D_l and
    // a group waits m publications: staleness m. Steps 1..m start at v0 (lags 0..m−1).
    const P = 4,
      m = 3,
      K = 20,
      Dg = 1,
      Dl = 2;
    const cfg = simConfig({
      staleness: { policy: 'async', eta: 'inf' },
      topology: { samplers: 64, verifierThreads: 4 },
      rollout: { problemsPerStep: P, groupSize: 2, problemsPerRequest: 1 },
      curriculum: { stages: [{ difficulty: 3, budgetTokens: 16, steps: K }] },
      limits: { queueGroupsMax: m * P },
    });
    const r = await simRun(cfg, { ...none, profile: fixedProfile(Dg, Dl), maxSteps: K }, { dir: null });
    const s = r.summary as Summary;
    expect(s.simSeconds).toBeCloseTo(Dg + K * Dl, 9);
    expect(s.utilisation.learner).toBeCloseTo((K * Dl) / (Dg + K * Dl), 9);
    const expected = ((m * (m - 1)) / 2 + (K - m) * m) / K;
    expect(s.staleness.mean).toBeCloseTo(expected, 9);
    expect(s.staleness.max).toBe(m);
    expect(s.staleness.histogram).toEqual([P * 2, P * 2, P * 2, (K - m) * P * 2]);
  });

  it('sampler-bound sync: each step costs ⌈P/N⌉ generations plus one training step', async () => {
    const P = 5,
      N = 2,
      K = 6,
      Dg = 1.5,
      Dl = 0.25;
    const cfg = simConfig({
      topology: { samplers: N, verifierThreads: 1 },
      rollout: { problemsPerStep: P, groupSize: 2, problemsPerRequest: 1 },
      curriculum: { stages: [{ difficulty: 3, budgetTokens: 16, steps: K }] },
    });
    const r = await simRun(cfg, { ...none, profile: fixedProfile(Dg, Dl), maxSteps: K }, { dir: null });
    const s = r.summary as Summary;
    expect(s.simSeconds).toBeCloseTo(K * (Math.ceil(P / N) * Dg + Dl), 9);
    expect(s.utilisation.samplers).toBeCloseTo((K * P * Dg) / (N * (s.simSeconds as number)), 9);
    expect(s.staleness.max).toBe(0);
  });

  it('a planted double delivery is caught at its event and names the seed', async () => {
    const settings = { ...none, profile: jitteryProfile(), maxSteps: 12, faults: [] };
    const err = await simRun(asyncCfg(7), settings, { dir: null, plant: 40 }).catch((e) => e);
    expect(err).toBeInstanceOf(SimInvariantError);
    expect(err.event).toBe(40);
    expect(err.seed).toBe(7);
    expect(err.message).toMatch(/event #40 .*seed 7\).*generated twice/);
  });

  it('in-flight updates swap weights mid-generation; drop discards what is past its lag', async () => {
    const base = {
      rollout: { problemsPerStep: 4, groupSize: 4, problemsPerRequest: 2 },
      topology: { samplers: 2, verifierThreads: 1 },
      curriculum: { stages: [{ difficulty: 3, budgetTokens: 256, steps: 10 }] },
    };
    const surrogate = SurrogateSchema.parse({ lengthMedian: 120, lengthSigma: 0.5 });
    const inflight = await simRun(
      simConfig({ ...base, staleness: { policy: 'inflight', eta: 2 } }),
      { compute: 'none', surrogate, profile: jitteryProfile(), maxSteps: 10 },
      { dir: null },
    );
    expect(inflight.summary.inflightSwaps as number).toBeGreaterThan(0);
    expect((inflight.summary as Summary).staleness.max).toBeLessThanOrEqual(2);
    const drop = await simRun(
      simConfig({
        ...base,
        staleness: { policy: 'async', eta: 3 },
        learner: { correction: { kind: 'drop', maxLag: 0 } },
      }),
      { compute: 'none', surrogate, profile: jitteryProfile(), maxSteps: 10 },
      { dir: null },
    );
    const d = drop.summary as Summary;
    expect(d.rolloutsDroppedStale as number).toBeGreaterThan(0);
    expect(d.rolloutsDroppedStale).toBe(d.staleness.histogram.slice(1).reduce((a, b) => a + b, 0));
    expect((d.rolloutsTrained as number) + (d.rolloutsDroppedStale as number)).toBe(d.rolloutsGenerated);
  });

  it('accounts a step when its update is applied, as the real clock does at publish (ARCHITECTURE "One definition each", 5)', async () => {
    // async η 2 with a drop correction: batches hold trained and dropped-stale rollouts
    let engine: SimEngine | undefined;
    const seen: { trained: number; pending: number; batchTrained: number; batchSize: number }[] = [];
    const r = await runVirtual({
      config: simConfig({
        staleness: { policy: 'async', eta: 2 },
        topology: { samplers: 3, verifierThreads: 1 },
        rollout: { problemsPerStep: 4, groupSize: 4, problemsPerRequest: 1 },
        curriculum: { stages: [{ difficulty: 3, budgetTokens: 64, steps: 10 }] },
        learner: { correction: { kind: 'drop', maxLag: 0 } },
      }),
      settings: defaultSettings(jitteryProfile(), 10, none),
      dir: null,
      onEngine: (e) => {
        engine = e;
      },
      wrapCompute: (c) =>
        new Proxy(c, {
          get(target, prop, recv) {
            const v = Reflect.get(target, prop, recv);
            if (prop !== 'train' || typeof v !== 'function') return typeof v === 'function' ? v.bind(target) : v;
            return (input: Parameters<Compute['train']>[0]) => {
              const s = engine!.s;
              seen.push({
                trained: s.counts.trained,
                pending: s.counts.pending,
                batchTrained: input.groups.reduce((a, g) => a + g.trained.filter(Boolean).length, 0),
                batchSize: input.groups.reduce((a, g) => a + g.trained.length, 0),
              });
              return v.apply(target, [input]);
            };
          },
        }),
    });
    expect(r.status).toBe('done');
    expect(seen).toHaveLength(10);
    expect(r.summary.rolloutsDroppedStale as number).toBeGreaterThan(0);
    let before = 0;
    for (const x of seen) {
      // the batch being trained is not yet in the ledger: the counts hold the earlier updates only
      expect(x.trained).toBe(before);
      expect(x.pending).toBeGreaterThanOrEqual(x.batchSize);
      before += x.batchTrained;
    }
    expect(r.summary.rolloutsTrained).toBe(before);
  });

  it('an in-flight update applies from the first position decoded after the weights arrive', async () => {
    // A request: prefill 1 s, then 1 s per position, 10 positions. Step 1 runs 0–11 s, trains
    // 11–13 s, v1 lands at 13 s; step 2 (admitted at v0, η = 1) started at 11 s, so at 13 s
    // positions 0 and 1 have their logits: v1 applies from position 2.
    const profile = parseProfile(
      {
        name: 'steps',
        sampler: { prefillFixedS: 1, prefillPerTokenS: 0, decodeStepFixedS: 1, decodeStepPerRowS: 0 },
        verifier: { perRolloutS: 0 },
        learner: { fixedS: 2, perTokenS: 0 },
        weights: { bytes: 1, latencyS: 0, bandwidthBytesPerS: 1e12 },
      },
      'steps profile',
    );
    const cfg = simConfig({
      staleness: { policy: 'inflight', eta: 1 },
      topology: { samplers: 1, verifierThreads: 1 },
      rollout: { problemsPerStep: 1, groupSize: 2 },
      curriculum: { stages: [{ difficulty: 3, budgetTokens: 64, steps: 3 }] },
    });
    const compute = new SurrogateCompute(SurrogateSchema.parse({ lengthMedian: 10, lengthSigma: 0 }), 0, 1);
    const schedules: string[] = [];
    const generate = compute.generate.bind(compute);
    compute.generate = (step, slots, budget, G, schedule) => {
      schedules.push(`${step}:${JSON.stringify(schedule)}`);
      return generate(step, slots, budget, G, schedule);
    };
    const e = new SimEngine({
      config: cfg,
      profile,
      compute,
      faults: [],
      maxSteps: 3,
      dir: null,
      transitions: false,
      maxEvents: 10_000,
    });
    expect((await e.run()).status).toBe('done');
    expect(schedules.slice(0, 3)).toEqual(['1:[[0,0]]', '2:[[0,0]]', '2:[[0,0],[2,1]]']);
  });

  it('publication faults cost their time; a sampler that exhausts its restarts fails the run', async () => {
    const cfg = simConfig({ curriculum: { stages: [{ difficulty: 3, budgetTokens: 16, steps: 4 }] } });
    const settings = { ...none, profile: fixedProfile(1, 1), maxSteps: 4 };
    const clean = await simRun(cfg, settings, { dir: null });
    const delayed = await simRun(
      cfg,
      {
        ...settings,
        faults: [
          { kind: 'delay-publication', version: 2, by: 5 },
          { kind: 'drop-publication', version: 3, retryAfter: 2 },
        ],
      },
      { dir: null },
    );
    expect(delayed.summary.simSeconds as number).toBeCloseTo((clean.summary.simSeconds as number) + 5 + 2, 9);
    const limited = simConfig({ limits: { restartsMax: 1 }, topology: { samplers: 1, verifierThreads: 1 } });
    const err = await simRun(
      limited,
      {
        ...settings,
        faults: [
          { kind: 'crash', actor: 'sampler', at: { step: 1 } },
          { kind: 'crash', actor: 'sampler', at: { step: 2 } },
        ],
      },
      { dir: null },
    ).catch((e) => e);
    expect(String(err)).toMatch(/sampler-0 failed 2 times, over limits\.restartsMax = 1; last error: CRASH/);
  });

  it("a slowdown's added seconds (slow:ROLE=+MSms, or a scenario's addSeconds) lengthen each piece of work", async () => {
    const cfg = simConfig({ curriculum: { stages: [{ difficulty: 3, budgetTokens: 16, steps: 4 }] } });
    const settings = { ...none, profile: fixedProfile(1, 1), maxSteps: 4 };
    const secs = async (faults: SimFaultInput[]) =>
      (await simRun(cfg, { ...settings, faults }, { dir: null })).summary.simSeconds as number;
    const clean = await secs([]);
    expect(clean).toBeCloseTo(8, 9); // sync: each step 1 s of generation, then 1 s of update
    // the spec grammar, as on the real clock: every update 2 s longer, each on the critical path
    expect(await secs(faultsFromSpecs(['slow:learner=+2000ms']))).toBeCloseTo(clean + 4 * 2, 9);
    // for a while: the update that starts at t = 1 is slowed, the one at t = 5 (after 4.5 s) not
    const timed: SimFaultInput = {
      kind: 'slow',
      actor: 'learner',
      factor: 1,
      addSeconds: 2,
      at: { time: 0 },
      for: 4.5,
    };
    expect(await secs([timed])).toBeCloseTo(clean + 2, 9);
  });
});

describe('virtual clock, real compute (wasm)', () => {
  const cfgBase = (over: Record<string, unknown> = {}) =>
    simConfig({
      staleness: { policy: 'inflight', eta: 1 },
      curriculum: { stages: [{ difficulty: 3, budgetTokens: 48, steps: 4 }] },
      ...over,
    });
  const settingsBase = { compute: 'real' as const, profile: jitteryProfile(), maxSteps: 4 };

  it('replays byte for byte, and a halted run resumes to the same bytes and weights (faults included)', async () => {
    const faults: SimFaultInput[] = [
      { kind: 'crash', actor: 'sampler', at: { step: 2 } },
      { kind: 'crash', actor: 'learner', at: { step: 3 } },
      { kind: 'storm', rate: 4, kinds: ['crash', 'slow'], roles: ['sampler', 'verifier'], until: 3 },
    ];
    const limits = {
      limits: { samplerTimeoutMs: 500, verifierTimeoutMs: 500, learnerTimeoutMs: 500, restartsMax: 50 },
    };
    const cfg = (over: Record<string, unknown> = {}) => cfgBase({ ...limits, ...over });
    const settings = { ...settingsBase, faults };
    const a = await simRun(cfg(), settings);
    const b = await simRun(cfg(), settings);
    expect((a.summary.faultsFired as string[]).length).toBeGreaterThanOrEqual(3);
    expect(a.summary.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(b.metrics).toBe(a.metrics);
    expect(b.transitions).toBe(a.transitions);
    expect(b.summary.weightsSha256).toBe(a.summary.weightsSha256);
    const dir = freshDir('real-halt');
    const h = await simRun(cfg(), settings, { dir, halt: true });
    expect(h.status).toBe('halted');
    const r = await simRun(cfg(), settings, { dir, resume: true });
    expect(r.metrics).toBe(a.metrics);
    expect(r.transitions).toBe(a.transitions);
    expect(r.summary.weightsSha256).toBe(a.summary.weightsSha256);
    const other = await simRun(cfg({ seed: 5 }), settings);
    expect(other.summary.weightsSha256).not.toBe(a.summary.weightsSha256);
    expect(other.metrics).not.toBe(a.metrics);
  });

  it('in sync mode faults change the schedule, never the result', async () => {
    const settings = settingsBase;
    const sync = (over: Record<string, unknown> = {}) =>
      cfgBase({
        staleness: { policy: 'sync' },
        limits: { samplerTimeoutMs: 500, verifierTimeoutMs: 500, learnerTimeoutMs: 500, restartsMax: 50 },
        ...over,
      });
    const clean = await simRun(sync(), settings, { dir: null });
    const faults: SimFaultInput[] = [
      { kind: 'crash', actor: 'sampler', at: { step: 2 } },
      { kind: 'hang', actor: 'sampler-1', at: { step: 3 } },
      { kind: 'crash', actor: 'learner', at: { step: 3 } },
      { kind: 'hang', actor: 'verifier', at: { step: 1 } },
      { kind: 'drop-publication', version: 2, retryAfter: 0.1 },
      { kind: 'storm', rate: 3, kinds: ['crash', 'hang', 'slow'], roles: ['sampler', 'learner'], until: 10 },
    ];
    const faulty = await simRun(sync(), { ...settings, faults }, { dir: null });
    expect((faulty.summary.faultsFired as string[]).length).toBeGreaterThanOrEqual(5);
    expect(faulty.summary.simSeconds as number).toBeGreaterThan(clean.summary.simSeconds as number);
    expect(faulty.summary.weightsSha256).toBe(clean.summary.weightsSha256);
    expect(faulty.summary.rolloutsTrained).toBe(clean.summary.rolloutsTrained);
  });
});
