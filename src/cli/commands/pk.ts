import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { initBackend } from '../../tensor/backend.js';
import {
  runPk,
  checkPkOptions,
  parseAdvantage,
  formatAdvantage,
  PK_PRESETS,
  PK_DEFAULT_PRESET,
  PK_CORRECTIONS,
  PK_STALENESS_MAX,
  type PkLogRow,
  type PkPresetName,
  type PkSettings,
  type PkSummary,
} from '../../experiments/pk.js';
import { renderPkReport, type PkRun } from '../../report/pkHtml.js';
import { wallNow } from '../../runtime/clock.js';
import { parseFloatFlag, parseIntFlag, parseSeed, printJson } from '../common.js';
import { progress } from '../progress.js';
import { InputError } from '../../util/errors.js';
import { spread as spreadOf, formatSpread } from '../../util/stats.js';
import { writeFileAtomic } from '../../util/atomic.js';

function choice<T extends string>(value: string, flag: string, options: readonly T[]): T {
  if (!(options as readonly string[]).includes(value))
    throw new InputError(`${flag}: expected one of ${options.join(' | ')}, got '${value}'`);
  return value as T;
}

interface PkFlags {
  preset: string;
  negatives: string;
  seed: string;
  seeds: string;
  steps?: string;
  budget?: string;
  actions?: string;
  group?: string;
  advantage?: string;
  optimizer?: string;
  lr?: string;
  reduce?: string;
  trajectoryLoss?: string;
  lengthFrom?: string;
  initRange?: string;
  logEvery?: string;
  html?: string;
  json?: boolean;
  quiet?: boolean;
  staleness: string;
  correction: string;
}

/** `--staleness 0,2,8,32`: distinct whole numbers 0…PK_STALENESS_MAX, in the order given. */
export function parseStalenessList(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p) || Number(p) > PK_STALENESS_MAX)
      throw new InputError(
        `--staleness: expected whole numbers 0…${PK_STALENESS_MAX} separated by commas (e.g. 0,2,8,32), got '${text}'`,
      );
    if (!out.includes(Number(p))) out.push(Number(p));
  }
  return out;
}

/** The preset's settings with every flag the user gave on top (flags name what they change). */
export function resolvePkSettings(f: Omit<PkFlags, 'negatives' | 'seed' | 'seeds' | 'staleness' | 'correction'>): {
  preset: PkPresetName;
  settings: PkSettings;
} {
  const preset = choice(f.preset, '--preset', Object.keys(PK_PRESETS) as PkPresetName[]);
  const p = PK_PRESETS[preset];
  const steps = f.steps === undefined ? p.steps : parseIntFlag(f.steps, '--steps', 1, 10_000_000);
  let advantage = p.advantage;
  if (f.advantage !== undefined) {
    const a = parseAdvantage(f.advantage);
    if (!a)
      throw new InputError(
        `--advantage: expected group | baseline | baseline:B (B a number, |B| ≤ 1000) | baseline:mean, got '${f.advantage}'`,
      );
    advantage = a;
  }
  const settings: PkSettings = {
    steps,
    budget: f.budget === undefined ? p.budget : parseIntFlag(f.budget, '--budget', 1, 10_000),
    actions: f.actions === undefined ? p.actions : parseIntFlag(f.actions, '--actions', 2, 10_000),
    groupSize: f.group === undefined ? p.groupSize : parseIntFlag(f.group, '--group', 1, 100_000),
    advantage,
    optimizer: f.optimizer === undefined ? p.optimizer : choice(f.optimizer, '--optimizer', ['sgd', 'adam'] as const),
    lr: f.lr === undefined ? p.lr : parseFloatFlag(f.lr, '--lr', 0, 1e6),
    reduce: f.reduce === undefined ? p.reduce : choice(f.reduce, '--reduce', ['sum', 'mean'] as const),
    trajectoryLoss:
      f.trajectoryLoss === undefined
        ? p.trajectoryLoss
        : choice(f.trajectoryLoss, '--trajectory-loss', ['mean', 'sum'] as const),
    lengthFrom:
      f.lengthFrom === undefined ? p.lengthFrom : choice(f.lengthFrom, '--length-from', ['first', 'second'] as const),
    logEvery: Math.min(
      steps,
      f.logEvery === undefined ? p.logEvery : parseIntFlag(f.logEvery, '--log-every', 1, 10_000_000),
    ),
    init: {
      ...p.init,
      ...(f.initRange === undefined ? {} : { range: parseFloatFlag(f.initRange, '--init-range', 0, 50) }),
    },
  };
  const problem = checkPkOptions(settings);
  if (problem) throw new InputError(`--${problem}`);
  return { preset, settings };
}

