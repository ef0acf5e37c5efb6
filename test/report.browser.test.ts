/**
 * What a user sees: trace.json well-formed for Perfetto, Mermaid diagrams that Mermaid itself
 * parses, and the offline HTML report opened in Debian's Chromium (playwright-core) from a
 * file:// URL with the network blocked: no console errors, every chart and diagram drawn,
 * hostile text from configs and traces shown as text.
 */
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import YAML from 'yaml';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRun, renderReport } from '../src/report/html.js';
import { chromiumPath } from '../scripts/test-deps.mjs';
import { topologyEdges } from '../src/core/roles.js';
import { E3SIM } from './helpers/bin.js';

const BIN = E3SIM;
const CHROMIUM = chromiumPath();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-report-'));
const run = path.join(tmp, 'run');
let browser: Browser;

const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 180_000 });

beforeAll(async () => {
  const cfg = path.join(tmp, 'smoke.yaml');
  fs.writeFileSync(
    cfg,
    YAML.stringify({ ...YAML.parse(fs.readFileSync('examples/smoke.yaml', 'utf8')), backend: 'wasm' }),
  );
  const r = cli('train', '--quiet', '--config', cfg, '--out', run);
  expect(r.status, r.stderr).toBe(0);
  const rep = cli('report', run);
  expect(rep.status, rep.stderr).toBe(0);
  const repJson = JSON.parse(cli('report', run, '--json').stdout) as { report: string; bytes: number; kind: string };
  expect(repJson).toMatchObject({ report: path.join(run, 'report.html'), kind: 'run' });
  expect(repJson.bytes).toBe(fs.statSync(path.join(run, 'report.html')).size);
  if (!fs.existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium; npm test's pretest does) or set E3SIM_CHROMIUM`,
    );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
});

async function open(file: string) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  const blocked: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.route('**/*', (r) => {
    if (r.request().url().startsWith('file:')) return r.continue();
    blocked.push(r.request().url());
    return r.abort();
  });
  // A chart counts as drawn when its canvas has a pixel that is not transparent.
  await page.addInitScript(() => {
    (window as unknown as { e3simDrawn: (c: HTMLCanvasElement) => boolean }).e3simDrawn = (c) => {
      const ctx = c.getContext('2d');
      if (!ctx || c.width === 0 || c.height === 0) return false;
      const px = ctx.getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) return true;
      return false;
    };
  });
  await page.goto(pathToFileURL(file).href);
  await page.waitForFunction(
    () => (window as unknown as { e3simReport?: { done?: boolean } }).e3simReport?.done === true,
    null,
    { timeout: 60_000 },
  );
  return { page, errors, blocked };
}

/** The run's trace.json events (the Chrome Trace Event fields the tests read). */
function traceEvents() {
  return JSON.parse(fs.readFileSync(path.join(run, 'trace.json'), 'utf8')) as {
    ph: string;
    pid: number;
    tid: number;
    ts: number;
    dur?: number;
    id?: number;
    name: string;
    args?: { name: string };
  }[];
}

