/**
 * Scenario files (`e3sim scenario FILE`): a base train config, the virtual clock's profile and
 * compute mode, fault plans, and sweeps — the grid of cells to run. Each cell is one virtual-clock
 * run with its own run directory; results.json and results.md summarise the grid (learning
 * outcome, throughput, utilisation, staleness distribution per cell; mean [min, max] over seeds).
 */
import fs from 'node:fs';
import path from 'node:path';
import { readYaml } from '../util/yaml.js';
import { z } from 'zod';
import { parseTrainConfig, totalSteps, type TrainConfig } from '../runtime/config.js';
import { InputError } from '../util/errors.js';
import { zodIssues } from '../util/zodIssues.js';
import { formatSpread, mean, spread } from '../util/stats.js';
import { loadProfile, parseProfile } from '../sim/profile.js';
import { SimFaultSchema } from '../core/faults.js';
import { SurrogateSchema } from '../sim/compute.js';
import { defaultSettings, type VirtualSettings } from '../sim/run.js';
import { checkVirtualCurriculum } from '../sim/curriculum.js';
import { MASKED_DEFAULTS } from '../rl/lossConfig.js';

const SweepValue = z.union([z.number(), z.string(), z.boolean(), z.record(z.string(), z.unknown())]);

const Body = z
  .object({
    /** A train config (path relative to the scenario file), overridden by `config`. */
    base: z.string().optional(),
    config: z.record(z.string(), z.unknown()).default({}),
    /** Learner steps per cell (default: all of the config's stages). */
    steps: z.number().int().min(1).optional(),
    clock: z.literal('virtual').default('virtual'),
    profile: z.string().default('cpu-tiny'),
    /** Deep-merged into the profile (e.g. `sampler: { speeds: [1, 1, 3] }` for heterogeneous samplers). */
    profileOverrides: z.record(z.string(), z.unknown()).default({}),
    compute: z.enum(['real', 'none']).default('real'),
    surrogate: SurrogateSchema.default(SurrogateSchema.parse({})),
    faults: z.array(SimFaultSchema).default([]),
    /** Config paths (dot notation) → the values to run; the grid is their product. */
    sweep: z.record(z.string(), z.array(SweepValue).min(1)).default({}),
    transitions: z.boolean().default(true),
    maxEvents: z.number().int().min(1).default(100_000_000),
  })
  .strict();

export const ScenarioSchema = Body.extend({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ - only'),
  description: z.string().default(''),
  /** Overrides for `--quick` (the reduced form CI runs): any top-level field. */
  quick: Body.partial().strict().optional(),
}).strict();
export type Scenario = z.infer<typeof ScenarioSchema>;

export interface Cell {
  name: string;
  params: Record<string, unknown>;
  config: TrainConfig;
  settings: VirtualSettings;
}

export function loadScenario(file: string, quick: boolean): { scenario: Scenario; dir: string } {
  const raw = readYaml(file, 'scenario');
  const r = ScenarioSchema.safeParse(raw);
  if (!r.success) throw new InputError(`${file}: ${zodIssues(r.error, 3)}`);
  if (!quick || !r.data.quick) return { scenario: r.data, dir: path.dirname(path.resolve(file)) };
  // The quick form: the fields `quick:` names replace the scenario's (config is merged), as written — so
  // a field quick leaves out keeps the scenario's value, not the schema default.
  const o = raw as Record<string, unknown>;
  const q = o.quick as Record<string, unknown>;
  const merged = { ...o, ...q, config: deepMerge(o.config ?? {}, q.config ?? {}) };
  delete (merged as Record<string, unknown>).quick;
  const rq = ScenarioSchema.safeParse(merged);
  if (!rq.success) throw new InputError(`${file} (with its quick: overrides): ${zodIssues(rq.error, 3)}`);
  return { scenario: rq.data, dir: path.dirname(path.resolve(file)) };
}

function deepMerge(a: unknown, b: unknown): unknown {
  if (b === undefined) return a;
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b as Record<string, unknown>)) out[k] = deepMerge(out[k], v);
    return out;
  }
  return b;
}

