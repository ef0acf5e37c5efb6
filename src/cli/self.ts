/**
 * The executable running this CLI, for commands that start cells in child processes (experiment,
 * scenario): bin/e3sim.js (through tsx), or the bundle's e3sim.mjs when that is what was started
 * (`npm run bundle`) — so a bundle's cells run the bundle. In-process callers (the tests' runCli)
 * get bin/e3sim.js.
 */
import { fileURLToPath } from 'node:url';

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

export function selfExecutable(): string {
  return self;
}

/** Called once by the executable's entry (cli/main.ts) with its own path. */
export function setSelfExecutable(file: string): void {
  self = file;
}
