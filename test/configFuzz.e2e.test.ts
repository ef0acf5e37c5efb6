/**
 * Config fuzz (issue #17): seeded mutations of examples/smoke.yaml — deleted keys, wrong types,
 * huge and negative numbers, unknown keys, bad enums, invalid YAML, binary garbage, paths that
 * are not checkpoints, backends that cannot start — given to `e3sim train`. Each must end with
 * exit 0 (a valid config: it trains one step) or exit 2 with one line naming the field (or the
 * file, for YAML that does not parse), never exit 1 or a stack trace, and an exit 2 leaves no run
 * directory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/util/rng.js';
import { runCli, spawnCli } from './helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-fuzz-'));
const base = YAML.parse(fs.readFileSync('examples/smoke.yaml', 'utf8')) as Record<string, unknown>;
(base.model as Record<string, unknown>).checkpoint = path.resolve('examples/checkpoints/base-countdown');
delete base.eval; // a valid mutation trains one step; its evaluation would only add time

interface Mutation {
  label: string;
  /** The config file's text. */
  text: string;
  /** What an exit 2 must name: the field's path, or the file. */
  names: string;
  /**
   * Run through the executable, not in-process: a backend that must fail to start in a process
   * that has none (this test's process may have started one in an earlier mutation).
   */
  spawn?: boolean;
}

/** Every dotted path to a leaf (or an array element) in the config. */
function paths(x: unknown, prefix: string[] = []): string[][] {
  if (x === null || typeof x !== 'object') return [prefix];
  const out: string[][] = prefix.length ? [prefix] : [];
  for (const [k, v] of Object.entries(x as Record<string, unknown>)) out.push(...paths(v, [...prefix, k]));
  return out;
}

function setAt(obj: unknown, p: string[], value: unknown, del = false): void {
  let o = obj as Record<string, unknown>;
  for (const k of p.slice(0, -1)) o = o[k] as Record<string, unknown>;
  if (del) delete o[p.at(-1)!];
  else o[p.at(-1)!] = value;
}

function mutations(seed: number, n: number): Mutation[] {
  const rng = new Rng(`config-fuzz/${seed}`);
  const all = paths(base);
  const pick = <T>(xs: readonly T[]) => xs[rng.int(xs.length)]!;
  const out: Mutation[] = [];
  const kinds = [
    'delete',
    'wrong-type',
    'huge',
    'negative',
    'unknown-key',
    'bad-enum',
    'not-a-checkpoint',
    'invalid-yaml',
    'garbage',
    'backend',
  ] as const;
  for (let i = 0; i < n; i++) {
    const kind = kinds[i % kinds.length]!;
    const cfg = structuredClone(base);
    const p = pick(all);
    const field = p.join('.');
    switch (kind) {
      case 'delete':
        setAt(cfg, p, undefined, true);
        out.push({ label: `${kind} ${field}`, text: YAML.stringify(cfg), names: p.at(-1)! });
        break;
      case 'wrong-type':
        setAt(cfg, p, pick(['seven', [1, 2], { a: 1 }, true, null]));
        out.push({ label: `${kind} ${field}`, text: YAML.stringify(cfg), names: field });
        break;
      case 'huge':
        setAt(cfg, p, pick([1e12, 1e308, 2 ** 53]));
        out.push({ label: `${kind} ${field}`, text: YAML.stringify(cfg), names: field });
        break;
      case 'negative':
        setAt(cfg, p, pick([-1, -1e9, -0.5]));
        out.push({ label: `${kind} ${field}`, text: YAML.stringify(cfg), names: field });
        break;
      case 'unknown-key': {
        const q = p.length > 1 ? p.slice(0, -1) : [];
        setAt(cfg, [...q, 'bogusKey'], 1);
        out.push({ label: `${kind} ${[...q, 'bogusKey'].join('.')}`, text: YAML.stringify(cfg), names: 'bogusKey' });
        break;
      }
      case 'bad-enum': {
        const f = pick([
          ['staleness', 'policy'],
          ['backend'],
          ['learner', 'negatives'],
          ['learner', 'aggregation'],
          ['curriculum', 'kind'],
        ]);
        if (f[0] === 'learner' && !cfg.learner) cfg.learner = {};
        if (f[0] === 'curriculum' && !cfg.curriculum) cfg.curriculum = {};
        setAt(cfg, f, 'bogus');
        out.push({ label: `${kind} ${f.join('.')}`, text: YAML.stringify(cfg), names: f.join('.') });
        break;
      }
      case 'not-a-checkpoint': {
        const where = pick(['/etc', '/nonexistent/ck', path.resolve('package.json'), path.resolve('examples')]);
        setAt(cfg, ['model', 'checkpoint'], where);
        out.push({ label: `${kind} ${where}`, text: YAML.stringify(cfg), names: 'model.checkpoint' });
        break;
      }
      case 'invalid-yaml': {
        const t = YAML.stringify(cfg);
        const cut = 1 + rng.int(t.length - 1);
        out.push({
          label: `${kind} at ${cut}`,
          text: `${t.slice(0, cut)}\n  - [unclosed: {\n${t.slice(cut)}`,
          names: 'config',
        });
        break;
      }
      case 'garbage':
        out.push({
          label: kind,
          text: Array.from({ length: 64 + rng.int(256) }, () => String.fromCharCode(rng.int(256))).join(''),
          names: 'config',
        });
        break;
      case 'backend':
        setAt(cfg, ['backend'], pick(['tensorflow', 'webgpu']));
        out.push({ label: `${kind} ${cfg.backend}`, text: YAML.stringify(cfg), names: 'backend', spawn: true });
        break;
    }
  }
  return out;
}

