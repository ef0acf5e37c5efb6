import fs from 'node:fs';
import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Longest files first (test/durations.json, written by scripts/test-durations.mjs from a full run):
 * two workers then finish together instead of one running a 90 s file while the other idles.
 * Files not in the table keep vitest's own order after the known ones.
 */
const durations: Record<string, number> = JSON.parse(fs.readFileSync('test/durations.json', 'utf8'));

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const known = (f: TestSpecification) => durations[path.relative(process.cwd(), f.moduleId)] ?? -1;
    const byVitest = await super.sort(files);
    return [...byVitest].sort((a, b) => known(b) - known(a));
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two test files at a time: the default on a 2-core machine is one, and most files wait on
    // child processes (measured: 660 s one at a time, 546 s two at a time, every test passing).
    maxWorkers: 2,
    sequence: { sequencer: LongestFirst },
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