describe('trace.json', () => {
  it('is well-formed: spans nest per track, timestamps monotonic, every state closed, flows paired', () => {
    const events = traceEvents();
    const spans = new Map<string, { ts: number; dur: number }[]>();
    for (const e of events.filter((x) => x.ph === 'X')) {
      expect(e.ts).toBeGreaterThanOrEqual(0);
      expect(e.dur).toBeGreaterThanOrEqual(0);
      const k = `${e.pid}/${e.tid}`;
      spans.set(k, [...(spans.get(k) ?? []), { ts: e.ts, dur: e.dur! }]);
    }
    for (const list of spans.values()) {
      // An actor is in one state at a time: consecutive spans, in order, never overlapping.
      for (let i = 1; i < list.length; i++) {
        expect(list[i]!.ts).toBeGreaterThanOrEqual(list[i - 1]!.ts);
        expect(list[i]!.ts).toBeGreaterThanOrEqual(list[i - 1]!.ts + list[i - 1]!.dur);
      }
    }
    // Every state an actor entered is a closed span: as many spans as transitions.
    const transitions = fs.readFileSync(path.join(run, 'transitions.jsonl'), 'utf8').trim().split('\n');
    expect(events.filter((x) => x.ph === 'X')).toHaveLength(transitions.length);
    const threads = events.filter((x) => x.ph === 'M' && x.name === 'thread_name');
    expect(threads.length).toBe(spans.size);
    // Flows: each id starts once and ends once, in time order.
    const flows = new Map<number, { s: number[]; f: number[] }>();
    for (const e of events.filter((x) => x.ph === 's' || x.ph === 'f')) {
      const f = flows.get(e.id!) ?? { s: [], f: [] };
      (e.ph === 's' ? f.s : f.f).push(e.ts);
      flows.set(e.id!, f);
    }
    expect(flows.size).toBeGreaterThan(0);
    for (const f of flows.values()) {
      expect(f.s).toHaveLength(1);
      expect(f.f).toHaveLength(1);
      expect(f.f[0]!).toBeGreaterThanOrEqual(f.s[0]!);
    }
    expect(events.some((x) => x.ph === 'C' && x.name === 'learning')).toBe(true);
  });

  it("every message flow goes along an edge of the role table (docs/ARCHITECTURE.md's 'who sends what to whom')", () => {
    const events = traceEvents();
    // a track's role: its thread name is "actor (role)"
    const roleOf = new Map<string, string>();
    for (const e of events.filter((x) => x.ph === 'M' && x.name === 'thread_name'))
      roleOf.set(`${e.pid}/${e.tid}`, /\(([^)]+)\)$/.exec(e.args!.name)![1]!);
    const hops = new Map<number, { ts: number; role: string }[]>();
    for (const e of events.filter((x) => x.ph === 's' || x.ph === 't' || x.ph === 'f'))
      hops.set(e.id!, [...(hops.get(e.id!) ?? []), { ts: e.ts, role: roleOf.get(`${e.pid}/${e.tid}`)! }]);
    const seen = new Set<string>();
    for (const list of hops.values()) {
      const roles = list.sort((a, b) => a.ts - b.ts).map((h) => h.role);
      for (let i = 1; i < roles.length; i++) seen.add(`${roles[i - 1]}→${roles[i]}`);
    }
    const table = topologyEdges();
    for (const edge of seen) expect(table.has(edge), edge).toBe(true);
    // the whole data path was seen: rollouts through every role to the learner, weights back
    for (const edge of [
      'sampler→verifier',
      'verifier→grader',
      'grader→batcher',
      'batcher→learner',
      'weightStore→sampler',
    ])
      expect(seen.has(edge), edge).toBe(true);
  });
});

describe('diagrams', () => {
  it('e3sim diagram emits a stateDiagram-v2 per machine that Mermaid parses', async () => {
    const r = cli('diagram', 'all');
    expect(r.status, r.stderr).toBe(0);
    const diagrams = r.stdout
      .split(/^%% /m)
      .filter((x) => x.trim() !== '')
      .map((x) => x.slice(x.indexOf('\n') + 1));
    expect(diagrams).toHaveLength(10);
    const json = JSON.parse(cli('diagram', 'sampler', '--format', 'json').stdout);
    expect(json.states.map((s: { name: string }) => s.name)).toEqual(
      expect.arrayContaining(['idle', 'syncingWeights', 'generating', 'delivering', 'failed', 'restarting']),
    );
    expect(json.edges).toContainEqual({ from: 'generating', to: 'failed', event: 'error: generating', guard: null });
    expect(cli('diagram', 'gpu').status).toBe(2);
    // Mermaid's own parser, in the report page (it needs a DOM).
    const { page } = await open(path.join(run, 'report.html'));
    const results = await page.evaluate(async (texts) => {
      const m = (window as unknown as { mermaid: { parse: (t: string) => Promise<unknown> } }).mermaid;
      const out: string[] = [];
      for (const t of texts) {
        try {
          await m.parse(t);
          out.push('ok');
        } catch (e) {
          out.push(String(e));
        }
      }
      return out;
    }, diagrams);
    expect(results).toEqual(diagrams.map(() => 'ok'));
    await page.close();
  }, 120_000);
});

