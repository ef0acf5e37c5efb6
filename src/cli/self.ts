/**
 * The executable running this CLI, for commands that start cells in child processes (experiment,
 * scenario): bin/e3sim.js (through tsx), or the bundle's e3sim.mjs when that is what was started
 * (`npm run bundle`) — so a bundle's cells run the bundle. In-process callers (the tests' runCli)
 * get bin/e3sim.js.
 */
import { fileURLToPath } from 'node:url';

let self = fileURLToPath(new URL('../../bin/e3sim.js', import.meta.url));

export function selfExecutable(): string {
  return self;
}

/** Called once by the executable's entry (cli/main.ts) with its own path. */
export function setSelfExecutable(file: string): void {
  self = file;
}
