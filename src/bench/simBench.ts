/**
 * `e3sim bench --sim`: simulated events per wall second of the virtual clock in cost-model-only
 * mode (compute: none), on cluster-sized topologies, with and without transitions.jsonl.
 * An event is one pop of the event queue (a sync, a generation, a delivery, a verification, a
 * training step, a publication, a fault…).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseTrainConfig } from '../runtime/config.js';
import { loadProfile } from '../sim/profile.js';
import { SurrogateSchema } from '../sim/compute.js';
import { defaultSettings, runVirtual } from '../sim/run.js';
import { median } from '../util/stats.js';

export interface SimBenchCase {
  name: string;
  samplers: number;
  problemsPerStep: number;
  groupSize: number;
  problemsPerRequest: number;
  steps: number;
  transitions: boolean;
}

export const SIM_BENCH_CASES: SimBenchCase[] = [
  {
    name: '1,024 samplers, 1 prompt per request',
    samplers: 1024,
    problemsPerStep: 1024,
    groupSize: 8,
    problemsPerRequest: 1,
    steps: 300,
    transitions: false,
  },
  {
    name: '4,096 samplers, 1 prompt per request',
    samplers: 4096,
    problemsPerStep: 4096,
    groupSize: 4,
    problemsPerRequest: 1,
    steps: 100,
    transitions: false,
  },
  {
    // more samplers than a step's prompts (the largest step the config allows): most wait idle, so
    // this row measures what grows with the topology rather than with the work
    name: '16,384 samplers, 4,096 prompts per step',
    samplers: 16384,
    problemsPerStep: 4096,
    groupSize: 4,
    problemsPerRequest: 1,
    steps: 25,
    transitions: false,
  },
  {
    name: '1,024 samplers, with transitions.jsonl',
    samplers: 1024,
    problemsPerStep: 1024,
    groupSize: 8,
    problemsPerRequest: 1,
    steps: 100,
    transitions: true,
  },
];

export interface SimBenchRow {
  name: string;
  events: number;
  simSeconds: number;
  wallSeconds: number[];
  medianWallSeconds: number;
  eventsPerSecond: number;
}

export async function runSimBench(o: {
  repeats: number;
  now: () => number;
  cases?: SimBenchCase[];
  log?: (s: string) => void;
}): Promise<SimBenchRow[]> {
  const profile = loadProfile('gpu-cluster-1.7b', 'bench profile');
  const rows: SimBenchRow[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-simbench-'));
  try {
    for (const c of o.cases ?? SIM_BENCH_CASES) {
      const config = parseTrainConfig(
        {
          name: 'sim-bench',
          model: { checkpoint: 'unused' },
          rollout: {
            problemsPerStep: c.problemsPerStep,
            groupSize: c.groupSize,
            problemsPerRequest: c.problemsPerRequest,
          },
          curriculum: { stages: [{ difficulty: 3, budgetTokens: 8192, steps: c.steps }] },
          staleness: { policy: 'async', eta: 4 },
          topology: { samplers: c.samplers, verifierThreads: Math.max(1, c.samplers / 8) },
          limits: { queueGroupsMax: 100_000 },
        },
        'bench config',
      );
      const settings = defaultSettings(profile, c.steps, {
        compute: 'none',
        transitions: c.transitions,
        surrogate: SurrogateSchema.parse({
          promptTokens: 300,
          lengthMedian: 1500,
          lengthSigma: 0.8,
          tailFraction: 0.02,
          tailFactor: 4,
        }),
      });
      const walls: number[] = [];
      let events = 0,
        simSeconds = 0;
      for (let r = 0; r <= o.repeats; r++) {
        const dir = c.transitions ? fs.mkdtempSync(path.join(tmp, 'run-')) : null;
        const t0 = o.now();
        const res = await runVirtual({ config, settings, dir });
        const wall = (o.now() - t0) / 1000;
        events = res.summary.events as number;
        simSeconds = res.summary.simSeconds as number;
        if (r > 0) walls.push(wall); // the first run warms the JIT
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
        o.log?.(
          `${c.name}: ${r === 0 ? 'warm-up' : `repeat ${r}`} ${events} events in ${wall.toFixed(2)} s (${Math.round(events / wall).toLocaleString('en-US')}/s)`,
        );
      }
      const mid = median(walls);
      rows.push({
        name: c.name,
        events,
        simSeconds,
        wallSeconds: walls,
        medianWallSeconds: mid,
        eventsPerSecond: events / mid,
      });
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return rows;
}