describe('e3sim report', () => {
  it('opens offline with no console errors and draws every chart, the timeline and every diagram', async () => {
    const { page, errors, blocked } = await open(path.join(run, 'report.html'));
    const state = await page.evaluate(() => {
      const r = (
        window as unknown as {
          e3simReport: { charts: number; diagrams: number; timelineSpans: number; errors: string[] };
        }
      ).e3simReport;
      const canvases = [...document.querySelectorAll('.chart canvas')] as HTMLCanvasElement[];
      const drawn = canvases.filter((c) =>
        (window as unknown as { e3simDrawn: (c: HTMLCanvasElement) => boolean }).e3simDrawn(c),
      ).length;
      const gantt = document.getElementById('gantt') as HTMLCanvasElement;
      return {
        ...r,
        canvases: canvases.length,
        drawn,
        empty: document.querySelectorAll('.empty').length,
        ganttW: gantt.width,
        svgs: document.querySelectorAll('.diagram svg').length,
      };
    });
    expect(errors).toEqual([]);
    expect(blocked).toEqual([]);
    expect(state.errors).toEqual([]);
    expect(state.empty).toBe(1); // the smoke run has a fixed stage list: no budget decisions to show
    expect(state.charts).toBe(11); // 9 learning curves + extrapolation + staleness histogram
    expect(state.drawn).toBe(state.canvases);
    expect(state.canvases).toBeGreaterThanOrEqual(11);
    expect(state.diagrams).toBe(10);
    expect(state.svgs).toBe(10);
    expect(state.timelineSpans).toBeGreaterThan(20);
    expect(state.ganttW).toBeGreaterThan(0);
    fs.mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/report.png', fullPage: true });
    await page.close();
  }, 120_000);

  it('shows hostile names from configs and traces as text', async () => {
    const dir = path.join(tmp, 'hostile');
    fs.cpSync(run, dir, { recursive: true });
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    cfg.name = '<script>window.pwned=1</script>';
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    fs.appendFileSync(
      path.join(dir, 'transitions.jsonl'),
      JSON.stringify({
        t: 1,
        actor: '</script><img src=x onerror="window.pwned=2">',
        role: 'sampler',
        from: null,
        to: '<b>x</b>',
        event: 'E',
      }) + '\n',
    );
    const file = path.join(dir, 'report.html');
    fs.writeFileSync(file, renderReport(readRun(dir)));
    const { page, errors } = await open(file);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.textContent('h1')).toContain('<script>window.pwned=1</script>');
    expect(await page.evaluate(() => document.querySelectorAll('img').length)).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('draws the curriculum budget decisions (J over the ladder) when the run has them', async () => {
    const dir = path.join(tmp, 'decisions');
    fs.cpSync(run, dir, { recursive: true });
    fs.appendFileSync(
      path.join(dir, 'metrics.jsonl'),
      JSON.stringify({
        type: 'budget-choice',
        stage: 0,
        minBudget: 200,
        ladder: [256, 512, 1024, 2048, 4096],
        scores: [0.06, 0.17, 0.23, 0.24, 0.24],
        ratios: [],
        budget: 1024,
        reason: 'rule',
      }) + '\n',
    );
    const file = path.join(dir, 'report.html');
    fs.writeFileSync(file, renderReport(readRun(dir)));
    const { page, errors } = await open(file);
    const r = await page.evaluate(() => ({
      charts: (window as unknown as { e3simReport: { charts: number } }).e3simReport.charts,
      titles: [...document.querySelectorAll('#decisions .chart > div:first-child')].map((d) => d.textContent),
    }));
    expect(errors).toEqual([]);
    expect(r.charts).toBe(12);
    expect(r.titles).toEqual(['stage 0: chose 1024 tokens (rule, B0 200)']);
    await page.close();
  }, 120_000);

  it('compares the arms of a directory of runs, with the spread over seeds', async () => {
    const exp = path.join(tmp, 'experiment');
    for (const [arm, seed] of [
      ['e3', 'seed-0'],
      ['e3', 'seed-1'],
      ['mask', 'seed-0'],
    ])
      fs.cpSync(run, path.join(exp, arm!, seed!), { recursive: true });
    // Make seed-1 of e3 differ so the spread is not zero.
    const m1 = path.join(exp, 'e3', 'seed-1', 'metrics.jsonl');
    fs.writeFileSync(
      m1,
      fs
        .readFileSync(m1, 'utf8')
        .trim()
        .split('\n')
        .map((l) => {
          const x = JSON.parse(l);
          if (x.type === undefined) x.passRate = 1;
          return JSON.stringify(x);
        })
        .join('\n') + '\n',
    );
    const r = cli('report', exp);
    expect(r.status, r.stderr).toBe(0);
    const { page, errors, blocked } = await open(path.join(exp, 'report.html'));
    const state = await page.evaluate(() => ({
      ...(window as unknown as { e3simReport: { charts: number; arms: number } }).e3simReport,
      rows: [...document.querySelectorAll('#final tr')].map((tr) => [...tr.children].map((td) => td.textContent)),
    }));
    expect(errors).toEqual([]);
    expect(blocked).toEqual([]);
    expect(state.arms).toBe(2);
    expect(state.charts).toBeGreaterThanOrEqual(5);
    const header = state.rows[0]!;
    const e3 = state.rows.find((row) => row[0] === 'e3')!;
    expect(e3[header.indexOf('seeds')]).toBe('2');
    // passRate: seed-1 is 1, seed-0 the smoke run's: mean [min, max] with max 1.000.
    expect(e3[header.indexOf('passRate')]).toMatch(/\[\d\.\d{3}, 1\.000\]$/);
    await page.close();
  }, 120_000);

  it('exits 2 on a directory that is not a run', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-empty-'));
    const r = cli('report', empty);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/is neither a run \(config\.json\) nor a directory of runs/);
  });
});