function setPath(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[keys.at(-1)!] = value;
}

const LEVEL_OF = { 'masked-token': 'token', 'masked-seq': 'sequence', 'masked-geo': 'geometric' } as const;

/**
 * Shorthands: `none`, `tis[:C]`, `tis-seq[:C]`, `decoupled[:C]`, `drop[:LAG]` (defaults 2, 2, 2, 1),
 * `masked-token|masked-seq|masked-geo[:LOW:HIGH]` (defaults: lossConfig MASKED_DEFAULTS) and `icepop`
 * (masked-token with IcePop's [0.5, 5]). Objects pass through (the config schema checks them).
 */
export function correctionOf(v: unknown, field: string): unknown {
  if (typeof v !== 'string') return v;
  const num = '(\\d+(?:\\.\\d+)?)';
  const m = new RegExp(`^(none|tis|tis-seq|decoupled|drop)(?::${num})?$`).exec(v);
  const mm = new RegExp(`^(masked-token|masked-seq|masked-geo|icepop)(?::${num}:${num})?$`).exec(v);
  const topr = new RegExp(`^topr(?::${num})?$`).exec(v);
  const asym = new RegExp(`^asym-clip(?::${num}(?::(\\d+))?)?$`).exec(v);
  if (!m && !mm && !topr && !asym)
    throw new InputError(
      `${field}: '${v}': expected none, tis[:C], tis-seq[:C], decoupled[:C], drop[:LAG], ` +
        'masked-token|masked-seq|masked-geo[:LOW:HIGH], icepop, topr[:C] or asym-clip[:HIGH[:MINLAG]]',
    );
  if (topr) return { kind: 'topr', c: topr[1] === undefined ? 1 : Number(topr[1]) };
  if (asym) {
    const high = asym[1] === undefined ? 3 : Number(asym[1]);
    if (!(high > 1)) throw new InputError(`${field}: '${v}': HIGH must be above 1`);
    return { kind: 'asym-clip', high, minLag: asym[2] === undefined ? 1 : Number(asym[2]) };
  }
  if (mm) {
    const level = mm[1] === 'icepop' ? 'token' : LEVEL_OF[mm[1] as keyof typeof LEVEL_OF];
    const d = MASKED_DEFAULTS[level];
    const out = {
      kind: 'masked',
      level,
      low: mm[2] === undefined ? d.low : Number(mm[2]),
      high: mm[3] === undefined ? d.high : Number(mm[3]),
    };
    if (!(out.low < out.high))
      throw new InputError(`${field}: '${v}': low (${out.low}) must be below high (${out.high})`);
    return out;
  }
  const x = m![2] === undefined ? undefined : Number(m![2]);
  switch (m![1]) {
    case 'none':
      return { kind: 'none' };
    case 'tis':
      return { kind: 'tis', c: x ?? 2 };
    case 'tis-seq':
      return { kind: 'tis', c: x ?? 2, level: 'sequence' };
    case 'decoupled':
      return { kind: 'decoupled', c: x ?? 2 };
    default:
      return { kind: 'drop', maxLag: x ?? 1 };
  }
}

/** Applies one sweep value; `staleness.bound` maps 0 → sync, n → async η = n, inf → async unbounded. */
function applySweep(cfg: Record<string, unknown>, key: string, value: unknown, field: string): void {
  if (key === 'staleness.bound') {
    if (value === 0) return setPath(cfg, 'staleness', { policy: 'sync' });
    if (value === 'inf') return setPath(cfg, 'staleness', { policy: 'async', eta: 'inf' });
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
      throw new InputError(`${field}: '${String(value)}': expected a whole number ≥ 0 or inf`);
    return setPath(cfg, 'staleness', { policy: 'async', eta: value });
  }
  if (key === 'learner.correction') return setPath(cfg, key, correctionOf(value, field));
  setPath(cfg, key, value);
}

/** A sweep value as text: objects by their values joined with '-' (cell names, table rows). */
export function label(v: unknown): string {
  if (v && typeof v === 'object')
    return Object.values(v as Record<string, unknown>)
      .map(String)
      .join('-');
  return String(v);
}

