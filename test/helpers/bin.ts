/**
 * The executable a test starts in a child process: the suite's bundle of the CLI
 * (test/globalSetup.ts), or bin/e3sim.js when a file runs without the global setup.
 */
import path from 'node:path';

export const E3SIM = process.env.E3SIM_TEST_BIN ?? path.resolve('bin/e3sim.js');
