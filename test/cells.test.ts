/**
 * experiments/cells.ts runCells with a stand-in for e3sim (a small script per cell: it ends at
 * once with a given code, or waits to be stopped): finished cells get done.json and are kept on a
 * second call; the first failure stops the cells still running and names the failed cell and its
 * log; a cell waiting for a prerequisite that is not planned fails the call instead of hanging;
 * prerequisites run first.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Cell, readDone, runCells } from '../src/experiments/cells.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-cells-'));
// argv: <dir> <mode> [file]; `ok` ends 0; `fail` ends 1 (once `file` exists, when given); `wait`
// writes `waiting` once it can be stopped and runs until SIGINT (then 130). Each appends its mode to dir/ran.
const bin = path.join(tmp, 'cell.mjs');
fs.writeFileSync(
  bin,
  `import fs from 'node:fs';
const [dir, mode, file] = process.argv.slice(2);
fs.appendFileSync(dir + '/ran', mode + '\\n');
if (mode === 'ok') process.exit(0);
if (mode === 'fail') {
  const end = () => (!file || fs.existsSync(file) ? process.exit(1) : setTimeout(end, 10));
  end();
} else {
  process.on('SIGINT', () => { fs.appendFileSync(dir + '/ran', 'stopped\\n'); process.exit(130); });
  setInterval(() => {}, 1000);
  fs.writeFileSync(dir + '/waiting', '');
}
`,
);

const cell = (name: string, mode: string, after?: string[], file?: string): Cell => ({
  name,
  start: (dir) => [dir, mode, ...(file ? [file] : [])],
  resume: null,
  weight: 1,
  ...(after ? { after } : {}),
});

const run = (out: string, cells: Cell[], jobs = 2) =>
  runCells({ out, cells, jobs, bin, now: () => performance.now(), progressEverySeconds: 3600 });

describe('runCells', () => {
  it('runs every cell, prerequisites first; a second call keeps the finished ones', async () => {
    const out = path.join(tmp, 'ok');
    const log: string[] = [];
    const cells = [cell('b', 'ok', ['a']), cell('a', 'ok'), cell('c', 'ok')];
    const done = await runCells({ out, cells, jobs: 2, bin, now: () => 0, log: (s) => log.push(s) });
    expect(done.map((d) => d.name).sort()).toEqual(['a', 'b', 'c']);
    for (const c of cells) expect(readDone(path.join(out, c.name))?.resumed).toBe(false);
    // b waited for a: a started before b
    const starts = log.filter((l) => l.includes(' starting ')).map((l) => l.split(' starting ')[1]);
    expect(starts.indexOf('a')).toBeLessThan(starts.indexOf('b'));
    const again = await run(out, cells);
    expect(again).toEqual([]);
    expect(fs.readFileSync(path.join(out, 'a', 'ran'), 'utf8')).toBe('ok\n'); // not run again
  });

  it('the first failure stops the running cells and names the failed cell and its log', async () => {
    const out = path.join(tmp, 'fail');
    // `bad` fails once `slow` is running and can be stopped
    const cells = [
      cell('slow', 'wait'),
      cell('bad', 'fail', [], path.join(out, 'slow', 'waiting')),
      cell('never', 'ok'),
    ];
    const err = await run(out, cells).catch((e) => e);
    expect(String(err)).toMatch(/cell bad failed \(exit 1\); its output: .*bad\.log/);
    // the running cell was stopped, the one after the failure never started, nothing is marked done
    expect(fs.readFileSync(path.join(out, 'slow', 'ran'), 'utf8')).toBe('wait\nstopped\n');
    expect(fs.existsSync(path.join(out, 'never'))).toBe(false);
    expect(readDone(path.join(out, 'bad'))).toBeNull();
    expect(readDone(path.join(out, 'slow'))).toBeNull();
  });

  it('a cell waiting for a cell that is not planned fails the call instead of waiting forever', async () => {
    const out = path.join(tmp, 'orphan');
    const err = await run(out, [cell('x', 'ok', ['missing'])]).catch((e) => e);
    expect(String(err)).toMatch(/cells x wait for cells that are not planned or did not finish/);
  });
});