/** The grid's cells in a fixed order (the sweep keys as written, the last varying fastest). */
export function expandCells(s: Scenario, scenarioDir: string): Cell[] {
  let base: Record<string, unknown> = {};
  if (s.base) {
    const file = path.resolve(scenarioDir, s.base);
    const raw = readYaml(file, `scenario base '${s.base}'`);
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      throw new InputError(`scenario base '${s.base}': '${file}' is not a config (a YAML mapping)`);
    base = raw as Record<string, unknown>;
    // A relative model checkpoint in the base config is relative to the working directory, as for `e3sim train`.
  }
  const merged = deepMerge(base, s.config) as Record<string, unknown>;
  const loaded = loadProfile(s.profile, 'scenario profile', scenarioDir);
  const profile = parseProfile(deepMerge(loaded, s.profileOverrides), `scenario ${s.name}: profileOverrides`);
  const keys = Object.keys(s.sweep);
  let combos: Record<string, unknown>[] = [{}];
  for (const k of keys) combos = combos.flatMap((c) => s.sweep[k]!.map((v) => ({ ...c, [k]: v })));
  return combos.map((params) => {
    const raw = structuredClone(merged);
    for (const [k, v] of Object.entries(params)) applySweep(raw, k, v, `sweep.${k}`);
    const name = keys.length
      ? keys
          .map((k) => `${k.split('.').at(-1)}=${label(params[k])}`)
          .join(',')
          .replace(/[^A-Za-z0-9.,=_-]/g, '_')
      : 'base';
    const config = parseTrainConfig(raw, `scenario ${s.name}, cell ${name}`);
    checkVirtualCurriculum(config, s.compute, `scenario ${s.name}, cell ${name}`);
    const maxSteps = s.steps ?? totalSteps(config);
    const settings = defaultSettings(profile, maxSteps, {
      compute: s.compute,
      surrogate: s.surrogate,
      faults: s.faults,
      transitions: s.transitions,
      maxEvents: s.maxEvents,
    });
    return { name, params, config, settings };
  });
}

export interface CellResult {
  name: string;
  params: Record<string, unknown>;
  status: string;
  error?: string;
  summary: Record<string, unknown>;
  /** Mean pass rate over the last (up to) 5 steps' training batches. */
  trainPassLast: number | null;
  /** Held-out pass@1 at each eval budget from the last eval, when the config has `eval`. */
  evalPass1: Record<string, number> | null;
}

/** The largest lag with any rollouts. */
function histMax(h: (number | null)[]): number {
  return h.reduce<number>((m, c, lag) => ((c ?? 0) > 0 ? lag : m), 0);
}

const agg = (xs: number[], digits: number) => formatSpread(spread(xs), digits, { single: 'mean' });

/** results.md: one row per parameter combination, seeds aggregated as mean [min, max]. */
/** One column of the scenario table: its header and its text for a group's finished cells. */
type Column = [head: string, text: (ok: CellResult[]) => string];

/** A column aggregating one number per finished cell (agg: mean with min–max). */
function numberColumn(head: string, f: (r: CellResult) => unknown, digits: number): Column {
  return [
    head,
    (ok) =>
      agg(
        ok.map(f).filter((x): x is number => typeof x === 'number' && Number.isFinite(x)),
        digits,
      ),
  ];
}

