/**
 * Interruption stress for the real clock (docs/TRAIN.md "Crash consistency"): a sync run is
 * interrupted by SIGINT or SIGKILL at seeded random moments across its life, then resumed (for
 * some trials interrupted again during the resume) until it finishes; each trial must end with
 * the uninterrupted run's weights sha256, accounting and staleness per step, metrics.jsonl with
 * each step exactly once, and trace.json and transitions.jsonl that parse.
 *
 *   npx tsx bench/interrupt-stress.ts [--trials 20 --seed 1 --steps 8 --keep DIR]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DynamicSamplingInput } from '../core/dynamicSampling.js';
import YAML from 'yaml';
import { readYaml } from '../util/yaml.js';
import { Rng } from '../util/rng.js';
import { wallNow } from '../runtime/clock.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/e3sim.js');

export interface StressOptions {
  /** Interruptions wanted (a signal that arrives after the run finished does not count). */
  trials: number;
  seed: number;
  /** The executable to run (default bin/e3sim.js; the tests pass the bundle they built, which starts faster). */
  bin?: string;
  /** Learner steps of the run (the smoke config with this many steps, a checkpoint every 2). */
  steps: number;
  /** `rollout.dynamicSampling` of the run (backfills in flight and held filtered groups at each interruption). */
  dynamicSampling?: DynamicSamplingInput;
  /** `staleness.policy` (default sync): one-step-off has the next step in flight at every checkpoint. */
  policy?: 'sync' | 'one-step-off';
  /** Working directory (kept); a fresh temporary one when absent. */
  dir?: string;
  /** Per-process limit: a process still running after it is a hang (killed, reported). */
  processTimeoutMs?: number;
  onTrial?: (t: TrialResult) => void;
}

export interface TrialResult {
  trial: number;
  signal: 'SIGINT' | 'SIGKILL';
  /** When the signal was sent, ms after the process started (null: the run had finished first). */
  atMs: number | null;
  /** What the run was doing when the signal arrived (from its transitions.jsonl). */
  phase: string;
  exitCode: number | null;
  /** A second interruption during the first resume, if any. */
  second: { signal: 'SIGINT' | 'SIGKILL'; atMs: number | null; phase: string; exitCode: number | null } | null;
  resumes: number;
  ok: boolean;
  problems: string[];
}

interface RunFacts {
  weightsSha256: string;
  counts: Record<string, number>;
  stalenessByStep: number[];
  steps: number[];
  evalLines: number;
}

function facts(dir: string): RunFacts {
  const s = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as Record<string, unknown>;
  const lines = fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const stepLines = lines.filter((l) => l.type === undefined);
  return {
    weightsSha256: String(s.weightsSha256),
    counts: Object.fromEntries(
      [
        'rolloutsGenerated',
        'rolloutsTrained',
        'rolloutsDroppedStale',
        'rolloutsDroppedInvalid',
        'rolloutsDroppedFiltered',
        'rolloutsLost',
        'steps',
        // every token once across the pieces (a group being verified at a checkpoint is generated again)
        'tokensGenerated',
      ].map((k) => [k, Number(s[k])]),
    ),
    stalenessByStep: stepLines.map((l) => Number(l.stalenessMax)),
    steps: stepLines.map((l) => Number(l.step)),
    evalLines: lines.filter((l) => l.type === 'eval').length,
  };
}

/**
 * The coordinator's last state, `done`: every step trained and checkpointed and every actor
 * stopped; what is left is writing summary.json and exiting, with no event-loop turn of its own. A
 * SIGINT then has nothing left to interrupt, and one that has arrived but is not yet dispatched
 * when the process exits is never seen (a run of the CI found one: exit 0, the run whole).
 */
const FINISHED = 'finished (writing its summary)';

