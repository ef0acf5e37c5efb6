/**
 * This executable, and the cells of `experiment` and `scenario` run in child processes of it
 * (`runSelfCells`): bin/e3sim.js (through tsx), or the bundle's e3sim.mjs when that is what was
 * started (`npm run bundle`) — so a bundle's cells run the bundle. In-process callers (the tests'
 * runCli) get bin/e3sim.js. Every such process starts with `NODE_FLAGS`.
 */
import { fileURLToPath } from 'node:url';
import { CellsInterrupted, metricsStepOf, runCells, type Cell } from '../experiments/cells.js';
import { wallNow } from '../runtime/clock.js';

let self = fileURLToPath(new URL('../../bin/e3sim.js', import.meta.url));

/**
 * The V8 flags an e3sim process starts with: a young generation of 64 MB semi-spaces (V8's default
 * is 16 MB). The virtual clock allocates many short-lived objects a simulated group; with fewer
 * scavenges, and fewer of them promoted, `bench --sim` runs 1.26–1.42× the events/s of 32 MB and the
 * process's peak RSS is lower (BENCHMARKS.md). They are start-up flags, so bin/e3sim.js's shebang
 * and package.json's scripts spell them too (test/cli.test.ts checks that they agree); cell
 * processes (`experiment`, `scenario`) are started with them from here.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];

/**
 * Runs `cells` in processes of this executable with its V8 flags (experiments/cells.ts runCells),
 * on the wall clock, each running cell's progress read from its metrics.jsonl. False when a signal
 * stopped them: the message is written and the exit code is 130.
 */
export async function runSelfCells(o: {
  out: string;
  cells: readonly Cell[];
  jobs: number;
  log?: ((s: string) => void) | undefined;
}): Promise<boolean> {
  try {
    await runCells({ ...o, bin: self, nodeArgs: NODE_FLAGS, now: wallNow, stepOf: metricsStepOf });
    return true;
  } catch (e) {
    if (!(e instanceof CellsInterrupted)) throw e;
    process.stderr.write(`${e.message}\n`);
    process.exitCode = 130;
    return false;
  }
}

/** Called once by the executable's entry (cli/main.ts) with its own path. */
export function setSelfExecutable(file: string): void {
  self = file;
}
