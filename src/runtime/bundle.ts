/**
 * Whether this code runs from the single-file build (`npm run bundle`, scripts/bundle.mjs) and
 * where that build lives. The build defines `__E3SIM_BUNDLE__`; under tsx it is undefined.
 * In the build, worker threads start from e3sim-worker.mjs beside the CLI's e3sim.mjs
 * (scripts/bundle-worker-entry.ts dispatches on workerData); the wasm binaries, dawn.node and the
 * report's assets sit beside them.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

declare const __E3SIM_BUNDLE__: { version: string; tfjs: string } | undefined;

export const BUNDLE: { version: string; tfjs: string } | null =
  typeof __E3SIM_BUNDLE__ === 'undefined' ? null : __E3SIM_BUNDLE__;

/** The folder holding e3sim.mjs when bundled, else null. */
export const BUNDLE_DIR: string | null = BUNDLE ? path.dirname(fileURLToPath(import.meta.url)) : null;

/** The bundle's worker-thread file, beside the CLI's e3sim.mjs (scripts/bundle-worker-entry.ts: the actors, not the CLI). */
export const BUNDLE_WORKER_FILE = 'e3sim-worker.mjs';

let threadBundle: string | null = BUNDLE_DIR;

/**
 * The bundle folder worker threads start from (its e3sim-worker.mjs, and verify-task.mjs for the
 * verifier pool): this bundle's own when the CLI runs from one; else null, and threads start from the
 * TypeScript entries through tsx (actors/boot.mjs) — unless `setThreadBundle` named one.
 */
export function threadBundleDir(): string | null {
  return threadBundle;
}

/**
 * Worker threads start from the bundle in `dir` (built from the same source), or through tsx with
 * null. The tests' in-process CLI (test/helpers/cli.ts) starts its runs' threads from the suite's
 * bundle, as their spawned runs do: a thread through tsx costs about a second of CPU to start
 * (BENCHMARKS.md "Start-up of a run"); test/train.e2e.test.ts keeps one run on tsx threads.
 */
export function setThreadBundle(dir: string | null): void {
  threadBundle = dir;
}
