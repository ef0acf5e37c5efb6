/**
 * Shared by the end-to-end `e3sim train` files (train.e2e, supervision.e2e): the smoke config with
 * overrides, the train command in-process or spawned, the run's summary and its invariants.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { expect } from 'vitest';
import { runCli } from './cli.js';
import type { Summary } from '../../src/runtime/runTypes.js';
import { E3SIM } from './bin.js';

/** The executable spawned runs start (test/helpers/bin.ts: the suite's bundle). */
export const BIN = E3SIM;
export const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-train-'));
export const SMOKE = YAML.parse(fs.readFileSync('examples/smoke.yaml', 'utf8'));

export function config(name: string, over: Record<string, unknown> = {}): string {
  const file = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(file, YAML.stringify({ ...SMOKE, name, backend: 'wasm', ...over }));
  return file;
}

/** `e3sim train --quiet` in-process (test/helpers/cli.ts): no process start per run. */
export async function train(...args: string[]) {
  const r = await runCli('train', '--quiet', ...args);
  return { code: r.code, out: r.out, err: r.err };
}

/** The executable in a child process: for runs that leave a hung worker thread behind (fault injection). */
export function trainSpawned(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'train', '--quiet', ...args], { encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** summary.json of a real-clock run (src/runtime/runTypes.ts). */
export type { Summary };
export const summaryOf = (dir: string) =>
  JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as Summary;
export const metricsOf = (dir: string) =>
  fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

export function checkInvariants(dir: string, steps: number): Summary {
  const s = summaryOf(dir);
  expect(s.steps).toBe(steps);
  expect(s.finalVersion).toBe(steps);
  expect(s.rolloutsLost).toBe(0);
  expect(s.rolloutsGenerated).toBe(s.rolloutsTrained + s.rolloutsDroppedStale + s.rolloutsDroppedInvalid);
  expect(s.rolloutsGenerated).toBe(steps * SMOKE.rollout.problemsPerStep * SMOKE.rollout.groupSize);
  expect(s.stalenessMax).toBeLessThanOrEqual(s.stalenessBound === 'inf' ? Infinity : s.stalenessBound);
  const m = metricsOf(dir).filter((x) => x.type === undefined);
  expect(m.map((x) => x.step)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
  // Tensors stay flat in every worker after the first step.
  expect(new Set(m.slice(1).map((x) => x.learnerNumTensors)).size).toBe(1);
  for (const id of Object.keys(m.at(-1).samplerNumTensors))
    expect(
      new Set(
        m
          .slice(1)
          .map((x) => x.samplerNumTensors[id])
          .filter((x) => x !== undefined),
      ).size,
    ).toBe(1);
  const roles = new Set(
    fs
      .readFileSync(path.join(dir, 'transitions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).role),
  );
  for (const r of [
    'coordinator',
    'sampler',
    'verifier',
    'grader',
    'batcher',
    'learner',
    'weightStore',
    'curriculum',
    'supervisor',
    'evaluator',
  ])
    expect(roles).toContain(r);
  return s;
}

/** The smoke config trained without faults into tmp/base, its invariants checked: what faulted runs must match. */
export async function baselineRun(): Promise<Summary> {
  const r = await train('--config', config('base'), '--out', path.join(tmp, 'base'));
  expect(r.code, r.err).toBe(0);
  return checkInvariants(path.join(tmp, 'base'), 4);
}
