import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // the CLI bundled once; spawned runs start from it (test/globalSetup.ts)
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two test files at a time: the default on a 2-core machine is one, and most files wait on
    // child processes (measured: 660 s one at a time, 546 s two at a time, every test passing).
    maxWorkers: 2,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
