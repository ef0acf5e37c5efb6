/**
 * `e3sim scenario` and `e3sim train --clock virtual` from the command line: every built-in
 * scenario in its reduced (--quick) form, a virtual-clock training run interrupted by SIGINT and
 * resumed to the bytes of an uninterrupted one, and bad input that exits 2 naming the field.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { E3SIM } from './helpers/bin.js';

const BIN = E3SIM;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-scenario-'));

/** The CLI in-process (test/helpers/cli.ts): no process start per command; cells of --jobs 2 still run in processes. */
async function e3sim(...args: string[]) {
  const r = await runCli(...args);
  return { code: r.code, out: r.out, err: r.err };
}

interface Results {
  cells: {
    name: string;
    status: string;
    error?: string;
    summary: Record<string, unknown> & { staleness: { max: number; mean: number }; stalenessBound: number | string };
  }[];
}

describe('e3sim scenario --quick (each built-in scenario, reduced)', () => {
  // mismatch's quick form runs in the --jobs test below
  const scenarios = [
    'staleness-sweep',
    'staleness-lr3e-4',
    'dynamic-sampling',
    'long-tail',
    'fault-storm',
    'cluster-1.7b',
    'e3-staleness',
    'e3-staleness-curriculum', // the coupled curriculum under staleness (issue #30 item 4)
  ];
  for (const name of scenarios) {
    it(name, async () => {
      const out = path.join(tmp, name);
      const r = await e3sim('scenario', `examples/scenarios/${name}.yaml`, '--quick', '--out', out, '--quiet');
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as Results;
      expect(res.cells.length).toBeGreaterThanOrEqual(2);
      for (const c of res.cells) {
        expect(c.status, `${c.name}: ${c.error}`).toBe('done');
        expect(c.summary.rolloutsLost).toBe(0);
        expect(c.summary.rolloutsGenerated).toBe(
          (c.summary.rolloutsTrained as number) +
            (c.summary.rolloutsDroppedStale as number) +
            (c.summary.rolloutsDroppedInvalid as number) +
            (c.summary.rolloutsDroppedFiltered as number),
        );
        if (typeof c.summary.stalenessBound === 'number')
          expect(c.summary.staleness.max).toBeLessThanOrEqual(c.summary.stalenessBound);
        expect(fs.existsSync(path.join(out, 'cells', c.name, 'metrics.jsonl'))).toBe(true);
      }
      // two evaluation budgets: the extrapolation columns (issue #31)
      if (name === 'e3-staleness')
        expect(fs.readFileSync(path.join(out, 'analysis.md'), 'utf8')).toContain('gain @64 − @32 [95% CI, paired]');
      const md = fs.readFileSync(path.join(out, 'results.md'), 'utf8');
      expect(md).toContain('| staleness');
      if (name === 'staleness-sweep') {
        expect(md).toContain('eval pass@1');
        const unbounded = res.cells.find((c) => c.name.startsWith('bound=inf'))!;
        expect(unbounded.summary.stalenessBound).toBe('inf');
        expect(unbounded.summary.staleness.max).toBeGreaterThan(0);
      }
      if (name === 'fault-storm')
        expect(res.cells.every((c) => (c.summary.faultsFired as string[]).length > 0)).toBe(true);
    });
  }
});