/** The run's phase now, read from the tail of its transitions.jsonl. */
function phaseOf(dir: string): string {
  const file = path.join(dir, 'transitions.jsonl');
  if (!fs.existsSync(file)) return 'start-up (no log yet)';
  const state = new Map<string, string>();
  for (const l of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!l) continue;
    try {
      const t = JSON.parse(l) as { actor: string; to: string };
      state.set(t.actor, t.to);
    } catch {
      // a line being written
    }
  }
  const c = state.get('coordinator');
  if (!c || c === 'starting') return 'start-up';
  if (c === 'checkpointing') return 'checkpoint writing';
  if (c === 'done') return FINISHED;
  if (c === 'stopping') return 'stopping';
  const l = state.get('learner');
  if (l === 'training') return 'training';
  if (l === 'publishing') return 'publishing';
  return 'sampling';
}

/**
 * When a signal is sent: `atMs` after the process starts, or `delayMs` after its metrics.jsonl holds
 * `afterSteps` step rows — a moment tied to the run's progress, so that a run faster than the
 * reference (a quieter machine) is still interrupted inside its training.
 */
type Moment = { atMs: number } | { afterSteps: number; delayMs: number };

/** Step rows in a run directory's metrics.jsonl. */
function stepRows(dir: string): number {
  const f = path.join(dir, 'metrics.jsonl');
  if (!fs.existsSync(f)) return 0;
  let n = 0;
  for (const line of fs.readFileSync(f, 'utf8').split('\n')) if (line.startsWith('{"step"')) n++;
  return n;
}

function launch(
  bin: string,
  args: string[],
  signalAt: ({ signal: NodeJS.Signals; dir: string } & Moment) | null,
  timeoutMs: number,
  logFile?: string,
): Promise<{ code: number | null; phase: string | null; stderr: string; firedAtMs: number | null }> {
  return new Promise((resolve) => {
    const t0 = wallNow();
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    let phase: string | null = null;
    let firedAtMs: number | null = null;
    const timers: NodeJS.Timeout[] = [];
    let poll: NodeJS.Timeout | undefined;
    if (signalAt) {
      const fire = () => {
        phase = phaseOf(signalAt.dir);
        firedAtMs = Math.round(wallNow() - t0);
        child.kill(signalAt.signal);
      };
      if ('atMs' in signalAt) timers.push(setTimeout(fire, signalAt.atMs));
      else
        poll = setInterval(() => {
          if (stepRows(signalAt.dir) < signalAt.afterSteps) return;
          clearInterval(poll);
          timers.push(setTimeout(fire, signalAt.delayMs));
        }, 10);
    }
    timers.push(
      setTimeout(() => {
        stderr += `\n[stress] still running after ${timeoutMs} ms: killed (a hang)`;
        child.kill('SIGKILL');
      }, timeoutMs),
    );
    child.on('exit', (code, sig) => {
      for (const t of timers) clearTimeout(t);
      clearInterval(poll);
      if (logFile) fs.appendFileSync(logFile, `$ e3sim ${args.join(' ')}\n${stderr}\n[exit ${code ?? sig}]\n`);
      // killed by the signal itself (before the CLI handles it): the shell's 128 + signal number
      resolve({
        code: code ?? (sig === 'SIGKILL' ? 137 : sig === 'SIGINT' ? 130 : null),
        phase,
        stderr,
        firedAtMs,
      });
    });
  });
}

