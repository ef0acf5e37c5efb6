/**
 * A scenario grid's learning outcome with its uncertainty (issue #19): per parameter combination,
 * held-out pass@1 pooled over seeds with a 95% bootstrap CI over problems (stratified by seed),
 * the paired difference to the grid's first combination (same seed, same problems, same sample
 * streams), and the cells' own mechanism figures averaged over their steps — PPO clip fractions,
 * ESS/N of the importance weights, |log π_θ − log μ|, the mismatch KL at the behaviour version,
 * tokens masked by IS, rollouts dropped stale, trained length. With a `staleness.bound` key the
 * report draws pass@1 against η, one line per other combination (report.html, inline SVG).
 */
import fs from 'node:fs';
import path from 'node:path';
import { passAtK } from '../rl/passk.js';
import { bootstrapMeanCi, formatCi, mean, type Ci } from '../util/stats.js';
import { escapeHtml } from '../report/html.js';
import { label, type CellResult } from './scenario.js';

export interface CellFigures {
  name: string;
  params: Record<string, unknown>;
  seed: number;
  /** pass@1 per held-out problem at the final evaluation's first budget. */
  pass1: number[];
  budget: number | null;
  /**
   * The same at the evaluation's last budget, when it has more than one (e3's extrapolation: the
   * first budget B_tr, the last a multiple of it); absent otherwise.
   */
  pass1Last?: number[];
  budgetLast?: number;
  /** Means over the cell's steps (NaN-free; null when no step has the figure). */
  figures: Record<string, number | null>;
}

export interface Combination {
  key: string;
  params: Record<string, unknown>;
  seeds: number[];
  pass1: Ci;
  pass1PerSeed: number[];
  /** Paired pass@1 difference to the first combination (null for the first itself). */
  delta: Ci | null;
  /** With a last budget: pass@1 there, its paired Δ to the first combination, and the gain last − first. */
  last?: { pass1: Ci; delta: Ci | null; gain: Ci; ratio: number | null };
  figures: Record<string, number | null>;
}

/** A cell's final evaluation row, as far as the figures read it. */
interface EvalRow {
  samples: number;
  budgets: { budget: number; correct: number[]; meanUniqueAttempts?: number; meanLength?: number }[];
}

/**
 * Figures of a cell, and how: means over its step rows unless said; the `…First` / `…Last` ones
 * from its final evaluation at the first and last budget (the distinct attempts per answer and the
 * answer length — at the last budget, e3's 4 × B_tr, the figures of in-context exploration).
 */
const FIGURES: [string, (rows: Record<string, number>[], ev: EvalRow | undefined) => number | null][] = [
  ['clipFrac', (r) => meanOf(r.map((x) => (x.clipFracLow ?? 0) + (x.clipFracHigh ?? 0)))],
  ['essFraction', (r) => meanOf(r.map((x) => x.essFraction))],
  ['logRatioAbsMean', (r) => meanOf(r.map((x) => x.logRatioAbsMean))],
  ['isWeightMean', (r) => meanOf(r.map((x) => x.isWeightMean))],
  ['mismatchKlBehaviour', (r) => meanOf(r.map((x) => x.mismatchKlBehaviour))],
  ['maskedIsFrac', (r) => ratio(sum(r.map((x) => x.tokensMaskedIs)), sum(r.map((x) => x.tokens)))],
  ['stalenessMean', (r) => meanOf(r.map((x) => x.stalenessMean))],
  ['gradNorm', (r) => meanOf(r.map((x) => x.gradNorm))],
  ['entropyLast10', (r) => meanOf(r.slice(-10).map((x) => x.entropy))],
  ['lengthTrainedLast10', (r) => meanOf(r.slice(-10).map((x) => x.lengthTrainedMean))],
  ['droppedStale', (r) => r.at(-1)?.rolloutsDroppedStale ?? null],
  ['uniqueAttemptsFirst', (_, ev) => ev?.budgets[0]?.meanUniqueAttempts ?? null],
  ['uniqueAttemptsLast', (_, ev) => lastBudget(ev)?.meanUniqueAttempts ?? null],
  ['evalLengthLast', (_, ev) => lastBudget(ev)?.meanLength ?? null],
];
const lastBudget = (ev: EvalRow | undefined) => (ev && ev.budgets.length > 1 ? ev.budgets.at(-1) : undefined);
export const FIGURE_NAMES = FIGURES.map(([k]) => k);