describe('e3sim scenario --jobs', () => {
  it('runs cells in their own processes with the results of one process; the same --out continues, keeping finished cells', async () => {
    const file = 'examples/scenarios/mismatch.yaml';
    const one = path.join(tmp, 'jobs-1');
    const two = path.join(tmp, 'jobs-2');
    expect((await e3sim('scenario', file, '--quick', '--out', one, '--quiet')).code).toBe(0);
    expect((await e3sim('scenario', file, '--quick', '--jobs', '2', '--out', two, '--quiet')).code).toBe(0);
    const read = (d: string) => JSON.parse(fs.readFileSync(path.join(d, 'results.json'), 'utf8')) as Results;
    const key = (r: Results) =>
      r.cells.map((c) => [c.name, c.status, c.summary.weightsSha256, c.summary.rolloutsTrained]);
    expect(key(read(two))).toEqual(key(read(one)));
    expect(read(two).cells.length).toBe(2);
    for (const c of read(two).cells) expect([c.status, c.summary.rolloutsLost]).toEqual(['done', 0]);
    // again: nothing runs, every cell is kept
    const again = await e3sim('scenario', file, '--quick', '--jobs', '2', '--out', two);
    expect(again.code).toBe(0);
    expect(again.err).toMatch(/2 of 2 cells already done \(kept\)/);
    expect(key(read(two))).toEqual(key(read(one)));
    // another scenario's grid in that --out is refused
    const other = await e3sim(
      'scenario',
      'examples/scenarios/staleness-sweep.yaml',
      '--quick',
      '--jobs',
      '2',
      '--out',
      two,
    );
    expect(other.code).toBe(2);
    expect(other.err).toMatch(/--out: .* holds another grid/);
    // SIGINT while the cells compute (issue #29): each stops at its next work item with a checkpoint and
    // is not recorded as done; the same command continues the grid to the results of one process
    const three = path.join(tmp, 'jobs-2-cut');
    const child = spawn(process.execPath, [BIN, 'scenario', file, '--quick', '--jobs', '2', '--out', three], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += String(d)));
    const started = () =>
      fs.existsSync(path.join(three, 'cells')) &&
      fs
        .readdirSync(path.join(three, 'cells'))
        .some(
          (c) =>
            fs.existsSync(path.join(three, 'cells', c, 'metrics.jsonl')) &&
            fs.statSync(path.join(three, 'cells', c, 'metrics.jsonl')).size > 0,
        );
    for (let i = 0; i < 2400 && !started(); i++) await new Promise((r) => setTimeout(r, 25));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code, err).toBe(130);
    expect(err).toMatch(/interrupted: finished cells are kept and running ones checkpointed/);
    const cells = fs.readdirSync(path.join(three, 'cells')).filter((c) => !c.endsWith('.log'));
    const halted = cells.filter((c) => !fs.existsSync(path.join(three, 'cells', c, 'done.json')));
    expect(halted.length).toBeGreaterThan(0);
    for (const c of halted) expect(fs.existsSync(path.join(three, 'cells', c, 'checkpoints', 'latest'))).toBe(true);
    const resumed = await e3sim('scenario', file, '--quick', '--jobs', '2', '--out', three, '--quiet');
    expect(resumed.code, resumed.err).toBe(0);
    expect(key(read(three))).toEqual(key(read(one)));
  }, 300_000);
});

