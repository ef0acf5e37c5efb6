import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/tensor/backend.js';
import { tensorCountsOverSteps } from './helpers/tiny.js';

describe('tensor memory on wasm', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('stays flat across repeated sample and train steps', () => {
    const counts = tensorCountsOverSteps(6);
    // the first round allocates cached constants (causal masks); afterwards nothing may grow
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(counts[5]).toBe(counts[1]);
  });
});
