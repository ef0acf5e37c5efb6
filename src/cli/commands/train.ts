import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import {
  checkRealClockTopology,
  configWarnings,
  loadTrainConfig,
  parseTrainConfig,
  totalSteps,
  type TrainConfig,
} from '../../runtime/config.js';
import { parseFault } from '../../core/faults.js';
import type { StepProgress } from '../../runtime/run.js';
import type { Summary } from '../../runtime/runTypes.js';
import { parseBackend } from '../../tensor/backendNames.js';
import { isoTimestamp, wallNow } from '../../runtime/clock.js';
import {
  LOCK_FILE,
  acquireRunLock,
  assertNotHeld,
  handOverSignals,
  signalExitCode,
  startupSignalGuard,
} from '../../runtime/runLock.js';
import { checkResumeConfig, sweepRunDir } from '../../runtime/checkpointer.js';
import { parseIntFlag, parseSeed, printJson, versions } from '../common.js';
import { progress } from '../progress.js';
import type { InspectionEvent } from 'xstate';
import { parseNatsUrl } from '../../runtime/nats/connection.js';
import { InputError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { evalTable, filteredNote, runDirLines } from './trainEnd.js';
import { trainVirtual } from './trainVirtual.js';
import { checkResumeFlags, readRealRunFlags, writeRealRunFlags } from './runFlags.js';
import { estimateRun, judgeEstimate } from '../../runtime/estimate.js';
import { readManifest } from '../../policy/checkpoint.js';
import { loadProfile } from '../../sim/profile.js';

export interface TrainFlags {
  transport: string;
  nats?: string;
  natsCreds?: string;
  config?: string;
  out?: string;
  seed?: string;
  backend?: string;
  maxSteps?: string;
  resume?: string;
  inject: string[];
  json?: boolean;
  quiet?: boolean;
  ui?: boolean;
  port: string;
  inspect?: boolean;
  clock: string;
  profile?: string;
  compute?: string;
  strict?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/**
 * The run's size against this machine (runtime/estimate.ts), before anything is written: the
 * estimate line, warnings (exit 2 with --strict), and a refusal for a run that cannot finish here.
 * A virtual-clock run without tensors (--compute none) needs none.
 */
function checkEstimate(f: TrainFlags, cfg: TrainConfig, out: string, virtual: boolean): void {
  const settings = path.join(out, 'virtual.json');
  const compute =
    f.resume && fs.existsSync(settings) ? JSON.parse(fs.readFileSync(settings, 'utf8')).compute : f.compute;
  if (virtual && compute === 'none') return;
  let gpt: ReturnType<typeof readManifest>['config'];
  try {
    gpt = readManifest(cfg.model.checkpoint).config;
  } catch {
    return; // not a checkpoint: the run's own check says so, naming model.checkpoint
  }
  const e = estimateRun(cfg, gpt, loadProfile('cpu-tiny', 'profile'));
  const v = judgeEstimate(e, {
    memoryBytes: os.totalmem(),
    wasm: cfg.backend === 'wasm' ? 'yes' : cfg.backend === 'auto' ? 'maybe' : 'no',
    samplerThreads: virtual ? 1 : cfg.topology.samplers,
    source: f.config ?? path.join(out, 'config.json'),
  });
  if (v.refusal) throw new InputError(v.refusal);
  if (!f.quiet && !f.json) process.stderr.write(`${v.line}\n`);
  for (const w of v.warnings) {
    if (f.strict) throw new InputError(`${w} (--strict)`);
    process.stderr.write(`warning: ${w}\n`);
  }
}

/** runs/<name>, or runs/<name>-2, -3, … when taken: a default never overwrites an earlier run. */
function freshRunDir(name: string): string {
  for (let i = 1; i < 10_000; i++) {
    const dir = path.join('runs', i === 1 ? name : `${name}-${i}`);
    if (!fs.existsSync(dir) || fs.readdirSync(dir).length === 0) return dir;
  }
  throw new InputError(`--out: runs/${name}-* are all taken; pass --out`);
}

function fmtProgress(p: StepProgress): Record<string, string | number> {
  return {
    stage: `${p.stage} (d${p.difficulty}, ${p.budgetTokens} tok)`,
    pass: p.passRate.toFixed(3),
    len: p.lengthMean.toFixed(1),
    stale: `${p.stalenessMean.toFixed(2)}/${p.stalenessMax}`,
    'tok/s': p.tokensPerSec.toFixed(0),
    eta: Number.isFinite(p.etaSeconds) ? `${p.etaSeconds.toFixed(0)}s` : '?',
  };
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('RL training of the countdown policy as a topology of actors (see docs/TRAIN.md)')
    .option('--config <file>', "YAML config (examples/*.yaml); with --resume, defaults to the run's config.json")
    .option('--out <dir>', 'run directory (default runs/<config name>)')
    .option('--seed <s>', "override the config's seed")
    .option('--backend <b>', "override the config's backend: auto|tensorflow|webgpu|wasm|cpu")
    .option('--max-steps <n>', 'stop after this learner step (default: all curriculum stages)')
    .option('--resume <dir>', 'continue the run in DIR from its last checkpoint')
    .option(
      '--clock <c>',
      'real (actors run concurrently) | virtual (discrete-event simulation on a cost model: replayable)',
      'real',
    )
    .option('--profile <p>', 'virtual clock: hardware profile, built-in name or YAML file (default cpu-tiny)')
    .option('--compute <c>', 'virtual clock: real (the tiny GPT) | none (seeded surrogate, no tensors)')
    .option(
      '--inject <fault>',
      'crash:ROLE@step=N | hang:ROLE@step=N | slow:ROLE=Kx | slow:ROLE=+MSms (ROLE: sampler, verifier, grader, learner) | delay:publication@version=N=MSms | drop:publication@version=N | break:batch@step=N; repeatable',
      collect,
      [],
    )
    .option(
      '--transport <t>',
      'threads (every actor in this process) | nats (topology.remote roles served by `e3sim worker` processes)',
      'threads',
    )
    .option(
      '--nats <url>',
      'with --transport nats: nats://[user:password@|token@]host[:port] of a JetStream-enabled server',
    )
    .option('--nats-creds <file>', 'with --transport nats: a NATS credentials (.creds) file')
    .option('--ui', 'serve the live report on 127.0.0.1 while training (server-sent events)')
    .option('--port <p>', 'port for --ui (0: any free port)', '8080')
    .option('--inspect', 'stream every actor to the Stately inspector (@statelyai/inspect; needs internet)')
    .option('--json', 'print summary.json at the end')
    .option('--quiet', 'no progress display')
    .option('--strict', "refuse (exit 2) a run whose estimate is beyond this machine's memory, not only warn")
    .action(async (f: TrainFlags) => {
      const { faults, virtual } = checkTrainFlags(f);
      const { cfg, out } = configAndRunDir(f);
      const maxSteps = f.maxSteps !== undefined ? parseIntFlag(f.maxSteps, '--max-steps', 1) : undefined;
      if (f.resume) checkResumeFlags(out, maxSteps, faults);
      for (const w of configWarnings(cfg)) process.stderr.write(`warning: ${w}\n`);
      checkEstimate(f, cfg, out, virtual);
      // One run per directory, from here (nothing written yet) to the command's end — or the
      // process's exit, when a signal ends it first. Released here, a refused run leaves no
      // directory even when the command runs in-process (src/cli/program.ts main).
      const lock = acquireRunLock(out, isoTimestamp(), (s) => process.stderr.write(`${s}\n`));
      const startup = startupSignalGuard(out);
      try {
        if (f.resume) for (const line of sweepRunDir(out)) process.stderr.write(`resume: ${line}\n`);
        if (virtual) return await trainVirtual(f, cfg, out, faults, maxSteps, startup);
        return await trainReal(f, cfg, out, faults, maxSteps, startup);
      } finally {
        startup.off();
        lock.release();
      }
    });
}

/** The flags checked against each other (exit 2 naming the flag); the faults, and whether the run is virtual. */
function checkTrainFlags(f: TrainFlags): { faults: string[]; virtual: boolean } {
  const faults = f.inject.map((spec) => {
    try {
      parseFault(spec);
      return spec;
    } catch (e) {
      throw new InputError(`--inject: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  if (f.clock !== 'real' && f.clock !== 'virtual')
    throw new InputError(`--clock: expected real or virtual, got '${f.clock}'`);
  if (f.transport !== 'threads' && f.transport !== 'nats')
    throw new InputError(`--transport: expected threads or nats, got '${f.transport}'`);
  if (f.transport === 'nats' && !f.nats)
    throw new InputError('--nats: required with --transport nats (e.g. --nats nats://127.0.0.1:4222)');
  if (f.transport !== 'nats' && (f.nats || f.natsCreds))
    throw new InputError('--nats/--nats-creds: only with --transport nats');
  if (f.nats) parseNatsUrl(f.nats);
  if (f.natsCreds && !fs.existsSync(f.natsCreds)) throw new InputError(`--nats-creds: '${f.natsCreds}' does not exist`);
  if (f.transport === 'nats' && f.clock === 'virtual') throw new InputError('--transport nats: real clock only');
  const virtual = f.clock === 'virtual' || Boolean(f.resume && fs.existsSync(path.join(f.resume, 'virtual.json')));
  if (!virtual && (f.profile !== undefined || f.compute !== undefined))
    throw new InputError('--profile/--compute: only with --clock virtual');
  if (virtual && (f.ui || f.inspect))
    throw new InputError(
      '--ui/--inspect: real clock only (a virtual-clock run is replayed from its files: e3sim report)',
    );
  return { faults, virtual };
}

/** The config (a fresh run's, or a resumed run's own) and the run directory, checked before anything is written. */
function configAndRunDir(f: TrainFlags): { cfg: TrainConfig; out: string } {
  let cfg: TrainConfig;
  let out: string;
  if (f.resume) {
    out = f.resume;
    assertNotHeld(out);
    const saved = path.join(out, 'config.json');
    if (!fs.existsSync(saved))
      throw new InputError(
        `--resume: '${out}' has no config.json (expected the directory of an earlier e3sim train run)`,
      );
    cfg = parseTrainConfig(JSON.parse(fs.readFileSync(saved, 'utf8')), saved);
    if (f.config && JSON.stringify(loadTrainConfig(f.config)) !== JSON.stringify(cfg)) {
      throw new InputError(
        `--config: '${f.config}' differs from the config of the run in ${out}; resume without --config or with the same file`,
      );
    }
    if (f.out && path.resolve(f.out) !== path.resolve(out))
      throw new InputError('--out: with --resume the run directory is the --resume one');
    if (f.seed !== undefined || f.backend !== undefined)
      throw new InputError('--seed/--backend: a resumed run keeps the seed and backend it was started with');
    checkResumeConfig(out, cfg);
  } else {
    if (!f.config) throw new InputError('--config: required (e.g. --config examples/smoke.yaml), or --resume DIR');
    cfg = loadTrainConfig(f.config);
    if (f.seed !== undefined) cfg.seed = parseSeed(f.seed);
    if (f.backend !== undefined) cfg.backend = parseBackend(f.backend);
    out = f.out ?? freshRunDir(cfg.name);
    assertNotHeld(out);
    if (fs.existsSync(out) && !fs.statSync(out).isDirectory())
      throw new InputError(`--out: '${out}' is a file, not a directory; choose a new directory for the run`);
    // A lock left by a process that no longer runs (assertNotHeld passed: a live holder is refused)
    // is not a run: a run killed in its start-up, before it wrote config.json, leaves only that.
    if (fs.existsSync(out) && fs.readdirSync(out).some((n) => n !== LOCK_FILE)) {
      throw new InputError(
        `--out: '${out}' already exists and is not empty; pass --resume ${out} to continue it, or choose another --out`,
      );
    }
    if (!fs.existsSync(cfg.model.checkpoint))
      throw new InputError(`model.checkpoint: '${cfg.model.checkpoint}' does not exist`);
  }
  return { cfg, out };
}

/** A real-clock run: the backend, the live view, the run itself, signals and the end-of-run lines. */
async function trainReal(
  f: TrainFlags,
  cfg: TrainConfig,
  out: string,
  faults: string[],
  maxSteps: number | undefined,
  startup: ReturnType<typeof startupSignalGuard>,
): Promise<void> {
  checkRealClockTopology(cfg, f.config ?? path.join(out, 'config.json'));
  if (f.transport === 'nats' && cfg.staleness.policy === 'inflight' && cfg.topology.remote.includes('sampler')) {
    throw new InputError(
      'staleness.policy: inflight updates swap weights between tokens inside a sampler thread; with remote samplers (--transport nats) use sync, one-step-off or async',
    );
  }
  const port = parseIntFlag(f.port, '--port', 0, 65535);
  const quiet = Boolean(f.quiet || f.json);
  // The backend, in this thread: one that cannot start is exit 2 here, before anything is
  // written (the worker threads start the same one).
  // The training code, loaded once the flags and the config are known good (a bad input exits fast).
  const [{ initBackend }, { TrainingRun }, { startLiveView }] = await Promise.all([
    import('../../tensor/backend.js'),
    import('../../runtime/run.js'),
    import('../../report/live.js'),
  ]);
  await startBackend(f, cfg, out, initBackend, quiet);
  const live = f.ui ? await startLiveView(out, port) : null;
  if (live) process.stderr.write(`live view: ${live.url}\n`);
  const inspect = f.inspect ? await skyInspector() : undefined;
  // what the run keeps (runFlags.ts): the step to stop at (the flag, else the recorded one, else
  // every stage) and the injected faults (a resume's own are refused)
  const kept = f.resume ? readRealRunFlags(out) : null;
  const stopAt = maxSteps ?? kept?.maxSteps ?? totalSteps(cfg);
  const inject = kept?.inject ?? faults;
  const bar = progress(`train ${cfg.name}`, stopAt, quiet);
  const run = new TrainingRun({
    config: cfg,
    out,
    resume: Boolean(f.resume),
    maxSteps: stopAt,
    extraFaults: inject,
    command: process.argv.slice(2).join(' '),
    versions: versions(),
    now: wallNow,
    onLog: quiet ? undefined : (s) => process.stderr.write(`${s}\n`),
    inspect,
    nats: f.transport === 'nats' ? { url: f.nats!, credsFile: f.natsCreds } : undefined,
    onStep: (p) => {
      bar.update(p.step, fmtProgress(p));
      live?.notify(p.step);
    },
  });
  try {
    run.prepare(); // the initial policy and the resume checkpoint, checked
  } catch (e) {
    await live?.close();
    throw e;
  }
  if (!f.resume) {
    // Written only once every input has been checked (bad input leaves no run directory behind).
    fs.mkdirSync(out, { recursive: true });
    writeFileAtomic(path.join(out, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  }
  if (!f.resume || maxSteps !== undefined) writeRealRunFlags(out, { maxSteps: stopAt, inject });
  const { summary, stopSignal } = await runUntilDone(run, startup, live);
  bar.stop();
  printSummary(f, summary, out);
  if (summary.interrupted) process.exitCode = signalExitCode(stopSignal);
}

/** The end of a real-clock run: summary.json with --json, else the one-line summary, the eval table and the files. */
function printSummary(f: TrainFlags, summary: Summary, out: string): void {
  if (f.json) printJson({ ...summary, runDir: out });
  else {
    process.stdout.write(
      `${summary.interrupted ? 'interrupted' : 'finished'} at step ${summary.steps}: ${summary.rolloutsTrained} rollouts trained, ` +
        (`${summary.rolloutsDroppedStale} dropped stale, ${summary.rolloutsDroppedInvalid}` +
          ` invalid, ${filteredNote(summary)}${summary.rolloutsLost} lost; staleness max ${summary.stalenessMax}` +
          ` (bound ${summary.stalenessBound}); `) +
        `${summary.restarts} restarts; ${summary.tokensPerSec.toFixed(0)} tokens/s\n`,
    );
    process.stdout.write(evalTable(out));
    process.stdout.write(runDirLines(out, Boolean(summary.interrupted)));
  }
}

/** The backend, in this thread: one that cannot start is exit 2 named as the user gave it (the flag, or the config's field). */
async function startBackend(
  f: TrainFlags,
  cfg: TrainConfig,
  out: string,
  initBackend: typeof import('../../tensor/backend.js').initBackend,
  quiet: boolean,
): Promise<void> {
  const backend = await initBackend(cfg.backend).catch((e: unknown) => {
    // named as the user gave it: the flag, or the config's field
    throw f.backend === undefined && e instanceof InputError
      ? new InputError(e.message.replace(/^--backend /, `${f.config ?? path.join(out, 'config.json')}: backend: `))
      : e;
  });
  if (!quiet)
    process.stderr.write(
      `backend: ${backend.name} (${backend.detail})${cfg.backend === 'auto' ? ', chosen by auto' : ''}\n`,
    );
}

/** The Stately inspector, loaded only when asked for (no cost when off). */
async function skyInspector(): Promise<(ev: InspectionEvent) => void> {
  const { createSkyInspector } = await import('@statelyai/inspect');
  const sky = createSkyInspector({ onerror: (e: Error) => process.stderr.write(`inspector: ${e.message}\n`) });
  return (ev) => sky.inspect.next?.(ev);
}

/**
 * Runs to the end; the first SIGINT/SIGTERM finishes the current step and writes a checkpoint, a
 * second exits at once.
 */
async function runUntilDone(
  run: import('../../runtime/run.js').TrainingRun,
  startup: ReturnType<typeof startupSignalGuard>,
  live: { close(): Promise<void> } | null,
): Promise<{ summary: Summary; stopSignal: NodeJS.Signals }> {
  let signals = 0;
  let stopSignal: NodeJS.Signals = 'SIGINT';
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`\n${sig} again: exiting without a final checkpoint\n`);
      process.exit(signalExitCode(sig));
    }
    stopSignal = sig;
    process.stderr.write(`\n${sig}: finishing the current step and writing a checkpoint (again to exit now)\n`);
    run.interrupt();
  };
  const off = handOverSignals(startup, onSignal);
  let summary: Summary;
  try {
    summary = await run.run();
  } finally {
    await live?.close();
  }
  off();
  return { summary, stopSignal };
}