/** `e3sim train` in-process (test/helpers/cli.ts), or through the executable when `spawn`. */
async function train(args: string[], spawn = false): Promise<{ code: number | null; err: string }> {
  const r = spawn ? spawnCli(...args) : await runCli(...args);
  return { code: r.code, err: r.err };
}

describe('config fuzz', () => {
  it('50 seeded mutations of smoke.yaml: exit 0 or 2 naming the field, never 1 or a stack trace; exit 2 leaves no run directory', async () => {
    const muts = mutations(1, 50);
    const results: { m: Mutation; code: number | null; err: string; dirLeft: boolean }[] = [];
    // one at a time: in-process runs share the process's stdout, stderr and exit code
    for (const [i, m] of muts.entries()) {
      const file = path.join(tmp, `m${i}.yaml`);
      fs.writeFileSync(file, m.text, 'latin1');
      const out = path.join(tmp, `run${i}`);
      const r = await train(['train', '--quiet', '--config', file, '--out', out, '--max-steps', '1'], m.spawn);
      results.push({ m, ...r, dirLeft: fs.existsSync(out) });
    }
    const bad = results
      .filter(({ m, code, err, dirLeft }) => {
        if (code !== 0 && code !== 2) return true;
        if (/\n\s+at .+:\d+:\d+/.test(err)) return true; // a stack trace
        if (code === 2) {
          if (dirLeft) return true;
          const line = err.trim().split('\n').at(-1)!;
          if (!line.startsWith('e3sim: ')) return true;
          if (m.names === 'config' ? !line.includes('.yaml') : !line.includes(m.names)) return true;
        }
        return false;
      })
      .map(
        ({ m, code, err, dirLeft }) =>
          `${m.label}: exit ${code}${dirLeft ? ', run directory left' : ''}: ${err.trim().split('\n').slice(-3).join(' | ').slice(0, 300)}`,
      );
    expect(bad).toEqual([]);
    // the mix covers both outcomes
    expect(results.filter((r) => r.code === 2).length).toBeGreaterThan(25);
  }, 600_000);

  it('an initial policy with a truncated weights.bin: exit 2 naming model.checkpoint, no run directory', async () => {
    const ck = path.join(tmp, 'truncated-ck');
    fs.cpSync(path.resolve('examples/checkpoints/base-countdown'), ck, { recursive: true });
    const w = path.join(ck, 'weights.bin');
    fs.truncateSync(w, Math.floor(fs.statSync(w).size / 2));
    const file = path.join(tmp, 'truncated.yaml');
    fs.writeFileSync(file, YAML.stringify({ ...base, model: { checkpoint: ck } }));
    const out = path.join(tmp, 'run-truncated');
    const r = await train(['train', '--quiet', '--config', file, '--out', out]);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(
      /^e3sim: model\.checkpoint: checkpoint .*truncated-ck: weights\.bin has \d+ bytes, the manifest says \d+/m,
    );
    expect(fs.existsSync(out)).toBe(false);
  }, 120_000);
});
