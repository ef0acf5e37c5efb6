/**
 * Comparison report for a directory of runs (an experiment's or a scenario's): arms side by
 * side, each arm's curve the mean over its seeds with the min–max spread drawn as two thin lines,
 * and a table of final figures as mean [min, max]. Layouts: DIR/ARM/SEED/ (runs two levels down:
 * arm = ARM) or DIR/RUN/ (arm = the run's config name).
 */
import fs from 'node:fs';
import path from 'node:path';
import { asset, escapeHtml, readRun, scriptJson, type RunData } from './html.js';
import { InputError } from '../util/errors.js';
import { spread, type Spread } from '../util/stats.js';

const isRun = (d: string) => fs.existsSync(path.join(d, 'config.json')) && fs.existsSync(path.join(d, 'metrics.jsonl'));
const subdirs = (d: string) =>
  fs
    .readdirSync(d, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => path.join(d, e.name))
    .sort();

export function findArms(dir: string): Map<string, { seed: string; run: RunData }[]> {
  const arms = new Map<string, { seed: string; run: RunData }[]>();
  const add = (arm: string, seed: string, runDir: string) =>
    arms.set(arm, [...(arms.get(arm) ?? []), { seed, run: readRun(runDir) }]);
  for (const d of subdirs(dir)) {
    if (isRun(d)) add(readRun(d).name, path.basename(d), d);
    else for (const s of subdirs(d)) if (isRun(s)) add(path.basename(d), path.basename(s), s);
  }
  if (arms.size === 0)
    throw new InputError(
      `RUN_DIR: '${dir}' is neither a run (config.json) nor a directory of runs (DIR/RUN/ or DIR/ARM/SEED/)`,
    );
  return arms;
}

const METRICS: [string, string][] = [
  ['passRate', 'Pass rate'],
  ['rewardMean', 'Reward'],
  ['lengthMean', 'Mean response length'],
  ['lengthCorrect', 'Length of correct responses'],
  ['lengthIncorrect', 'Length of incorrect responses'],
  ['entropy', 'Entropy'],
  ['kl', 'KL'],
  ['stalenessMean', 'Staleness (mean)'],
  ['tokensPerSec', 'Tokens/s'],
];

type Agg = Spread;
const agg = spread;

/** The mean of `key` over a run's last `k` steps. */
function tail(run: RunData, key: string, k = 5): number | null {
  const xs = run.metrics
    .slice(-k)
    .map((m) => m[key])
    .filter((x): x is number => typeof x === 'number');
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

export function renderComparison(title: string, arms: Map<string, { seed: string; run: RunData }[]>): string {
  const curves = METRICS.map(([key, label]) => {
    const steps = [
      ...new Set([...arms.values()].flatMap((rs) => rs.flatMap((r) => r.run.metrics.map((m) => m.step as number)))),
    ].sort((a, b) => a - b);
    const series = [...arms].map(([arm, rs]) => {
      const at = steps.map((st) =>
        agg(
          rs
            .map((r) => r.run.metrics.find((m) => m.step === st)?.[key])
            .filter((x): x is number => typeof x === 'number'),
        ),
      );
      return {
        arm,
        mean: at.map((a) => a?.mean ?? null),
        min: at.map((a) => a?.min ?? null),
        max: at.map((a) => a?.max ?? null),
      };
    });
    return { key, label, steps, series };
  });
  const table = [...arms].map(([arm, rs]) => {
    const row: Record<string, Agg | null | string | number> = { arm, seeds: rs.length };
    for (const [key] of METRICS) row[key] = agg(rs.map((r) => tail(r.run, key)).filter((x): x is number => x !== null));
    const budgets = new Set(
      rs.flatMap((r) => ((r.run.evals.at(-1)?.budgets as { budget: number }[] | undefined) ?? []).map((b) => b.budget)),
    );
    for (const b of [...budgets].sort((x, y) => x - y)) {
      row[`pass@1 @${b}`] = agg(
        rs
          .map(
            (r) =>
              (
                (r.run.evals.at(-1)?.budgets as { budget: number; passAt: Record<string, number> }[] | undefined) ?? []
              ).find((x) => x.budget === b)?.passAt['1'],
          )
          .filter((x): x is number => typeof x === 'number'),
      );
    }
    return row;
  });
  const data = { curves, table };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>e3sim comparison — ${escapeHtml(title)}</title>
<style>${asset('uplot/dist/uPlot.min.css')}
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}h1{font-size:22px}h2{font-size:17px;margin-top:28px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:16px}.chart{min-height:260px}
table{border-collapse:collapse}td,th{border-bottom:1px solid #eee;padding:3px 8px;text-align:left;font-size:12px}</style></head><body>
<h1>e3sim comparison — ${escapeHtml(title)}</h1>
<p>Each curve is an arm's mean over its seeds; the thin lines are the min and max over seeds. Final figures: mean over the last 5 steps of each seed, then mean [min, max] over seeds.</p>
<h2>Final figures</h2><table id="final"></table>
<h2>Curves</h2><div class="grid" id="charts"></div>
<script id="data" type="application/json">${scriptJson(data)}</script>
<script>${asset('uplot/dist/uPlot.iife.min.js')}</script>
<script>${CLIENT}</script></body></html>
`;
}

const CLIENT = String.raw`
(function () {
  var D = JSON.parse(document.getElementById('data').textContent);
  var COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2'];
  window.e3simReport = { charts: 0, errors: [] };
  function el(tag, attrs, text) { var e = document.createElement(tag); for (var k in attrs) e.setAttribute(k, attrs[k]); if (text != null) e.textContent = text; return e; }
  var t = document.getElementById('final');
  var cols = Object.keys(D.table[0] || {});
  var hr = el('tr', {}); cols.forEach(function (c) { hr.appendChild(el('th', {}, c)); }); t.appendChild(hr);
  D.table.forEach(function (row) {
    var tr = el('tr', {});
    cols.forEach(function (c) { var v = row[c]; tr.appendChild(el('td', {}, v == null ? '—' : typeof v === 'object' ? v.mean.toFixed(3) + ' [' + v.min.toFixed(3) + ', ' + v.max.toFixed(3) + ']' : String(v))); });
    t.appendChild(tr);
  });
  var charts = document.getElementById('charts');
  D.curves.forEach(function (c) {
    var present = c.series.filter(function (s) { return s.mean.some(function (v) { return v != null; }); });
    if (c.steps.length === 0 || present.length === 0) return;
    var box = el('div', { class: 'chart' }); box.appendChild(el('div', {}, c.label)); charts.appendChild(box);
    var series = [{ label: 'step' }]; var data = [c.steps];
    present.forEach(function (s, i) {
      var col = COLORS[i % COLORS.length];
      series.push({ label: s.arm, stroke: col, width: 2 }); data.push(s.mean);
      series.push({ label: s.arm + ' min', stroke: col, width: 0.5, dash: [4, 4] }); data.push(s.min);
      series.push({ label: s.arm + ' max', stroke: col, width: 0.5, dash: [4, 4] }); data.push(s.max);
    });
    new uPlot({ width: 520, height: 220, scales: { x: { time: false } }, series: series }, data, box);
    window.e3simReport.charts++;
  });
  window.e3simReport.arms = D.table.length; window.e3simReport.done = true;
})();
`;
