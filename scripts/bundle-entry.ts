/**
 * Entry of the single-file build's CLI (scripts/bundle.mjs → e3sim.mjs). Its worker threads start
 * from e3sim-worker.mjs beside it (scripts/bundle-worker-entry.ts).
 */
import v8 from 'node:v8';
import { NODE_FLAGS } from '../src/cli/self.js';

// as bin/e3sim.js: a larger young generation (src/cli/self.ts NODE_FLAGS)
for (const f of NODE_FLAGS) v8.setFlagsFromString(f);
await import('../src/cli/main.js');
