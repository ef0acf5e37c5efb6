/**
 * Entry of the single-file build's CLI (scripts/bundle.mjs → e3sim.mjs). Its worker threads start
 * from e3sim-worker.mjs beside it (scripts/bundle-worker-entry.ts).
 */
import v8 from 'node:v8';

// as bin/e3sim.js: a larger young generation (see there)
v8.setFlagsFromString('--max-semi-space-size=32');
await import('../src/cli/main.js');
