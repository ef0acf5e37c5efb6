import type { Command } from 'commander';
import os from 'node:os';
import path from 'node:path';
import { parseBackend } from '../../tensor/backend.js';
import { wallNow } from '../../runtime/clock.js';
import { parseIntFlag, printJson } from '../common.js';
import { InputError } from '../../util/errors.js';
import { natsRunId } from '../../runtime/nats/protocol.js';
import { REMOTE_ROLES, type RemoteRole } from '../../core/roles.js';
import { parseNatsUrl } from '../../runtime/nats/connection.js';
import { NoRunError, runNatsWorker } from '../../runtime/nats/worker.js';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description(
      'join a running `e3sim train --transport nats` as a separate process serving one role (see README "Running on several machines")',
    )
    .requiredOption('--role <r>', 'sampler | verifier | grader')
    .requiredOption('--nats <url>', "nats://[user:password@|token@]host[:port] of the run's NATS server")
    .option('--nats-creds <file>', 'a NATS credentials (.creds) file')
    .option(
      '--run <id>',
      "the run to join: its run directory (or that directory's name); default: the run that answers first",
    )
    .option('--backend <b>', 'sampler: auto|tensorflow|webgpu|wasm|cpu', 'auto')
    .option('--id <name>', "this worker's name in heartbeats and results (default <role>-<host>-<pid>)")
    .option('--wait <ms>', 'how long to wait for a coordinator to answer', '60000')
    .option('--max-items <n>', 'exit after this many work items')
    .option('--json', 'print a summary at the end')
    .action(workerCommand);
}

interface WorkerFlags {
  role: string;
  nats: string;
  natsCreds?: string;
  run?: string;
  backend: string;
  id?: string;
  wait: string;
  maxItems?: string;
  json?: boolean;
}

/** `e3sim worker`: the flags checked, signals that finish the current item, the worker's loop until its run ends. */
async function workerCommand(o: WorkerFlags): Promise<void> {
  if (!(REMOTE_ROLES as readonly string[]).includes(o.role))
    throw new InputError(`--role: expected one of ${REMOTE_ROLES.join(', ')}, got '${o.role}'`);
  parseNatsUrl(o.nats);
  if (o.run !== undefined && o.run.trim() === '')
    throw new InputError("--run: empty; expected the run directory's name");
  const role = o.role as RemoteRole;
  const id = o.id ?? `${role}-${os.hostname()}-${process.pid}`;
  const ac = new AbortController();
  const stop = (sig: string) => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write(`${sig}: finishing the current item, then leaving (again to exit now)\n`);
    ac.abort();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  const settings = {
    role,
    url: o.nats,
    credsFile: o.natsCreds,
    run: o.run !== undefined ? natsRunId(path.basename(o.run)) : undefined,
    backend: parseBackend(o.backend),
    id,
    waitMs: parseIntFlag(o.wait, '--wait', 0, 86_400_000),
    maxItems: o.maxItems !== undefined ? parseIntFlag(o.maxItems, '--max-items', 1) : undefined,
    log: (s: string) => process.stderr.write(`${s}\n`),
    now: wallNow,
  };
  let r: { items: number };
  try {
    r = await runNatsWorker(settings, ac.signal);
  } catch (e) {
    if (!(e instanceof NoRunError)) throw e;
    process.stderr.write(`e3sim worker: ${e.message}\n`);
    process.exit(1);
  }
  if (o.json) printJson({ worker: id, role, items: r.items });
  else
    process.stderr.write(
      `${id}: served ${r.items} ${role === 'sampler' ? 'generate' : role === 'verifier' ? 'verify' : 'grade'} items\n`,
    );
  process.exit(0);
}