/** The table's columns after the swept keys and the seed count (learning outcome with real compute, faults when planned). */
function resultColumns(s: Scenario): Column[] {
  const staleness = (r: CellResult) => r.summary.staleness as { mean: number; histogram: number[] };
  const utilisation = (r: CellResult) => r.summary.utilisation as { samplers: number; learner: number };
  const evalFirst = (r: CellResult) => (r.evalPass1 ? Object.values(r.evalPass1)[0] : undefined);
  const histogram = (ok: CellResult[]) => {
    const hist: number[] = [];
    for (const r of ok) (staleness(r).histogram ?? []).forEach((c, i) => (hist[i] = (hist[i] ?? 0) + (c ?? 0)));
    return hist.map((c, i) => `${i}:${c}`).join(' ') || '—';
  };
  return [
    ...(s.compute === 'real'
      ? [numberColumn('final train pass', (r) => r.trainPassLast, 3), numberColumn('eval pass@1', evalFirst, 3)]
      : []),
    numberColumn('steps/sim-h', (r) => r.summary.stepsPerSimHour, 0),
    numberColumn('tokens/sim-s', (r) => r.summary.tokensPerSimSecond, 0),
    numberColumn('util samplers', (r) => utilisation(r).samplers, 2),
    numberColumn('util learner', (r) => utilisation(r).learner, 2),
    numberColumn('staleness mean', (r) => staleness(r).mean, 2),
    numberColumn('staleness max', (r) => histMax(staleness(r).histogram), 0),
    ['staleness histogram (lag:rollouts)', histogram],
    numberColumn('dropped stale', (r) => r.summary.rolloutsDroppedStale, 0),
    numberColumn('dropped invalid', (r) => r.summary.rolloutsDroppedInvalid, 0),
    numberColumn('lost', (r) => r.summary.rolloutsLost, 0),
    ...(s.faults.length
      ? [
          numberColumn('faults fired', (r) => (r.summary.faultsFired as string[]).length, 0),
          numberColumn('restarts', (r) => r.summary.restarts, 0),
        ]
      : []),
  ];
}

export function resultsMarkdown(s: Scenario, results: CellResult[], command: string): string {
  const keys = Object.keys(s.sweep).filter((k) => k !== 'seed');
  const groups = new Map<string, CellResult[]>();
  for (const r of results) {
    const k = JSON.stringify(keys.map((x) => r.params[x]));
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const real = s.compute === 'real';
  const columns = resultColumns(s);
  const head = [...keys, 'seeds', ...columns.map(([h]) => h), 'failed cells'];
  const lines = [
    `# ${s.name}`,
    '',
    s.description.trim(),
    '',
    `Command: \`${command}\``,
    '',
    `Clock: virtual; profile: ${s.profile}; compute: ${s.compute}; faults: ${s.faults.length}.`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
  ];
  for (const rs of groups.values()) {
    const ok = rs.filter((r) => r.status === 'done');
    const row = [
      ...keys.map((k) => label(rs[0]!.params[k])),
      String(rs.length),
      ...columns.map(([, text]) => text(ok)),
      String(rs.length - ok.length),
    ];
    lines.push(`| ${row.join(' | ')} |`);
  }
  const failed = results.filter((r) => r.status !== 'done');
  if (failed.length) lines.push('', '## Failed cells', '', ...failed.map((r) => `- ${r.name}: ${r.error}`));
  lines.push(
    '',
    `Columns: final train pass = mean pass rate of the last ≤ 5 training batches; eval pass@1 = held-out pass@1 at the first eval budget after the last step${real ? '' : ' (compute: none has no learning outcome)'}; steps/sim-h and tokens/sim-s per simulated hour / second; util = busy fraction; staleness = learner version − oldest token version, over every valid rollout when its batch formed (trained and dropped-stale).`,
    '',
  );
  return lines.join('\n');
}

/** A finished cell's learning outcome from its metrics.jsonl (read once): see CellResult. */
export function cellOutcome(metricsFile: string): Pick<CellResult, 'trainPassLast' | 'evalPass1'> {
  if (!fs.existsSync(metricsFile)) return { trainPassLast: null, evalPass1: null };
  const lines = fs
    .readFileSync(metricsFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const last = lines
    .filter((m) => m.type === undefined)
    .slice(-5)
    .map((m) => m.passRate as number);
  const ev = lines.filter((m) => m.type === 'eval').at(-1) as
    | { budgets?: { budget: number; passAt: Record<string, number> }[] }
    | undefined;
  return {
    trainPassLast: last.length ? mean(last) : null,
    evalPass1: ev?.budgets ? Object.fromEntries(ev.budgets.map((r) => [String(r.budget), r.passAt['1'] ?? NaN])) : null,
  };
}