const fmt = (x: number | null, d = 3) => (x === null ? '—' : x.toFixed(d));
const SPREAD_KEYS = [
  'lengthStart',
  'lengthPeak',
  'lengthPeakStep',
  'lengthEnd',
  'expectedLengthStart',
  'expectedLengthPeak',
  'expectedLengthEnd',
  'expectedLengthMaxChange',
  'rewardEnd',
  'rewardMax',
  'iterationOfTransition',
  'pStopStart',
  'pStopEnd',
  'entropyStart',
  'entropyPeak',
  'entropyEnd',
  'negativeStepsEntropyUpFraction',
] as const;

function spreads(summaries: PkSummary[]) {
  return Object.fromEntries(
    SPREAD_KEYS.map((k) => [k, spreadOf(summaries.map((s) => s[k]).filter((x): x is number => typeof x === 'number'))]),
  );
}

/** A file the run will write: its directory must exist; it is written at the end, through a temp file and a rename. */
function checkOutFile(file: string, flag: string): string {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    throw new InputError(`${flag}: directory '${dir}' does not exist`);
  if (fs.existsSync(abs) && fs.statSync(abs).isDirectory())
    throw new InputError(`${flag}: '${file}' is a directory (expected a file name)`);
  return abs;
}

/**
 * The staleness table (issue #31): per arm and η, the length peak and the transition iteration
 * as mean [min, max] over seeds, how many seeds transitioned, and the window-mean |Δ log p| and ESS.
 */
export function stalenessTable(
  runs: PkRun[],
  arms: readonly string[],
  etas: readonly number[],
  correction: string,
): string {
  const lines = [
    `# correction ${correction}: length peak and transition (window reward ≥ 0.9) by η, mean [min, max] over seeds`,
    `${'arm'.padEnd(6)} ${'η'.padStart(4)} ${'length peak'.padEnd(28)} ${'transition at'.padEnd(28)} seeds  |Δlog p|   ESS`,
  ];
  for (const a of arms)
    for (const eta of etas) {
      const rs = runs.filter((r) => r.summary.negatives === a && r.summary.staleness === eta);
      if (!rs.length) continue;
      const peak = spreadOf(rs.map((r) => r.summary.lengthPeak));
      const at = rs.map((r) => r.summary.iterationOfTransition).filter((x): x is number => x !== null);
      const dlp = rs.flatMap((r) => r.log.map((l) => l.logRatioAbsMean));
      const ess = rs.flatMap((r) => r.log.map((l) => l.essFraction));
      const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length);
      const transition = at.length ? formatSpread(spreadOf(at)!, 0) : 'none';
      lines.push(
        `${a.padEnd(6)} ${String(eta).padStart(4)} ${formatSpread(peak!, 2).padEnd(28)} ${transition.padEnd(28)}` +
          ` ${`${at.length}/${rs.length}`.padStart(5)}  ${mean(dlp).toFixed(3).padStart(8)} ${mean(ess).toFixed(3).padStart(5)}`,
      );
    }
  return `${lines.join('\n')}\n`;
}