function meanOf(xs: readonly (number | null | undefined)[]): number | null {
  const ok = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return ok.length ? mean(ok) : null;
}
const sum = (xs: readonly (number | undefined)[]) => xs.reduce<number>((a, x) => a + (x ?? 0), 0);
const ratio = (a: number, b: number) => (b > 0 ? a / b : null);

/** A finished cell's figures from its metrics.jsonl (null when it has no final evaluation). */
export function readCellFigures(dir: string, r: CellResult): CellFigures | null {
  const file = path.join(dir, 'metrics.jsonl');
  if (r.status !== 'done' || !fs.existsSync(file)) return null;
  const lines = fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const rows = lines.filter((l) => l.type === undefined) as Record<string, number>[];
  const ev = lines.filter((l) => l.type === 'eval').at(-1) as EvalRow | undefined;
  const first = ev?.budgets[0];
  const last = lastBudget(ev);
  const { seed, ...params } = r.params as Record<string, unknown> & { seed?: number };
  return {
    name: r.name,
    params,
    seed: typeof seed === 'number' ? seed : 0,
    pass1: first ? first.correct.map((c) => passAtK(ev!.samples, c, 1)) : [],
    budget: first?.budget ?? null,
    ...(last ? { pass1Last: last.correct.map((c) => passAtK(ev!.samples, c, 1)), budgetLast: last.budget } : {}),
    figures: Object.fromEntries(FIGURES.map(([k, f]) => [k, f(rows, ev)])),
  };
}

const keyOf = (params: Record<string, unknown>) =>
  Object.entries(params)
    .map(([k, v]) => `${k}=${label(v)}`)
    .join(',');

