/**
 * The CLI in-process (src/cli/program.ts `main`): its exit code and what it wrote to stdout and
 * stderr, without a process start (≈ 1 s of tsx each). One test per exit code still spawns
 * bin/e3sim.js, so the executable's own path is covered too; cells a command starts in child
 * processes run the suite's bundle.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { main } from '../../src/cli/program.js';
import { setSelfExecutable } from '../../src/cli/self.js';
import { setThreadBundle } from '../../src/runtime/bundle.js';
import { E3SIM } from './bin.js';

// Commands that start cells in child processes (scenario, experiment) start the suite's bundle, as
// they do when the bundle is the executable (src/cli/self.ts; test/globalSetup.ts); and the runs'
// worker threads start from it too (src/runtime/bundle.ts setThreadBundle: a thread through tsx
// costs about a second of CPU more to start). test/train.e2e.test.ts keeps one run on tsx threads.
setSelfExecutable(E3SIM);
if (E3SIM.endsWith('.mjs')) setThreadBundle(path.dirname(E3SIM));

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

export async function runCli(...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const write = { out: process.stdout.write, err: process.stderr.write };
  const capture =
    (into: string[]) =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const cb = rest.find((x) => typeof x === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    };
  process.stdout.write = capture(out) as typeof process.stdout.write;
  process.stderr.write = capture(err) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
}

const BIN = path.resolve('bin/e3sim.js');

/** The executable in a child process (for what only a process shows: exit on a signal, stdio). */
export function spawnCli(...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