describe('e3sim pk --html', () => {
  it('opens offline with no console errors and draws every curve: keep and mask, one line a seed', async () => {
    const file = path.join(tmp, 'pk.html');
    const r = cli('pk', '--steps', '300', '--log-every', '50', '--seeds', '2', '--quiet', '--html', file);
    expect(r.status, r.stderr).toBe(0);
    const { page, errors, blocked } = await open(file);
    const state = await page.evaluate(() => {
      const rep = (window as unknown as { e3simReport: { charts: number; series: number } }).e3simReport;
      const canvases = [...document.querySelectorAll('.chart canvas')] as HTMLCanvasElement[];
      const drawn = canvases.filter((c) =>
        (window as unknown as { e3simDrawn: (c: HTMLCanvasElement) => boolean }).e3simDrawn(c),
      ).length;
      const titles = [...document.querySelectorAll('.u-title')].map((t) => t.textContent);
      const legend = [...document.querySelectorAll('.chart')][0]!.querySelectorAll('.u-series').length;
      return { ...rep, drawn, titles, legend, rows: document.querySelectorAll('#summaries tbody tr').length };
    });
    expect(errors).toEqual([]);
    expect(blocked).toEqual([]);
    expect(state.charts).toBe(5);
    expect(state.drawn).toBe(5);
    expect(state.titles).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^length/),
        expect.stringMatching(/^p\(stop\)/),
        expect.stringMatching(/^reward/),
        expect.stringMatching(/^entropy/),
      ]),
    );
    expect(state.series).toBe(4); // keep and mask × 2 seeds
    expect(state.legend).toBe(5); // the x axis and one series a run
    expect(state.rows).toBe(4);
    await page.close();
    // under staleness (issue #31): one line per η and arm, named by both
    const lagged = path.join(tmp, 'pk-lagged.html');
    const s = cli('pk', '--steps', '200', '--log-every', '50', '--staleness', '0,4', '--quiet', '--html', lagged);
    expect(s.status, s.stderr).toBe(0);
    const second = await open(lagged);
    const labels = await second.page.evaluate(() =>
      [...[...document.querySelectorAll('.chart')][0]!.querySelectorAll('.u-series .u-label')].map(
        (t) => t.textContent,
      ),
    );
    expect(second.errors).toEqual([]);
    expect(labels).toEqual(['iteration', 'keep η0 s0', 'mask η0 s0', 'keep η4 s0', 'mask η4 s0']);
    await second.page.close();
  }, 120_000);
});

describe('e3sim train --ui', () => {
  it('serves the report on 127.0.0.1 and pushes an event per step while training', async () => {
    const cfg = path.join(tmp, 'smoke.yaml');
    const dir = path.join(tmp, 'live');
    const child = spawn(
      process.execPath,
      [BIN, 'train', '--quiet', '--config', cfg, '--out', dir, '--ui', '--port', '0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d) => {
        err += d;
        const m = /live view: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(err);
        if (m) resolve(m[1]!);
      });
      child.on('exit', () => reject(new Error(`exited before serving: ${err}`)));
    });
    const steps: number[] = [];
    const events = new Promise<void>((resolve) => {
      http.get(`${url}events`, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream');
        res.on('data', (chunk: Buffer) => {
          for (const m of chunk.toString().matchAll(/data: (\{.*\})/g)) steps.push(JSON.parse(m[1]!).step);
        });
        res.on('end', () => resolve());
      });
    });
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('new EventSource');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    await events;
    expect(code, err).toBe(0);
    expect(steps.length).toBeGreaterThan(0);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
  }, 120_000);

  it('a port in use is exit 2 with a clear message, and leaves no run directory', async () => {
    const server = http.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    const dir = path.join(tmp, 'busy');
    const r = cli('train', '--quiet', '--config', 'examples/smoke.yaml', '--out', dir, '--ui', '--port', String(port));
    server.close();
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`--port: 127\\.0\\.0\\.1:${port} is already in use`));
    expect(fs.existsSync(dir)).toBe(false);
  }, 60_000);
});
