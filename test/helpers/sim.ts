/** Shared builders for the virtual-clock tests. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseTrainConfig, type TrainConfig } from '../../src/runtime/config.js';
import { parseProfile, type Profile } from '../../src/sim/profile.js';
import { defaultSettings, runVirtual, type VirtualSettings } from '../../src/sim/run.js';
import type { SimEngine } from '../../src/sim/engine.js';

export const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-sim-'));
let n = 0;
export function freshDir(label: string): string {
  const d = path.join(tmpRoot, `${label}-${n++}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

export function simConfig(over: Record<string, unknown> = {}): TrainConfig {
  return parseTrainConfig(
    {
      name: 'sim-test',
      seed: 0,
      backend: 'wasm',
      model: { checkpoint: 'examples/checkpoints/base-countdown' },
      rollout: { problemsPerStep: 2, groupSize: 4, temperature: 1 },
      curriculum: { stages: [{ difficulty: 3, budgetTokens: 32, steps: 4 }] },
      learner: { lr: 1e-4 },
      staleness: { policy: 'sync' },
      topology: { samplers: 2, verifierThreads: 1 },
      checkpoint: { every: 2, keep: 2 },
      ...over,
    },
    'test config',
  );
}

/** A cost model with whole-number durations: a request costs `gen` s, a step `train` s, all else free. */
export function fixedProfile(gen: number, train: number): Profile {
  return parseProfile(
    {
      name: 'fixed',
      sampler: { prefillFixedS: gen, prefillPerTokenS: 0, decodeStepFixedS: 0, decodeStepPerRowS: 0 },
      verifier: { perRolloutS: 0 },
      learner: { fixedS: train, perTokenS: 0 },
      weights: { bytes: 1, latencyS: 0, bandwidthBytesPerS: 1e12 },
    },
    'fixed profile',
  );
}

export function jitteryProfile(): Profile {
  return parseProfile(
    {
      name: 'jittery',
      sampler: {
        prefillFixedS: 0.01,
        prefillPerTokenS: 1e-5,
        decodeStepFixedS: 0.002,
        decodeStepPerRowS: 1e-4,
        speeds: [1, 2.5, 0.7],
        jitter: 0.4,
        restartS: 0.5,
      },
      verifier: { perRolloutS: 1e-3, jitter: 0.3 },
      learner: { fixedS: 0.05, perTokenS: 2e-4, jitter: 0.2 },
      weights: { latencyS: 0.002, bandwidthBytesPerS: 1e9 },
      messageLatencyS: 1e-4,
    },
    'jittery profile',
  );
}

export async function simRun(
  config: TrainConfig,
  settings: Partial<VirtualSettings> & { profile: Profile; maxSteps: number },
  o: { dir?: string | null; resume?: boolean; halt?: boolean; plant?: number } = {},
) {
  const dir = o.dir === undefined ? freshDir('run') : o.dir;
  const s = defaultSettings(settings.profile, settings.maxSteps, settings);
  const r = await runVirtual({
    config,
    settings: s,
    dir,
    resume: o.resume,
    plantDuplicateAtEvent: o.plant,
    onEngine: (e: SimEngine) => (o.halt ? e.requestHalt() : undefined),
  });
  const read = (f: string) =>
    dir && fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), 'utf8') : '';
  return { ...r, dir, metrics: read('metrics.jsonl'), transitions: read('transitions.jsonl') };
}