describe('e3sim train --clock virtual', () => {
  it('SIGINT stops at the next work item with a checkpoint (exit 130); --resume finishes with the bytes of an uninterrupted run', async () => {
    const cfg = path.join(tmp, 'virtual.yaml');
    const smoke = YAML.parse(fs.readFileSync('examples/smoke.yaml', 'utf8'));
    delete smoke.eval;
    fs.writeFileSync(
      cfg,
      YAML.stringify({
        ...smoke,
        name: 'virtual-smoke',
        backend: 'wasm',
        curriculum: { stages: [{ difficulty: 3, budgetTokens: 48, steps: 6 }] },
      }),
    );
    const full = path.join(tmp, 'v-full');
    expect((await e3sim('train', '--config', cfg, '--clock', 'virtual', '--out', full, '--quiet')).code).toBe(0);
    const cut = path.join(tmp, 'v-cut');
    const child = spawn(process.execPath, [BIN, 'train', '--config', cfg, '--clock', 'virtual', '--out', cut], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += String(d)));
    // Interrupt as soon as the run is under way (its first step line), before the first checkpoint.
    await new Promise<void>((res) => {
      const tick = setInterval(() => {
        if (
          fs.existsSync(path.join(cut, 'metrics.jsonl')) &&
          fs.readFileSync(path.join(cut, 'metrics.jsonl'), 'utf8').length > 0
        ) {
          clearInterval(tick);
          child.kill('SIGINT');
          res();
        }
      }, 5);
    });
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    const summary = JSON.parse(fs.readFileSync(path.join(cut, 'summary.json'), 'utf8'));
    // Six steps take seconds on wasm and the signal comes after the first: the run halts at its
    // next work item (issue #29: not the next checkpoint), with a checkpoint of that moment.
    expect(code, err).toBe(130);
    expect(err).toMatch(/stopping at the next work item and writing a checkpoint/);
    expect(summary.status).toBe('halted');
    expect(summary.steps).toBeLessThan(6);
    const r = await e3sim('train', '--resume', cut, '--quiet');
    expect(r.code, r.err).toBe(0);
    for (const f of ['metrics.jsonl', 'transitions.jsonl'])
      expect(fs.readFileSync(path.join(cut, f), 'utf8')).toBe(fs.readFileSync(path.join(full, f), 'utf8'));
    expect(JSON.parse(fs.readFileSync(path.join(cut, 'summary.json'), 'utf8')).weightsSha256).toBe(
      JSON.parse(fs.readFileSync(path.join(full, 'summary.json'), 'utf8')).weightsSha256,
    );
    // --max-steps on a resume sets a new step to stop at, as on the real clock (virtual.json records
    // it); one at or before the checkpoint's step (step-4: the last step is not checkpointed) is refused.
    const stopOf = () => JSON.parse(fs.readFileSync(path.join(full, 'virtual.json'), 'utf8')).maxSteps;
    const early = await e3sim('train', '--resume', full, '--quiet', '--max-steps', '4');
    expect(early.code).toBe(2);
    expect(early.err).toMatch(
      /--max-steps: 4 is not after step 4, where the run's checkpoint checkpoints\/step-4 resumes it/,
    );
    expect(stopOf()).toBe(6);
    const injected = await e3sim('train', '--resume', full, '--quiet', '--inject', 'slow:sampler=2x');
    expect(injected.code).toBe(2);
    expect(injected.err).toMatch(/--inject: a resumed run keeps the faults it was started with/);
    const longer = await e3sim('train', '--resume', full, '--quiet', '--max-steps', '7');
    expect(longer.code, longer.err).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(full, 'summary.json'), 'utf8')).steps).toBe(7);
    expect(stopOf()).toBe(7);
  });

  it('bad input exits 2 naming the field', async () => {
    const bad = path.join(tmp, 'bad.yaml');
    fs.writeFileSync(
      bad,
      `name: bad\nsweep: { staleness.bound: [0, -1] }\nbase: ${path.resolve('examples/smoke.yaml')}\n`,
    );
    const cases: [string[], RegExp][] = [
      [['train', '--config', 'examples/smoke.yaml', '--clock', 'wall'], /--clock: expected real or virtual/],
      [
        [
          'train',
          '--config',
          'examples/smoke.yaml',
          '--clock',
          'virtual',
          '--profile',
          'nope',
          '--out',
          path.join(tmp, 'x1'),
        ],
        /--profile: 'nope' is neither a built-in profile \(cpu-tiny, gpu-cluster-1.7b\)/,
      ],
      [
        ['train', '--config', 'examples/smoke.yaml', '--compute', 'none', '--out', path.join(tmp, 'x2')],
        /--profile\/--compute: only with --clock virtual/,
      ],
      [['scenario', path.join(tmp, 'missing.yaml')], /scenario: '.*missing.yaml' does not exist/],
      [
        [
          'train',
          '--config',
          'examples/curriculum-coupled.yaml',
          '--clock',
          'virtual',
          '--compute',
          'none',
          '--out',
          path.join(tmp, 'x4'),
        ],
        /curriculum: a coupled curriculum, difficulty buckets or a pass-rate stage end needs compute 'real' on the virtual clock .* got compute 'none'/,
      ],
      [['scenario', bad], /sweep.staleness.bound: '-1': expected a whole number ≥ 0 or inf/],
    ];
    for (const [args, msg] of cases) {
      const r = await e3sim(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(msg);
    }
    expect(fs.existsSync(path.join(tmp, 'x4'))).toBe(false); // bad input leaves no run directory
    const big = path.join(tmp, 'big.yaml');
    fs.writeFileSync(big, fs.readFileSync('examples/smoke.yaml', 'utf8').replace('samplers: 1', 'samplers: 500'));
    const r = await e3sim('train', '--config', big, '--out', path.join(tmp, 'x3'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /topology.samplers: at most 64 threads on the real clock, got 500 \(simulate larger topologies with --clock virtual\)/,
    );
  });
});