/** How a finished trial's run directory differs from the uninterrupted reference (empty: it does not). */
function differences(dir: string, reference: RunFacts): string[] {
  const problems: string[] = [];
  const f = facts(dir);
  if (f.weightsSha256 !== reference.weightsSha256) problems.push('weights differ from the uninterrupted run');
  for (const [k, v] of Object.entries(reference.counts))
    if (f.counts[k] !== v) problems.push(`${k} ${f.counts[k]} (uninterrupted: ${v})`);
  if (JSON.stringify(f.steps) !== JSON.stringify(reference.steps))
    problems.push(`metrics.jsonl steps ${f.steps.join(',')} (expected ${reference.steps.join(',')})`);
  if (JSON.stringify(f.stalenessByStep) !== JSON.stringify(reference.stalenessByStep))
    problems.push('staleness per step differs');
  if (f.evalLines !== reference.evalLines)
    problems.push(`${f.evalLines} eval lines (uninterrupted: ${reference.evalLines})`);
  try {
    JSON.parse(fs.readFileSync(path.join(dir, 'trace.json'), 'utf8'));
  } catch (e) {
    problems.push(`trace.json does not parse: ${(e as Error).message.slice(0, 80)}`);
  }
  const bad = fs
    .readFileSync(path.join(dir, 'transitions.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    }).length;
  if (bad) problems.push(`${bad} transitions.jsonl lines do not parse`);
  return problems;
}

/** The smoke config with `o.steps` steps and a checkpoint every 2, written into `work`: its path. */
function stressConfig(work: string, o: StressOptions): string {
  // biome-ignore lint/suspicious/noExplicitAny: a YAML tree edited in place
  const cfg = readYaml(path.join(ROOT, 'examples/smoke.yaml'), 'examples/smoke.yaml') as Record<string, any>;
  cfg.name = 'stress';
  cfg.model.checkpoint = path.join(ROOT, cfg.model.checkpoint);
  cfg.curriculum.stages[0].steps = o.steps;
  cfg.checkpoint = { every: 2, keep: 2 };
  if (o.dynamicSampling) cfg.rollout.dynamicSampling = o.dynamicSampling;
  if (o.policy) cfg.staleness = { policy: o.policy };
  const cfgFile = path.join(work, 'stress.yaml');
  fs.writeFileSync(cfgFile, YAML.stringify(cfg));
  return cfgFile;
}

/** The uninterrupted run: its facts, its wall time and its training window (coordinator running → done). */
async function referenceRun(bin: string, work: string, cfgFile: string, timeout: number) {
  const refDir = path.join(work, 'reference');
  fs.rmSync(refDir, { recursive: true, force: true });
  const t0 = wallNow();
  const ref = await launch(bin, ['train', '--quiet', '--config', cfgFile, '--out', refDir], null, timeout);
  const referenceMs = wallNow() - t0;
  if (ref.code !== 0)
    throw new Error(`the uninterrupted reference run failed (exit ${ref.code}): ${ref.stderr.slice(-2000)}`);
  const tr = fs
    .readFileSync(path.join(refDir, 'transitions.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { t: number; actor: string; to: string });
  const tRun = tr.find((t) => t.actor === 'coordinator' && t.to === 'running')?.t ?? 0;
  const tEnd = tr.filter((t) => t.actor === 'coordinator').at(-1)?.t ?? tRun;
  return { reference: facts(refDir), referenceMs, trainingMs: Math.max(100, Math.min(referenceMs, tEnd - tRun)) };
}

interface TrialContext {
  bin: string;
  work: string;
  cfgFile: string;
  timeout: number;
  reference: RunFacts;
  moment: (rng: Rng) => Moment;
}

/**
 * Trial `i`: a run interrupted at a seeded moment (and, in some trials, again during its first
 * resume), resumed until it finishes (at most 4 times), then compared with the reference.
 */
async function runTrial(i: number, rng: Rng, c: TrialContext): Promise<TrialResult> {
  const dir = path.join(c.work, `trial-${i}`);
  fs.rmSync(dir, { recursive: true, force: true });
  const signal = rng.float() < 0.5 ? ('SIGINT' as const) : ('SIGKILL' as const);
  const when = c.moment(rng);
  const log = `${dir}.log`;
  fs.rmSync(log, { force: true });
  const first = await launch(
    c.bin,
    ['train', '--quiet', '--config', c.cfgFile, '--out', dir],
    { signal, ...when, dir },
    c.timeout,
    log,
  );
  const problems: string[] = [];
  if (first.stderr.includes('[stress]')) problems.push(`the interrupted run hung (${signal} at ${first.firedAtMs} ms)`);
  if (signal === 'SIGINT' && first.code !== 130 && first.code !== 0)
    problems.push(`SIGINT: exit ${first.code}: ${first.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  // Sent while the process ran (it had not exited: the timer fired), yet it trained to the end: the
  // signal was lost (it happened when the start-up guard handed over to the run: runLock handOverSignals).
  // Not when the run had finished (FINISHED): the trial counts among those that came after the end.
  if (signal === 'SIGINT' && first.code === 0 && first.firedAtMs !== null && first.phase !== FINISHED)
    problems.push(`SIGINT at ${first.firedAtMs} ms (${first.phase}) was lost: the run went on to its end, exit 0`);
  let second: TrialResult['second'] = null;
  let secondWhen: Moment | null = null;
  if (rng.float() < 0.3) {
    second = { signal: rng.float() < 0.5 ? 'SIGINT' : 'SIGKILL', atMs: null, phase: '', exitCode: null };
    secondWhen = c.moment(rng);
  }
  let resumes = 0;
  let finished = first.code === 0;
  while (!finished && resumes < 4 && problems.length === 0) {
    resumes++;
    const interrupt = resumes === 1 && second && secondWhen ? { signal: second.signal, ...secondWhen, dir } : null;
    // Stopped before the run directory was made: what a user does is run the command again.
    const again = !fs.existsSync(path.join(dir, 'config.json'));
    const r = await launch(
      c.bin,
      again ? ['train', '--quiet', '--config', c.cfgFile, '--out', dir] : ['train', '--quiet', '--resume', dir],
      interrupt,
      c.timeout,
      log,
    );
    if (interrupt && second) {
      second.phase = r.phase ?? 'finished first';
      second.atMs = r.firedAtMs;
      second.exitCode = r.code;
    }
    if (r.stderr.includes('[stress]')) problems.push(`resume ${resumes} hung`);
    else if (r.code === 0) finished = true;
    else if (!(interrupt && (r.code === 130 || r.code === 137)))
      problems.push(`resume ${resumes}: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  }
  if (finished && problems.length === 0) problems.push(...differences(dir, c.reference));
  else if (!finished && problems.length === 0) problems.push('did not finish within 4 resumes');
  return {
    trial: i,
    signal,
    atMs: first.firedAtMs,
    phase: first.phase ?? 'finished first',
    exitCode: first.code,
    second,
    resumes,
    ok: problems.length === 0,
    problems,
  };
}

export async function runStress(
  o: StressOptions,
): Promise<{ reference: RunFacts; referenceMs: number; trials: TrialResult[] }> {
  const work = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-stress-'));
  fs.mkdirSync(work, { recursive: true });
  const timeout = o.processTimeoutMs ?? 120_000;
  const bin = o.bin ?? BIN;
  const cfgFile = stressConfig(work, o);
  const { reference, referenceMs, trainingMs } = await referenceRun(bin, work, cfgFile, timeout);
  /**
   * A third of the moments anywhere in the run's life (by time), the rest inside its training: after
   * step k (0 ≤ k < steps) and up to one step's time more.
   */
  const stepMs = trainingMs / o.steps;
  const moment = (rng: Rng): Moment =>
    rng.float() < 1 / 3
      ? { atMs: Math.round(200 + rng.float() * referenceMs) }
      : { afterSteps: rng.int(o.steps), delayMs: Math.round(rng.float() * stepMs) };
  const rng = new Rng(`interrupt-stress/${o.seed}`);
  const trials: TrialResult[] = [];
  // `trials` counts real interruptions: a signal that came after the run had already finished
  // is recorded but does not count (at most 2 × trials attempts).
  for (let i = 0; trials.filter((t) => t.exitCode !== 0).length < o.trials && i < 2 * o.trials; i++) {
    const t = await runTrial(i, rng, { bin, work, cfgFile, timeout, reference, moment });
    trials.push(t);
    o.onTrial?.(t);
  }
  return { reference, referenceMs, trials };
}

export function stressTable(r: Awaited<ReturnType<typeof runStress>>): string {
  const rows = r.trials.map(
    (t) =>
      `| ${t.trial} | ${t.signal} at ${t.atMs ?? '—'} ms | ${t.phase} | ${t.exitCode} | ` +
      (`${t.second ? `${t.second.signal} at ${t.second.atMs ?? '—'} ms (${t.second.phase}, exit ${t.second.exitCode})` : '—'}` +
        ` | ${t.resumes} | ${t.ok ? 'identical' : t.problems.join('; ')} |`),
  );
  return [
    '| trial | interruption | phase | exit | second interruption (during the resume) | resumes | outcome |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
