/**
 * `e3sim report RUN_DIR`: one self-contained HTML file that opens offline. uPlot (charts) and
 * Mermaid (machine diagrams) are inlined from their npm packages; the run's data is embedded as
 * JSON with every `<` escaped, and every text from configs and traces is shown as text.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { MACHINES } from '../../machines/index.js';
import { toMermaid } from './diagram.js';
import { InputError } from '../util/errors.js';

const require_ = createRequire(import.meta.url);
import { BUNDLE_DIR } from '../runtime/bundle.js';

/** A file from an npm package (beside the bundle, by its base name, in the single-file build). */
export function asset(spec: string): string {
  return fs.readFileSync(
    BUNDLE_DIR ? path.join(BUNDLE_DIR, 'assets', path.basename(spec)) : require_.resolve(spec),
    'utf8',
  );
}

/**
 * The start of a report page up to inside its <style>: title, uPlot's stylesheet and the common
 * layout (headings, chart grid, pre); the caller adds its own rules and closes the element.
 */
export function pageHead(title: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${asset('uplot/dist/uPlot.min.css')}
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:16px}
.chart{min-height:260px}
pre{background:#f6f6f6;padding:8px;overflow:auto;max-height:320px}
`;
}

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** JSON safe inside a <script> element: no `<`, no U+2028/9 line terminators. */
export function scriptJson(x: unknown): string {
  return JSON.stringify(x)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * The lines of a JSONL log. A last line that is not JSON is what a crash mid-write leaves (the
 * run resumes from its checkpoint and cuts the log back): it is skipped with a warning. A bad line
 * before the last one is an error naming it.
 */
function readJsonl(file: string, warnings: string[]): Record<string, unknown>[] {
  if (!fs.existsSync(file)) return [];
  const lines = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l, i) => ({ l, n: i + 1 }))
    .filter(({ l }) => l.trim() !== '');
  return lines.flatMap(({ l, n }, i) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      if (i === lines.length - 1) {
        warnings.push(`${file}: line ${n}, the last, is cut short (a crash while writing it?); skipped`);
        return [];
      }
      throw new InputError(`${file}: line ${n} is not JSON`);
    }
  });
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`${file}: not readable as JSON (${e instanceof Error ? e.message.split('\n')[0] : e})`);
  }
}

export interface RunData {
  name: string;
  config: unknown;
  summary: unknown;
  metrics: Record<string, unknown>[];
  evals: Record<string, unknown>[];
  /** Curriculum budget decisions: metrics lines {type: 'budget-choice', stage, ladder, scores, ratios, budget, reason, minBudget}. */
  decisions: Record<string, unknown>[];
  transitions: Record<string, unknown>[];
  /** What was skipped while reading (a crash-cut last log line). */
  warnings: string[];
}

export function readRun(dir: string): RunData {
  const cfgFile = path.join(dir, 'config.json');
  if (!fs.existsSync(cfgFile))
    throw new InputError(`RUN_DIR: '${dir}' has no config.json (expected the directory of an e3sim train run)`);
  const config = readJson(cfgFile) as { name?: string };
  const summaryFile = path.join(dir, 'summary.json');
  const warnings: string[] = [];
  const all = readJsonl(path.join(dir, 'metrics.jsonl'), warnings);
  return {
    name: String(config.name ?? path.basename(dir)),
    config,
    summary: fs.existsSync(summaryFile) ? readJson(summaryFile) : null,
    metrics: all.filter((m) => m.type === undefined),
    evals: all.filter((m) => m.type === 'eval'),
    decisions: all.filter((m) => m.type === 'budget-choice'),
    transitions: readJsonl(path.join(dir, 'transitions.jsonl'), warnings),
    warnings,
  };
}

const CHARTS: { id: string; title: string; series: string[] }[] = [
  { id: 'reward', title: 'Reward and pass rate', series: ['rewardMean', 'passRate'] },
  {
    id: 'length',
    title: 'Mean response length (tokens): all, correct, incorrect',
    series: ['lengthMean', 'lengthCorrect', 'lengthIncorrect'],
  },
  { id: 'entropy', title: 'Entropy (nats / token)', series: ['entropy'] },
  { id: 'kl', title: 'KL to the reference (k3)', series: ['kl'] },
  { id: 'clip', title: 'Clip fractions', series: ['clipFracLow', 'clipFracHigh'] },
  {
    id: 'staleness',
    title: 'Staleness (learner version − behaviour version)',
    series: ['stalenessMean', 'stalenessMax'],
  },
  {
    id: 'dropped',
    title: 'Dropped rollouts (cumulative), stale and GRPOMask-masked tokens, IS weight, dynamic sampling per step',
    series: [
      'rolloutsDroppedStale',
      'rolloutsDroppedInvalid',
      'rolloutsDroppedFiltered',
      'groupsFiltered',
      'backfillGroups',
      'tokensDroppedStale',
      'tokensMaskedNegative',
      'isWeightMean',
      'isWeightMax',
    ],
  },
  { id: 'throughput', title: 'Generated tokens per second', series: ['tokensPerSec'] },
  {
    id: 'curriculum',
    title: 'Curriculum: stage, difficulty and budget',
    series: ['stage', 'difficulty', 'budgetTokens'],
  },
];

export function renderReport(run: RunData): string {
  const diagrams = Object.fromEntries(Object.entries(MACHINES).map(([role, m]) => [role, toMermaid(m)]));
  const data = {
    name: run.name,
    metrics: run.metrics,
    evals: run.evals,
    decisions: run.decisions,
    transitions: run.transitions,
    charts: CHARTS,
    diagrams,
    budgetTrain: trainBudget(run),
  };
  const title = `e3sim report — ${escapeHtml(run.name)}`;
  return `${pageHead(title)}.empty{color:#888;font-style:italic}
#gantt{width:100%;height:360px;border:1px solid #ccc;cursor:grab}
table{border-collapse:collapse}td,th{border-bottom:1px solid #eee;padding:2px 8px;text-align:left;font-size:12px}
.diagram{border:1px solid #eee;padding:8px}
</style></head><body>
<h1>${title}</h1>
<p>Generated by <code>e3sim report</code>. Wheel over the timeline to zoom, drag to pan.</p>
<h2>Learning curves</h2><div class="grid" id="charts"></div>
<h2>Extrapolation: pass@k against test budget</h2><div class="chart" id="extrapolation"></div>
<h2>Curriculum budget decisions: J(B) over the ladder</h2><div class="grid" id="decisions"></div>
<h2>Staleness histogram</h2><div class="chart" id="stalehist"></div>
<h2>Actor timeline</h2><canvas id="gantt"></canvas>
<h2>Utilisation per actor</h2><table id="utilisation"><thead><tr><th>actor</th><th>busy share</th><th>time per state</th></tr></thead><tbody></tbody></table>
<h2>Machines</h2><div class="grid" id="diagrams"></div>
<h2>Summary</h2><pre id="summary">${escapeHtml(JSON.stringify(run.summary, null, 2))}</pre>
<h2>Config</h2><pre id="config">${escapeHtml(JSON.stringify(run.config, null, 2))}</pre>
<script id="data" type="application/json">${scriptJson(data)}</script>
<script>${asset('uplot/dist/uPlot.iife.min.js')}</script>
<script>${asset('mermaid/dist/mermaid.min.js')}</script>
<script>${CLIENT}</script>
</body></html>
`;
}

/**
 * The training budget to mark beside the last evaluation: the budget of the last step trained
 * before it (what the run trained at, not what its config would have reached: a run cut by
 * --max-steps may never enter its later stages). Without step lines, the config's largest.
 */
export function trainBudget(run: Pick<RunData, 'config' | 'metrics' | 'evals'>): number | null {
  const evalStep = Number(run.evals.at(-1)?.step ?? Infinity);
  const trained = run.metrics.filter((m) => typeof m.budgetTokens === 'number' && Number(m.step) <= evalStep);
  if (trained.length) return Number(trained.at(-1)!.budgetTokens);
  const stages = (run.config as { curriculum?: { stages?: { budgetTokens?: number }[] } }).curriculum?.stages?.filter(
    (st) => typeof st.budgetTokens === 'number',
  );
  return stages?.length ? Math.max(...stages.map((st) => st.budgetTokens!)) : null;
}

/** The page's script (plain ES2017, no imports): charts, histogram, timeline, diagrams. */
const CLIENT = String.raw`
(function () {
  var D = JSON.parse(document.getElementById('data').textContent);
  var COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];
  window.e3simReport = { charts: 0, diagrams: 0, errors: [] };
  function el(tag, attrs, text) { var e = document.createElement(tag); for (var k in attrs) e.setAttribute(k, attrs[k]); if (text != null) e.textContent = text; return e; }
  // Curriculum stage bands behind every per-step chart: [fromStep, toStep, label].
  var bands = [];
  D.metrics.forEach(function (m) {
    var label = 'stage ' + m.stage + ': d' + m.difficulty + ', ' + m.budgetTokens + ' tok';
    var last = bands[bands.length - 1];
    if (last && last[2] === label) last[1] = m.step; else bands.push([m.step, m.step, label]);
  });
  function bandsPlugin(marks) {
    return { hooks: { drawClear: [function (u) {
      var ctx = u.ctx; ctx.save();
      if (marks.bands) marks.bands.forEach(function (b, i) {
        var left = u.bbox.left, right = u.bbox.left + u.bbox.width;
        var x0 = Math.max(left, u.valToPos(b[0] - 0.5, 'x', true)), x1 = Math.min(right, u.valToPos(b[1] + 0.5, 'x', true));
        ctx.fillStyle = i % 2 ? 'rgba(90,120,200,0.08)' : 'rgba(200,150,60,0.08)';
        ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
        ctx.fillStyle = '#888'; ctx.font = '10px sans-serif'; ctx.fillText(b[2], x0 + 3, u.bbox.top + 10);
      });
      if (marks.vline != null) {
        var x = u.valToPos(marks.vline, 'x', true);
        ctx.strokeStyle = '#d62728'; ctx.setLineDash([5, 4]); ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
        ctx.fillStyle = '#d62728'; ctx.font = '10px sans-serif'; ctx.fillText('B_tr', x + 3, u.bbox.top + 10);
      }
      ctx.restore();
    }] } };
  }
  function plot(container, title, xs, series, xlabel, marks) {
    var box = el('div', { class: 'chart', 'data-chart': title });
    box.appendChild(el('div', {}, title));
    container.appendChild(box);
    var present = series.filter(function (s) { return s.values.some(function (v) { return v != null; }); });
    if (xs.length === 0 || present.length === 0) { box.appendChild(el('div', { class: 'empty' }, 'no data in this run')); return; }
    var opts = { width: Math.max(480, box.clientWidth || 520), height: 220, scales: { x: { time: false } }, plugins: [bandsPlugin(marks || {})],
      axes: [{ label: xlabel }, { size: 60, values: function (u, vals) { return vals.map(function (v) { return v === 0 ? '0' : Math.abs(v) < 0.01 || Math.abs(v) >= 1e5 ? v.toExponential(1) : +v.toPrecision(3); }); } }],
      series: [{ label: xlabel }].concat(present.map(function (s, i) { return { label: s.label, stroke: COLORS[i % COLORS.length], points: { show: xs.length < 40 } }; })) };
    new uPlot(opts, [xs].concat(present.map(function (s) { return s.values; })), box);
    window.e3simReport.charts++;
  }
  var steps = D.metrics.map(function (m) { return m.step; });
  var charts = document.getElementById('charts');
  D.charts.forEach(function (c) {
    plot(charts, c.title, steps, c.series.map(function (k) { return { label: k, values: D.metrics.map(function (m) { return typeof m[k] === 'number' ? m[k] : null; }) }; }), 'step', { bands: bands });
  });
  // Extrapolation: the last evaluation, pass@k per budget.
  var ev = D.evals.length ? D.evals[D.evals.length - 1] : null;
  var ext = document.getElementById('extrapolation');
  if (ev) {
    var rows = ev.budgets;
    var ks = Object.keys(rows[0].passAt);
    plot(ext, 'step ' + ev.step + (D.budgetTrain ? ' (training budget ' + D.budgetTrain + ')' : ''), rows.map(function (r) { return r.budget; }),
      ks.map(function (k) { return { label: 'pass@' + k, values: rows.map(function (r) { return r.passAt[k]; }) }; }), 'test budget (tokens)', { vline: D.budgetTrain });
  } else ext.appendChild(el('div', { class: 'empty' }, 'no evaluation in this run (config: eval)'));
  // The coupled curriculum's measurements: J(B) per ladder budget, the ratios and the choice.
  var dec = document.getElementById('decisions');
  if (D.decisions.length === 0) dec.appendChild(el('div', { class: 'empty' }, 'no budget decisions in this run (fixed stage list)'));
  D.decisions.forEach(function (d) {
    plot(dec, 'stage ' + d.stage + ': chose ' + d.budget + ' tokens (' + d.reason + ', B0 ' + d.minBudget + ')', d.ladder, [{ label: 'J(B)', values: d.scores }], 'budget (tokens)');
  });
  // Staleness histogram over trained steps (per-step max lag).
  var hist = {};
  D.metrics.forEach(function (m) { hist[m.stalenessMax] = (hist[m.stalenessMax] || 0) + 1; });
  var lags = Object.keys(hist).map(Number).sort(function (a, b) { return a - b; });
  plot(document.getElementById('stalehist'), 'steps by maximum staleness', lags, [{ label: 'steps', values: lags.map(function (l) { return hist[l]; }) }], 'staleness');
  // Timeline (Gantt): one row per actor, one bar per state; wheel zooms, drag pans.
  var actors = []; var spans = {}; var open = {}; var tEnd = 0;
  D.transitions.forEach(function (t) {
    if (actors.indexOf(t.actor) < 0) { actors.push(t.actor); spans[t.actor] = []; }
    if (open[t.actor]) spans[t.actor].push({ from: open[t.actor].t, to: t.t, state: open[t.actor].state });
    open[t.actor] = { t: t.t, state: t.to }; tEnd = Math.max(tEnd, t.t);
  });
  actors.forEach(function (a) { if (open[a]) spans[a].push({ from: open[a].t, to: tEnd, state: open[a].state }); });
  var canvas = document.getElementById('gantt'); var view = { t0: 0, t1: Math.max(1, tEnd) };
  var palette = {}; var pi = 0;
  function colorOf(s) { if (!palette[s]) palette[s] = 'hsl(' + ((pi++ * 67) % 360) + ',55%,62%)'; return palette[s]; }
  function draw() {
    var w = canvas.width = canvas.clientWidth; var h = canvas.height = canvas.clientHeight; var ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, w, h); var row = Math.max(10, (h - 20) / Math.max(1, actors.length)); var left = 110;
    ctx.font = '11px sans-serif';
    actors.forEach(function (a, i) {
      ctx.fillStyle = '#333'; ctx.fillText(a, 4, 14 + i * row + row / 2);
      spans[a].forEach(function (s) {
        var x0 = left + (s.from - view.t0) / (view.t1 - view.t0) * (w - left); var x1 = left + (s.to - view.t0) / (view.t1 - view.t0) * (w - left);
        if (x1 < left || x0 > w) return;
        ctx.fillStyle = colorOf(s.state); ctx.fillRect(Math.max(left, x0), 4 + i * row, Math.max(1, x1 - Math.max(left, x0)), row - 4);
        if (x1 - x0 > 50) { ctx.fillStyle = '#000'; ctx.fillText(s.state, Math.max(left, x0) + 2, 4 + i * row + row / 2 + 3); }
      });
    });
    ctx.fillStyle = '#666'; ctx.fillText(view.t0.toFixed(0) + ' ms', left, h - 4); ctx.fillText(view.t1.toFixed(0) + ' ms', w - 60, h - 4);
  }
  canvas.addEventListener('wheel', function (e) { e.preventDefault(); var f = e.deltaY > 0 ? 1.25 : 0.8; var mid = (view.t0 + view.t1) / 2; var half = (view.t1 - view.t0) * f / 2; view.t0 = mid - half; view.t1 = mid + half; draw(); });
  var drag = null;
  canvas.addEventListener('mousedown', function (e) { drag = { x: e.clientX, t0: view.t0, t1: view.t1 }; });
  window.addEventListener('mouseup', function () { drag = null; });
  window.addEventListener('mousemove', function (e) { if (!drag) return; var dt = (e.clientX - drag.x) / canvas.clientWidth * (drag.t1 - drag.t0); view.t0 = drag.t0 - dt; view.t1 = drag.t1 - dt; draw(); });
  // Utilisation: share of the run each actor spent in a working state (not waiting or idle).
  var IDLE = ['idle', 'waitingForBatch', 'waiting', 'collecting', 'waitingForGroups', 'watching', 'serving', 'running', 'stopped', 'done', 'finished'];
  var tbody = document.querySelector('#utilisation tbody');
  actors.forEach(function (a) {
    var per = {}; var total = 0; var busy = 0;
    spans[a].forEach(function (s) { var d = s.to - s.from; per[s.state] = (per[s.state] || 0) + d; total += d; if (IDLE.indexOf(s.state) < 0) busy += d; });
    var tr = el('tr', {}); tr.appendChild(el('td', {}, a)); tr.appendChild(el('td', {}, total > 0 ? (100 * busy / total).toFixed(0) + '%' : '—'));
    tr.appendChild(el('td', {}, Object.keys(per).map(function (k) { return k + ' ' + per[k].toFixed(0) + ' ms'; }).join(', ')));
    tbody.appendChild(tr);
  });
  draw(); window.e3simReport.timelineSpans = actors.reduce(function (n, a) { return n + spans[a].length; }, 0);
  // Machine diagrams.
  var dg = document.getElementById('diagrams');
  mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });
  var roles = Object.keys(D.diagrams);
  roles.forEach(function (role) { var box = el('div', { class: 'diagram' }); box.appendChild(el('div', {}, role)); var pre = el('pre', { class: 'mermaid' }, D.diagrams[role]); box.appendChild(pre); dg.appendChild(box); });
  mermaid.run({ querySelector: '.mermaid' }).then(function () { window.e3simReport.diagrams = document.querySelectorAll('.diagram svg').length; window.e3simReport.done = true; })
    .catch(function (e) { window.e3simReport.errors.push(String(e)); window.e3simReport.done = true; });
})();
`;
