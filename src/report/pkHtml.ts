/**
 * `e3sim pk --html FILE`: one self-contained HTML page (uPlot inlined, opens offline) with the
 * p^k curves of Fig 7 — length, p(stop), reward and entropy over iterations — keep (GRPO) and
 * mask (GRPOMask) in two colours, one thin line a seed, the policy's exact expected length beside
 * the sampled one, and the summaries as a table.
 */
import { asset, escapeHtml, pageHead, scriptJson } from './html.js';
import {
  formatAdvantage,
  type PkLogRow,
  type PkPresetName,
  type PkSettings,
  type PkSummary,
} from '../experiments/pk.js';

export interface PkRun {
  summary: PkSummary;
  log: PkLogRow[];
  wallSeconds: number;
}

/** The charts: the log field, its title, and whether its axis is logarithmic. */
export const PK_CHARTS = [
  { key: 'meanLength', title: 'length (mean over the window)', log: false },
  { key: 'expectedLength', title: "length, the policy's exact expectation", log: false },
  { key: 'pStop', title: 'p(stop), mean over states', log: true },
  { key: 'reward', title: 'reward (mean over the window)', log: false },
  { key: 'entropy', title: 'entropy H(π(·|s)), nats, mean over states', log: false },
] as const;

export function renderPkReport(r: { preset: PkPresetName; settings: PkSettings; runs: PkRun[] }): string {
  const settings = { ...r.settings, advantage: formatAdvantage(r.settings.advantage) };
  const data = {
    charts: PK_CHARTS,
    runs: r.runs.map((x) => ({
      negatives: x.summary.negatives,
      staleness: x.summary.staleness ?? 0,
      seed: x.summary.seed,
      steps: x.log.map((l) => l.step),
      log: x.log,
    })),
  };
  const title = `e3sim pk — ${escapeHtml(r.preset)}`;
  const rows = r.runs
    .map(
      ({ summary: s, wallSeconds }) =>
        `<tr><td>${s.negatives}</td><td>${s.staleness ?? 0}</td><td>${s.seed}</td><td>${s.lengthStart.toFixed(2)}</td>` +
        `<td>${s.lengthPeak.toFixed(2)} (${s.lengthPeakStep})</td><td>${s.lengthEnd.toFixed(2)}</td>` +
        (`<td>${s.pStopStart.toFixed(4)} → ${s.pStopEnd.toFixed(4)}</td><td>${s.entropyStart.toFixed(3)}` +
          ` → ${s.entropyPeak.toFixed(3)} (${s.entropyPeakStep}) → ${s.entropyEnd.toFixed(3)}` +
          `</td>`) +
        `<td>${s.rewardEnd.toFixed(3)}</td><td>${s.iterationOfTransition ?? '—'}</td><td>${wallSeconds.toFixed(1)}</td></tr>`,
    )
    .join('\n');
  return `${pageHead(title)}table{border-collapse:collapse}td,th{border-bottom:1px solid #eee;padding:2px 8px;text-align:left;font-size:12px}
.keep{color:#1f77b4}.mask{color:#ff7f0e}
</style></head><body>
<h1>${title}</h1>
<p>The p^k model of E3.md (docs/PK.md): <span class="keep">■ keep (GRPO)</span> against <span class="mask">■ mask (GRPOMask)</span>, one thin line a seed.</p>
<h2>Curves</h2><div class="grid" id="charts"></div>
<h2>Summaries</h2>
<table id="summaries"><thead><tr><th>negatives</th><th>η</th><th>seed</th><th>length start</th><th>peak (iteration)</th><th>end</th><th>p(stop)</th><th>entropy start → peak (iteration) → end</th><th>reward end</th><th>transition</th><th>wall s</th></tr></thead><tbody>
${rows}
</tbody></table>
<h2>Settings</h2><pre id="settings">${escapeHtml(JSON.stringify(settings, null, 2))}</pre>
<script id="data" type="application/json">${scriptJson(data)}</script>
<script>${asset('uplot/dist/uPlot.iife.min.js')}</script>
<script>${CLIENT}</script>
</body></html>
`;
}

/** The page's script (plain ES2017): one uPlot a chart, every run a series on the shared iteration axis. */
const CLIENT = String.raw`
(function () {
  var D = JSON.parse(document.getElementById('data').textContent);
  var COLOR = { keep: '#1f77b4', mask: '#ff7f0e' };
  // with several η (issue #31): one colour per η, mask dashed
  var ETAS = D.runs.map(function (r) { return r.staleness; }).filter(function (e, i, a) { return a.indexOf(e) === i; });
  var PALETTE = ['#1f77b4', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#17becf'];
  function stroke(r) { return ETAS.length > 1 ? PALETTE[ETAS.indexOf(r.staleness) % PALETTE.length] : COLOR[r.negatives] || '#555'; }
  function label(r) { return r.negatives + (ETAS.length > 1 ? ' η' + r.staleness : '') + ' s' + r.seed; }
  var box = document.getElementById('charts');
  var xs = D.runs.length ? D.runs[0].steps : [];
  D.charts.forEach(function (c) {
    var div = document.createElement('div');
    div.className = 'chart';
    box.appendChild(div);
    var series = D.runs.map(function (r) {
      return r.log.map(function (row) { var v = row[c.key]; return typeof v === 'number' && (!c.log || v > 0) ? v : null; });
    });
    var opts = {
      title: c.title, width: Math.max(480, Math.min(560, div.clientWidth || 560)), height: 240,
      scales: { x: { time: false }, y: c.log ? { distr: 3 } : {} },
      axes: [{ label: 'iteration' }, { size: 60, values: function (u, vals) { return vals.map(function (v) { return v == null ? '' : v === 0 ? '0' : Math.abs(v) < 0.01 || Math.abs(v) >= 1e5 ? v.toExponential(1) : +v.toPrecision(3); }); } }],
      series: [{ label: 'iteration' }].concat(D.runs.map(function (r) { return { label: label(r), stroke: stroke(r), dash: ETAS.length > 1 && r.negatives === 'mask' ? [6, 4] : undefined, width: 1, points: { show: false } }; })),
    };
    new uPlot(opts, [xs].concat(series), div);
  });
  window.e3simReport = { done: true, charts: box.querySelectorAll('.uplot').length, series: D.runs.length };
})();
`;
