/**
 * Resume from every checkpoint (issue #30; docs/TRAIN.md "Crash consistency"): small runs of the
 * smoke model under each curriculum and staleness mode that is deterministic on its clock (and a
 * one-step-off run with a sampler crash, a learner crash and a verifier hang), each checkpointing
 * every step, then resumed from each of their checkpoints in a copy (as after a crash just past
 * it) and compared with the uninterrupted run: every metrics.jsonl line (its timing fields aside)
 * and summary.json's weights, totals, restarts and fired faults. Exit 1 if any resume differs.
 *   npx tsx bench/resume-every.ts [--dir DIR] [--cases sync,buckets] [--clock real|virtual|both]
 * Beyond sync a row's running counters at the moment it is written (tokensGenerated, queueGroups)
 * depend on the real clock's threads' timing, so they are left out there too; async and in-flight
 * runs are not deterministic on the real clock and are cases of the virtual clock only.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';

const arg = (name: string, d: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const SMOKE = YAML.parse(fs.readFileSync('examples/smoke.yaml', 'utf8'));
const threshold = { passThreshold: 0, plateau: { window: 1, minGain: 0 } }; // stage 0 ends after step 1
const osoff = { staleness: { policy: 'one-step-off' } };
const twoSamplers = {
  topology: { samplers: 2, verifierThreads: 1 },
  curriculum: { stages: [{ difficulty: 3, budgetTokens: 48, steps: 6 }] },
};
const CASES: Record<string, Record<string, unknown>> = {
  sync: {},
  'one-step-off': osoff,
  'dynamic sampling': { ...osoff, rollout: { ...SMOKE.rollout, dynamicSampling: { backfillRounds: 2 } } },
  'pass-rate threshold': {
    ...osoff,
    curriculum: {
      stages: [
        { difficulty: 3, budgetTokens: 48, steps: 2, ...threshold },
        { difficulty: 4, budgetTokens: 96, steps: 2 },
      ],
    },
  },
  'coupled budgets': {
    ...osoff,
    curriculum: {
      kind: 'coupled',
      ladder: [16, 32, 48],
      kappa: 1.2,
      k: 2,
      measure: { problems: 4, samples: 4 },
      stages: [
        { difficulty: 3, steps: 2, ...threshold },
        { difficulty: 4, steps: 2 },
      ],
    },
  },
  faults: {
    ...osoff,
    faults: ['crash:sampler@step=2', 'crash:learner@step=3', 'hang:verifier@step=4'],
    limits: { verifierTimeoutMs: 1000 },
  },
  buckets: {
    ...osoff,
    curriculum: {
      pool: { difficulties: [3, 4], perDifficulty: 4, samples: 4, k: 4, budgetTokens: 48 },
      stages: [
        { buckets: ['easy', 'medium'], budgetTokens: 48, steps: 2, ...threshold },
        { buckets: ['medium', 'hard'], budgetTokens: 96, steps: 2 },
      ],
    },
  },
  // deterministic on the virtual clock only (on the real one the threads' timing decides which
  // version samples what)
  'async η = 2': { ...twoSamplers, staleness: { policy: 'async', eta: 2 } },
  'in-flight updates': { ...twoSamplers, staleness: { policy: 'inflight', eta: 2 } },
};
/** A case's name as a run name and directory (letters, digits, . _ -). */
const slug = (name: string) => name.replace(/[^A-Za-z0-9._-]+/g, '-');
const VIRTUAL_ONLY = new Set(['async η = 2', 'in-flight updates']);
const TIMING = ['t', 'tSeconds', 'tokensPerSec', 'wallMs', 'computeMs', 'numTensors', 'learnerNumTensors'];
const RACY = ['tokensGenerated', 'queueGroups', 'samplerNumTensors'];

const root = process.argv.includes('--dir') ? arg('--dir', '') : fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-every-'));
const names = arg('--cases', Object.keys(CASES).join(',')).split(',');
const clockArg = arg('--clock', 'both');
if (clockArg !== 'both' && clockArg !== 'real' && clockArg !== 'virtual') {
  console.error(`--clock: expected real, virtual or both, got '${clockArg}'`);
  process.exit(2);
}
const clocks = clockArg === 'both' ? ['real', 'virtual'] : [clockArg];
const unknown = names.filter((n) => !CASES[n]);
if (unknown.length) {
  console.error(`--cases: no case '${unknown[0]}' (expected ${Object.keys(CASES).join(', ')})`);
  process.exit(2);
}

