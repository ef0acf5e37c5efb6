/**
 * Backend parity: the same fixed-seed sampling, teacher-forced scoring and training step on the
 * cpu backend (plain JavaScript, tfjs's reference kernels) and on wasm (XNNPACK, e3sim's kernel
 * replacements, the host KV cache with SIMD attention) agree within float32 round-off.
 * Each backend runs in its own process (a process holds one backend).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

interface Probe {
  backend: string;
  tokens: number[][];
  logprobs: number[][];
  scored: number[];
  loss: number;
  gradNorm: number;
  gradients: Record<string, number[]>;
  weights: number[];
}

const root = path.resolve(import.meta.dirname, '..');
const probe = (backend: string): Probe =>
  JSON.parse(
    execFileSync(process.execPath, ['--import', 'tsx', 'test/helpers/parity.ts', backend], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    }),
  );
const maxAbsDiff = (a: number[], b: number[]) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

describe('cpu vs wasm backend parity', () => {
  let cpu: Probe, wasm: Probe;
  beforeAll(() => {
    cpu = probe('cpu');
    wasm = probe('wasm');
  }, 120_000);

  it('ran on the two backends', () => {
    expect([cpu.backend, wasm.backend]).toEqual(['cpu', 'wasm']);
  });

  it('samples the same tokens with the same behaviour log-probs', () => {
    expect(wasm.tokens).toEqual(cpu.tokens);
    expect(maxAbsDiff(wasm.logprobs.flat(), cpu.logprobs.flat())).toBeLessThan(1e-4);
  });

  it('scores fixed sequences (teacher forcing) alike', () => {
    expect(cpu.scored.length).toBe(6 * 32);
    expect(maxAbsDiff(wasm.scored, cpu.scored)).toBeLessThan(1e-4);
  });

  it('computes the same loss and gradients', () => {
    expect(Math.abs(wasm.loss - cpu.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(cpu.loss)));
    expect(Math.abs(wasm.gradNorm - cpu.gradNorm) / cpu.gradNorm).toBeLessThan(1e-4);
    // Relative to each tensor's largest gradient, with an absolute floor of 1e-9: the key biases'
    // gradient is exactly zero in exact arithmetic (softmax ignores a shift shared by all keys),
    // so both backends return round-off of ~1e-12 there.
    for (const [name, g] of Object.entries(cpu.gradients)) {
      const scale = Math.max(...g.map(Math.abs));
      expect(maxAbsDiff(wasm.gradients[name]!, g), name).toBeLessThan(1e-3 * scale + 1e-9);
    }
  });

  it('takes the same Adam step', () => {
    // Adam moves every weight by about lr (1e-3) whatever its gradient's size; the two backends'
    // steps must agree far below that.
    expect(maxAbsDiff(wasm.weights, cpu.weights)).toBeLessThan(1e-4);
  });
});