/** Combinations in grid order, each pooled over its seeds; deltas paired against the first. */
export function combine(cells: readonly CellFigures[]): Combination[] {
  const groups = new Map<string, CellFigures[]>();
  for (const c of cells) {
    if (c.pass1.length === 0) continue;
    const k = keyOf(c.params);
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  const list = [...groups.entries()];
  const ref = list[0]?.[1] ?? [];
  /** Paired Δ of `of` against the reference combination, by seed and problem (null when none pairs). */
  const pairedDelta = (cs: CellFigures[], of: (c: CellFigures) => number[] | undefined, seed: string) => {
    const paired = cs
      .map((c) => [of(c), ref.find((r) => r.seed === c.seed)] as const)
      .map(([x, r]) => [x, r ? of(r) : undefined] as const)
      .filter((p): p is readonly [number[], number[]] => !!p[0] && !!p[1] && p[0].length === p[1].length)
      .map(([x, r]) => x.map((v, j) => v - r[j]!));
    return paired.length ? bootstrapMeanCi(paired, { seed }) : null;
  };
  return list.map(([key, cs], i) => {
    const strata = cs.map((c) => c.pass1);
    const delta = i > 0 ? pairedDelta(cs, (c) => c.pass1, `delta/${key}`) : null;
    const withLast = cs.every((c) => c.pass1Last && c.pass1Last.length === c.pass1.length);
    let last: Combination['last'];
    if (withLast) {
      const pass1 = bootstrapMeanCi(
        cs.map((c) => c.pass1Last!),
        { seed: `last/${key}` },
      );
      // the gain last − first, paired within each cell by problem
      const gain = bootstrapMeanCi(
        cs.map((c) => c.pass1Last!.map((x, j) => x - c.pass1[j]!)),
        { seed: `gain/${key}` },
      );
      const first = mean(strata.flat());
      last = {
        pass1,
        delta: i > 0 ? pairedDelta(cs, (c) => c.pass1Last, `delta-last/${key}`) : null,
        gain,
        ratio: first > 0 ? mean(cs.flatMap((c) => c.pass1Last!)) / first : null,
      };
    }
    return {
      key,
      params: cs[0]!.params,
      seeds: cs.map((c) => c.seed),
      pass1: bootstrapMeanCi(strata, { seed: `pass1/${key}` }),
      pass1PerSeed: cs.map((c) => mean(c.pass1)),
      delta,
      ...(last ? { last } : {}),
      figures: Object.fromEntries(
        FIGURE_NAMES.map((f) => [f, meanOf(cs.map((c) => c.figures[f]))] as [string, number | null]),
      ),
    };
  });
}

const fmt = (x: number | null | undefined, d = 3) =>
  x === null || x === undefined || !Number.isFinite(x)
    ? '—'
    : Math.abs(x) > 0 && Math.abs(x) < 1e-3
      ? x.toExponential(1)
      : x.toFixed(d);

/** The markdown table: one row per combination. */
export function analysisMarkdown(
  combos: readonly Combination[],
  budget: number | null,
  budgetLast: number | null = null,
): string {
  if (combos.length === 0) return '';
  const keys = Object.keys(combos[0]!.params);
  const ref = combos[0]!.key;
  const withLast = budgetLast !== null && combos.every((c) => c.last);
  const head = [
    ...keys,
    'seeds',
    `pass@1${budget ? ` @${budget}` : ''} [95% CI]`,
    `Δ vs ${ref} [95% CI, paired]`,
    'per seed',
    ...(withLast
      ? [
          `pass@1 @${budgetLast} [95% CI]`,
          `Δ @${budgetLast} vs ${ref} [95% CI, paired]`,
          `gain @${budgetLast} − @${budget} [95% CI, paired]`,
          'ratio',
        ]
      : []),
    ...FIGURE_NAMES,
  ];
  const lines = [
    `Held-out pass@1 pooled over seeds with 95% bootstrap CIs over problems (stratified by seed); Δ paired with the first combination on the same seed, problems and sample streams; per-seed pass@1 beside (training noise). Mechanism columns: means over each cell's steps, then over seeds — clipFrac = PPO clip fraction (low + high), essFraction = ESS/N of the importance weights, logRatioAbsMean = mean |log π_θ − log μ|, mismatchKlBehaviour = KL(μ‖π) at the behaviour version, maskedIsFrac = tokens masked by IS, droppedStale = rollouts dropped stale per run; uniqueAttemptsFirst / uniqueAttemptsLast = distinct attempts per answer in the final evaluation at the first / last budget, evalLengthLast = its mean answer length at the last budget.${withLast ? ` With two or more evaluation budgets: pass@1 at the last, its paired Δ, the gain last − first paired by cell and problem (e3's extrapolation), and the ratio of the pooled means.` : ''}`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
  ];
  for (const c of combos)
    lines.push(
      `| ${[
        ...keys.map((k) => label(c.params[k])),
        String(c.seeds.length),
        formatCi(c.pass1),
        c.delta ? formatCi(c.delta) : '(reference)',
        `(${c.pass1PerSeed.map((x) => x.toFixed(3)).join(', ')})`,
        ...(withLast
          ? [
              formatCi(c.last!.pass1),
              c.last!.delta ? formatCi(c.last!.delta) : '(reference)',
              formatCi(c.last!.gain),
              fmt(c.last!.ratio, 2),
            ]
          : []),
        ...FIGURE_NAMES.map((f) => fmt(c.figures[f], f === 'droppedStale' ? 0 : 3)),
      ].join(' | ')} |`,
    );
  return `${lines.join('\n')}\n`;
}

/** pass@1 against the staleness bound, one line per other combination, as a self-contained SVG page. */
export function boundChart(title: string, combos: readonly Combination[]): string | null {
  const boundKey = 'staleness.bound';
  if (!combos.length || !(boundKey in combos[0]!.params)) return null;
  const bounds = [...new Set(combos.map((c) => c.params[boundKey]))].filter((b) => typeof b === 'number') as number[];
  bounds.sort((a, b) => a - b);
  const series = new Map<string, Combination[]>();
  for (const c of combos) {
    if (typeof c.params[boundKey] !== 'number') continue;
    const { [boundKey]: _, ...rest } = c.params;
    const k = Object.values(rest).map(label).join(', ') || 'all';
    series.set(k, [...(series.get(k) ?? []), c]);
  }
  const W = 800,
    H = 420,
    L = 60,
    R = 210,
    T = 30,
    B = 50;
  const ys = combos.flatMap((c) => [c.pass1.lo, c.pass1.hi]).filter(Number.isFinite);
  const y0 = Math.floor(Math.min(...ys) * 20) / 20,
    y1 = Math.ceil(Math.max(...ys) * 20) / 20;
  const xAt = (b: number) => L + (bounds.indexOf(b) / Math.max(1, bounds.length - 1)) * (W - L - R);
  const yAt = (v: number) => T + (1 - (v - y0) / Math.max(1e-9, y1 - y0)) * (H - T - B);
  const colours = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#7f7f7f'];
  const parts: string[] = [];
  for (let v = y0; v <= y1 + 1e-9; v += 0.05)
    parts.push(
      `<line x1="${L}" x2="${W - R}" y1="${yAt(v)}" y2="${yAt(v)}" stroke="#eee"/>`,
      `<text x="${L - 8}" y="${yAt(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`,
    );
  for (const b of bounds) parts.push(`<text x="${xAt(b)}" y="${H - B + 18}" text-anchor="middle">${b}</text>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle">staleness bound η (0 = sync)</text>`);
  parts.push(
    `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">held-out pass@1 (95% CI)</text>`,
  );
  [...series.entries()].forEach(([name, cs], i) => {
    const col = colours[i % colours.length]!;
    const dx = (i - (series.size - 1) / 2) * 4; // side by side, so whiskers do not hide each other
    const pts = cs.map((c) => ({ x: xAt(c.params[boundKey] as number) + dx, c })).sort((a, b) => a.x - b.x);
    parts.push(
      `<polyline fill="none" stroke="${col}" stroke-width="2" points="${pts.map((p) => `${p.x},${yAt(p.c.pass1.mean)}`).join(' ')}"/>`,
    );
    for (const p of pts)
      parts.push(
        `<line x1="${p.x}" x2="${p.x}" y1="${yAt(p.c.pass1.lo)}" y2="${yAt(p.c.pass1.hi)}" stroke="${col}"/>`,
        `<circle cx="${p.x}" cy="${yAt(p.c.pass1.mean)}" r="3" fill="${col}"><title>${escapeHtml(`${p.c.key}: ${formatCi(p.c.pass1)}`)}</title></circle>`,
      );
    parts.push(
      `<rect x="${W - R + 16}" y="${T + i * 20 - 9}" width="12" height="12" fill="${col}"/>`,
      `<text x="${W - R + 34}" y="${T + i * 20 + 2}">${escapeHtml(name)}</text>`,
    );
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}svg text{font-size:12px}</style></head>
<body><h1>${escapeHtml(title)}</h1>
<p>Held-out pass@1 per staleness bound (equally spaced), one line per combination of the other sweep keys (${escapeHtml(
    Object.keys(combos[0]!.params)
      .filter((k) => k !== boundKey)
      .join(', '),
  )}), pooled over seeds; whiskers: 95% bootstrap CI over problems.</p>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="pass@1 against the staleness bound">
${parts.join('\n')}
</svg></body></html>
`;
}

/**
 * Writes OUT/analysis.json, OUT/analysis.md, OUT/analysis-cells.json and (with a staleness.bound
 * key) OUT/report.html for a finished grid in OUT (cells under OUT/cells/NAME); returns the
 * markdown ('' without evaluations).
 */
export function writeAnalysis(
  out: string,
  title: string,
  results: readonly CellResult[],
  write: (file: string, text: string) => void,
): string {
  const cells = results
    .map((r) => readCellFigures(path.join(out, 'cells', r.name), r))
    .filter((c): c is CellFigures => c !== null && c.pass1.length > 0);
  if (cells.length === 0) return '';
  const combos = combine(cells);
  const budgetLast = cells[0]!.budgetLast ?? null;
  const md = analysisMarkdown(combos, cells[0]!.budget, budgetLast);
  write(
    path.join(out, 'analysis.json'),
    JSON.stringify({ budget: cells[0]!.budget, budgetLast, combinations: combos }, null, 2) + '\n',
  );
  write(path.join(out, 'analysis.md'), `# ${title}: learning outcome with CIs\n\n${md}`);
  // every cell's per-problem pass@1 and figures: what the tables are computed from (bench/paired-gap.ts)
  write(path.join(out, 'analysis-cells.json'), JSON.stringify(cells) + '\n');
  const html = boundChart(title, combos);
  if (html) write(path.join(out, 'report.html'), html);
  return md;
}