function train(...a: string[]): void {
  const r = spawnSync(process.execPath, ['bin/e3sim.js', 'train', '--quiet', ...a], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`e3sim train ${a.join(' ')}: exit ${r.status}\n${r.stderr.slice(-1500)}`);
}
const lines = (dir: string, skip: Set<string>) =>
  fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .map((x) => Object.fromEntries(Object.entries(x).filter(([k]) => !skip.has(k))));
const totals = (dir: string) => {
  const s = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  return {
    weights: s.weightsSha256,
    generated: s.rolloutsGenerated,
    trained: s.rolloutsTrained,
    tokens: s.tokensTrained,
    restarts: s.restarts,
    faults: [...s.faultsFired].sort(),
  };
};

/** What differs between a resumed run and the uninterrupted one (at most 3 places), or []. */
function differences(dir: string, ref: string, skip: Set<string>): string[] {
  const out: string[] = [];
  const [mine, theirs] = [JSON.stringify(totals(dir)), JSON.stringify(totals(ref))];
  if (mine !== theirs) out.push(`summary ${mine} vs ${theirs}`);
  const a = lines(dir, skip);
  const b = lines(ref, skip);
  if (a.length !== b.length) out.push(`${a.length} metrics lines vs ${b.length}`);
  for (let i = 0; i < Math.min(a.length, b.length) && out.length < 3; i++) {
    const keys = Object.keys({ ...a[i], ...b[i] }).filter((k) => JSON.stringify(a[i]![k]) !== JSON.stringify(b[i]![k]));
    if (keys.length) out.push(`line ${i + 1} (${b[i]!.type ?? `step ${b[i]!.step}`}): ${keys.slice(0, 4).join(', ')}`);
  }
  return out;
}

const rows: string[] = [];
let bad = 0;
for (const clock of clocks)
  for (const name of names) {
    const over = CASES[name]!;
    if (clock === 'real' && VIRTUAL_ONLY.has(name)) continue;
    const dir = path.join(root, `${clock}-${slug(name)}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const cfg = path.join(dir, 'config.yaml');
    const c = {
      ...SMOKE,
      name: slug(name),
      backend: 'wasm',
      checkpoint: { every: 1, keep: 1000 },
      ...over,
    };
    fs.writeFileSync(cfg, YAML.stringify(c));
    const full = path.join(dir, 'full');
    train('--config', cfg, '--out', full, ...(clock === 'virtual' ? ['--clock', 'virtual'] : []));
    const skip = new Set([...TIMING, ...(clock === 'real' && name !== 'sync' ? RACY : [])]);
    const steps = fs
      .readdirSync(path.join(full, 'checkpoints'))
      .filter((n) => /^step-\d+$/.test(n))
      .map((n) => Number(n.slice(5)))
      .sort((x, y) => x - y);
    const failed: string[] = [];
    for (const k of steps) {
      const cut = path.join(dir, `from-${k}`);
      fs.cpSync(full, cut, { recursive: true });
      fs.writeFileSync(path.join(cut, 'checkpoints', 'latest'), `step-${k}`);
      for (const n of steps) if (n > k) fs.rmSync(path.join(cut, 'checkpoints', `step-${n}`), { recursive: true });
      train('--resume', cut);
      const d = differences(cut, full, skip);
      if (d.length) failed.push(`from step ${k}: ${d.join('; ')}`);
      process.stderr.write(`${clock} ${name} from step-${k}: ${d.length ? d.join('; ') : 'same'}\n`);
    }
    bad += failed.length;
    rows.push(
      `| ${clock} | ${name} | ${steps.join(', ')} | ${steps.length - failed.length} of ${steps.length} | ${failed.join('<br>') || '—'} |`,
    );
  }
console.log('| clock | case | checkpoints | resumed to the same run | differences |\n|---|---|---|---|---|');
console.log(rows.join('\n'));
console.log(
  bad === 0 ? '\nevery resume reached the uninterrupted run' : `\n${bad} resume${bad === 1 ? '' : 's'} differed`,
);
process.exitCode = bad ? 1 : 0;
