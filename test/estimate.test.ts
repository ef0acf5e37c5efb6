/**
 * Issue #29 item 3: a run's size against the machine, from its config, before anything starts
 * (src/runtime/estimate.ts): a line always, warnings beyond the machine (exit 2 with --strict),
 * a refusal where one update cannot fit (the wasm heap) or the run needs twice the memory.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { estimateRun, judgeEstimate, WASM_HEAP_BYTES } from '../src/runtime/estimate.js';
import { loadTrainConfig } from '../src/runtime/config.js';
import { readManifest } from '../src/policy/checkpoint.js';
import { loadProfile } from '../src/sim/profile.js';
import { simConfig } from './helpers/sim.js';
import { E3SIM } from './helpers/bin.js';

const gpt = readManifest('examples/checkpoints/base-countdown').config;
const cpuTiny = loadProfile('cpu-tiny', 'profile');
const GB = 1024 ** 3;
const machine = { memoryBytes: 24 * GB, wasm: 'yes' as const, samplerThreads: 1, source: 'c.yaml' };

describe('run estimate', () => {
  it('the smoke config: rollouts × tokens from the config, small, nothing to warn', () => {
    const e = estimateRun(loadTrainConfig('examples/smoke.yaml'), gpt, cpuTiny);
    expect(e.rowsPerStep).toBe(8); // 2 problems × 4 samples
    expect(e.seqLen).toBeGreaterThan(48); // prompt + budget 48
    expect(e.seqLen).toBeLessThan(48 + 20);
    const v = judgeEstimate(e, machine);
    expect(v.line).toMatch(/^estimate: 8 rollouts × \d+ tokens a step; ~[\d.]+ s per step on one core/);
    expect(v.warnings).toEqual([]);
    expect(v.refusal).toBeNull();
  });

  it('grows with the batch: 64 × 64 rollouts do not fit the wasm heap (refused), nor 24 GB (warned on auto)', () => {
    const big = simConfig({ rollout: { problemsPerStep: 64, groupSize: 64 } });
    const e = estimateRun(big, gpt, cpuTiny);
    expect(e.rowsPerStep).toBe(4096);
    expect(e.updateBytes).toBeGreaterThan(WASM_HEAP_BYTES);
    expect(judgeEstimate(e, machine).refusal).toMatch(
      /^c\.yaml: one optimizer update needs ~[\d.]+ GB, beyond the wasm backend's 4\.0 GB heap/,
    );
    const auto = judgeEstimate(e, { ...machine, wasm: 'maybe' });
    expect(auto.refusal).toBeNull();
    expect(auto.warnings.join('\n')).toMatch(/wasm backend's 4\.0 GB heap: with backend auto/);
    expect(auto.warnings.join('\n')).toMatch(/beyond 80% of this machine's 24\.0 GB/);
    // more minibatches: each update holds a slice of the batch
    const sliced = estimateRun(
      simConfig({ rollout: { problemsPerStep: 64, groupSize: 64 }, learner: { lr: 1e-4, minibatches: 16 } }),
      gpt,
      cpuTiny,
    );
    expect(sliced.updateBytes).toBeLessThan(e.updateBytes / 15);
    expect(judgeEstimate(sliced, machine).refusal).toBeNull();
    // twice the machine: refused on any backend
    expect(judgeEstimate(e, { ...machine, wasm: 'no', memoryBytes: e.updateBytes / 3 }).refusal).toMatch(
      /more than twice this machine's/,
    );
  });

  it('--strict turns a warning into exit 2, before anything is written', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-est-'));
    const cfg = path.join(tmp, 'big.yaml');
    fs.writeFileSync(
      cfg,
      fs
        .readFileSync('examples/smoke.yaml', 'utf8')
        .replace('problemsPerStep: 2', 'problemsPerStep: 64')
        .replace('groupSize: 4', 'groupSize: 64'),
    );
    const out = path.join(tmp, 'run');
    const r = spawnSync(process.execPath, [E3SIM, 'train', '--config', cfg, '--out', out, '--strict'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /big\.yaml: one optimizer update needs ~[\d.]+ GB, beyond the wasm backend's 4\.0 GB heap: with backend auto .*\(--strict\)/,
    );
    expect(fs.existsSync(out)).toBe(false);
  });
});