export function registerPk(program: Command): void {
  const d = PK_PRESETS[PK_DEFAULT_PRESET];
  program
    .command('pk')
    .description(
      'the p^k experiment of E3.md: a softmax bigram over N actions + stop trained through src/rl, GRPO (keep) against GRPOMask (mask) (see docs/PK.md)',
    )
    .option(
      '--preset <p>',
      `paper-fig7 (what Fig 7 needs) | paper-text (what E3.md's text states); flags below override it`,
      PK_DEFAULT_PRESET,
    )
    .option('--negatives <m>', 'keep (GRPO) | mask (GRPOMask: zero the terms with negative advantage) | both', 'both')
    .option('--seed <s>', 'first seed', '0')
    .option('--seeds <k>', 'number of seeds (seed, seed+1, …)', '1')
    .option('--steps <n>', `iterations, one optimiser step each (preset: ${d.steps})`)
    .option('--actions <n>', `non-stop actions, a* among them (preset: ${d.actions}; paper-text 100)`)
    .option(
      '--advantage <a>',
      `group (GRPO, normalised over --group) | baseline[:B] (A = r − B, B 0.5 by default) | baseline:mean (running mean reward) (preset: ${formatAdvantage(d.advantage)})`,
    )
    .option('--group <g>', `trajectories per iteration; 1 = one trajectory per update (preset: ${d.groupSize})`)
    .option('--optimizer <o>', `sgd | adam (preset: ${d.optimizer})`)
    .option('--lr <x>', `optimiser step size (preset: ${d.lr})`)
    .option('--reduce <r>', `sum | mean: how the per-trajectory losses of an iteration combine (preset: ${d.reduce})`)
    .option(
      '--trajectory-loss <t>',
      `mean ((1/|τ|) Σ_t log π · A, as stated) | sum (Σ_t log π · A) (preset: ${d.trajectoryLoss})`,
    )
    .option('--length-from <w>', `first (count a₁) | second (count the actions after a₁) (preset: ${d.lengthFrom})`)
    .option('--budget <n>', `episode budget B_tr (actions) (preset: ${d.budget})`)
    .option('--init-range <x>', 'M ~ U[−x, x] before M[·,stop]=4, M[·,a*]=−4 (paper: 3)')
    .option('--log-every <n>', `iterations per logged row (preset: ${d.logEvery})`)
    .option(
      '--html <file>',
      'also write a self-contained HTML plot of length, p(stop), reward and entropy (keep and mask, one thin line a seed)',
    )
    .option(
      '--staleness <list>',
      'η: iterations between the policy that samples a trajectory and the one it trains (issue #31); a list runs each, e.g. 0,2,8,32',
      '0',
    )
    .option('--correction <c>', `the loss's staleness correction: ${PK_CORRECTIONS.join(' | ')}`, 'none')
    .option('--json', 'print one JSON document (per-iteration logs, summaries, spread over seeds)')
    .option('--quiet', 'no progress on stderr')
    .action(pkCommand);
}

/** `e3sim pk`: every η × arm × seed run in turn, then the text, JSON and HTML outputs. */
async function pkCommand(f: PkFlags): Promise<void> {
  const { preset, settings } = resolvePkSettings(f);
  const arms =
    f.negatives === 'both'
      ? (['keep', 'mask'] as const)
      : [choice(f.negatives, '--negatives', ['keep', 'mask', 'both'] as const) as 'keep' | 'mask'];
  const etas = parseStalenessList(f.staleness);
  const correction = choice(f.correction, '--correction', PK_CORRECTIONS);
  const seed0 = parseSeed(f.seed);
  const nSeeds = parseIntFlag(f.seeds, '--seeds', 1, 1000);
  const htmlFile = f.html === undefined ? undefined : checkOutFile(f.html, '--html');
  await initBackend('cpu'); // a table of a few hundred rows: the loss's tensors are tiny, cpu is fastest
  const runs: PkRun[] = [];
  const t00 = wallNow();
  const lagged = etas.some((e) => e > 0);
  for (const eta of etas)
    for (const negatives of arms)
      for (let k = 0; k < nSeeds; k++) {
        const tag = `${negatives}${lagged ? `, η ${eta}, ${correction}` : ''}`;
        runs.push(runOne(f, preset, tag, { ...settings, negatives, seed: seed0 + k, staleness: eta, correction }));
      }
  const wallSeconds = (wallNow() - t00) / 1000;
  // per arm (and per η when lagged: keys like 'keep η=8')
  const groups = etas.flatMap((eta) => arms.map((a) => ({ a, eta, key: lagged ? `${a} η=${eta}` : a })));
  const spread = Object.fromEntries(
    groups.map((g) => [
      g.key,
      spreads(runs.filter((r) => r.summary.negatives === g.a && r.summary.staleness === g.eta).map((r) => r.summary)),
    ]),
  );
  if (htmlFile) {
    writeFileAtomic(htmlFile, renderPkReport({ preset, settings, runs }));
    if (!f.json) process.stdout.write(`wrote ${htmlFile}\n`);
  }
  if (f.json) {
    const only = runs.length === 1 ? runs[0]!.summary : {};
    return printJson({
      ...only,
      preset,
      config: {
        ...settings,
        advantage: formatAdvantage(settings.advantage),
        negatives: arms,
        staleness: etas,
        correction,
        seeds: Array.from({ length: nSeeds }, (_, k) => seed0 + k),
      },
      runs,
      spread,
      wallSeconds,
    });
  }
  if (nSeeds > 1)
    for (const g of groups) {
      process.stdout.write(`# ${g.key} over ${nSeeds} seeds: mean [min, max]\n`);
      for (const k of SPREAD_KEYS)
        if (spread[g.key]![k]) process.stdout.write(`${k.padEnd(32)} ${formatSpread(spread[g.key]![k]!, 4)}\n`);
    }
  if (lagged && !f.json) process.stdout.write(stalenessTable(runs, arms, etas, correction));
  process.stdout.write(`${runs.length} runs in ${wallSeconds.toFixed(1)} s\n`);
}

/** One arm, η and seed: its rows on stdout (unless --json) and a progress bar on stderr (unless --quiet). */
function runOne(f: PkFlags, preset: string, tag: string, o: Parameters<typeof runPk>[0]): PkRun {
  const bar = progress(`pk ${preset} ${tag} seed ${o.seed}`, o.steps, Boolean(f.quiet || f.json));
  const t0 = wallNow();
  if (!f.json) process.stdout.write(`# ${preset}, ${tag}, seed ${o.seed}\n${ROW_HEADER}`);
  const r = runPk(o, (row: PkLogRow) => {
    bar.update(row.step, {
      length: row.meanLength.toFixed(2),
      reward: row.reward.toFixed(3),
      pStop: row.pStop.toFixed(4),
    });
    if (!f.json) process.stdout.write(rowLine(row));
  });
  bar.stop();
  const wallSeconds = (wallNow() - t0) / 1000;
  if (!f.json) process.stdout.write(summaryLine(r.summary, wallSeconds));
  return { ...r, wallSeconds };
}

const ROW_HEADER =
  `${'iteration'.padStart(9)} ${'episodes'.padStart(10)}` +
  ` ${'length'.padStart(7)} ${'E[len]'.padStart(7)} ${'reward'.padStart(7)}` +
  ` ${'p(stop)'.padStart(8)} ${'entropy'.padStart(8)} ${'p(a*)'.padStart(9)}` +
  ` ${'updates'.padStart(8)}\n`;

/** One logged iteration, under ROW_HEADER. */
function rowLine(row: PkLogRow): string {
  return (
    `${String(row.step).padStart(9)} ${String(row.episodes).padStart(10)}` +
    ` ${row.meanLength.toFixed(2).padStart(7)}` +
    ` ${row.expectedLength.toFixed(2).padStart(7)} ${row.reward.toFixed(4).padStart(7)}` +
    ` ${row.pStop.toFixed(4).padStart(8)} ${row.entropy.toFixed(4).padStart(8)}` +
    ` ${row.pAnswer.toExponential(2).padStart(9)} ${String(row.updates).padStart(8)}` +
    `\n`
  );
}

/** A run's summary in one line: length, reward and transition, p(stop), entropy, the theorem's count. */
function summaryLine(s: PkSummary, wallSeconds: number): string {
  return (
    `length ${fmt(s.lengthStart, 2)} → peak ${fmt(s.lengthPeak, 2)} (iteration ${s.lengthPeakStep}` +
    `) → ${fmt(s.lengthEnd, 2)} (exact expectation ${fmt(s.expectedLengthStart, 2)}` +
    ` → peak ${fmt(s.expectedLengthPeak, 2)} → ${fmt(s.expectedLengthEnd, 2)}` +
    `); ` +
    `reward ${fmt(s.rewardEnd)}, transition (window reward ≥ 0.9) ${s.iterationOfTransition === null ? 'none' : `at ${s.iterationOfTransition}`}; ` +
    (`p(stop) ${fmt(s.pStopStart, 4)} → ${fmt(s.pStopEnd, 4)}; entropy ${fmt(s.entropyStart)}` +
      ` → peak ${fmt(s.entropyPeak)} (${s.entropyPeakStep}) → ${fmt(s.entropyEnd)}` +
      `; `) +
    (s.negativeStepsEntropyUpFraction === null
      ? ''
      : `negative-only updates that raised entropy ${fmt(s.negativeStepsEntropyUpFraction)} (argmax mass ${fmt(s.negativeStepsArgmaxMass)}); `) +
    `${wallSeconds.toFixed(1)} s\n`
  );
}
