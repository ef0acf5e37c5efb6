/** The run-directory lock's rules (src/runtime/runLock.ts); the two-writers case end to end is in train.e2e. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireRunLock, assertNotHeld, LOCK_FILE } from '../src/runtime/runLock.js';

const fresh = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-lock-')), 'run');
const ownStart = () => {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
};

/** Runs `lines` as an ES module in a child Node (tsx), from the repository root. */
const runScript = (lines: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', lines.join('\n')], {
    cwd: path.resolve(__dirname, '..'),
    encoding: 'utf8',
    timeout: 30_000,
  });

describe('run-directory lock', () => {
  it('is exclusive while held, released (with the directory it created) at release', () => {
    const dir = fresh();
    const lock = acquireRunLock(dir, 'now', () => {});
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(true);
    expect(() => acquireRunLock(dir, 'now', () => {})).toThrow(/in use by process \d+ \(started now/);
    expect(() => assertNotHeld(dir)).toThrow(/in use by process/);
    lock.release();
    expect(fs.existsSync(dir)).toBe(false); // created here and left empty
    lock.release(); // idempotent
  });

  it.runIf(fs.existsSync('/proc/self/stat'))(
    'a holder whose pid now names another process (another start time) is stale: taken over aloud (Linux only: /proc)',
    () => {
      const dir = fresh();
      fs.mkdirSync(dir);
      const file = path.join(dir, LOCK_FILE);
      fs.writeFileSync(file, JSON.stringify({ pid: process.pid, startedAt: 'then', argv: [], procStart: ownStart() }));
      expect(() => assertNotHeld(dir)).toThrow(/in use/); // the same process: held
      fs.writeFileSync(file, JSON.stringify({ pid: process.pid, startedAt: 'then', argv: [], procStart: '1' }));
      const said: string[] = [];
      const lock = acquireRunLock(dir, 'now', (s) => said.push(s));
      expect(said.join('')).toMatch(/taking over the lock of process \d+ \(started then\), which is no longer running/);
      lock.release();
      expect(fs.existsSync(dir)).toBe(true); // not created by the lock: kept
    },
  );

  // A signal between the lock and the run's own handlers (loading modules and the backend) once
  // ended the process by Node's default action, without its exit handlers: the lock stayed in an
  // otherwise empty directory, which the same command then refused as not empty.
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${sig} during start-up exits ${code}, removing the lock and the directory the process made`, () => {
      const dir = fresh();
      const r = runScript([
        "const { acquireRunLock, startupSignalGuard } = await import('./src/runtime/runLock.ts');",
        `const dir = ${JSON.stringify(dir)};`,
        "acquireRunLock(dir, 'now', () => {});",
        'startupSignalGuard(dir);',
        `process.kill(process.pid, '${sig}');`,
        'await new Promise((r) => setTimeout(r, 10_000));', // start-up that the signal cuts short
        "console.log('not stopped');",
      ]);
      expect(r.stdout).not.toContain('not stopped');
      expect(r.status).toBe(code);
      expect(r.stderr).toContain(`${sig} during start-up: nothing written to ${dir}; exiting`);
      expect(fs.existsSync(dir)).toBe(false);
    });
  }

  it('a guard turned off leaves the signal to the run (its own handler runs, the guard does not)', () => {
    const dir = fresh();
    const r = runScript([
      "const { acquireRunLock, startupSignalGuard } = await import('./src/runtime/runLock.ts');",
      `const dir = ${JSON.stringify(dir)};`,
      "acquireRunLock(dir, 'now', () => {});",
      'const guard = startupSignalGuard(dir);',
      'guard.off();',
      "process.on('SIGINT', () => { console.log('run handler'); process.exit(0); });",
      "process.kill(process.pid, 'SIGINT');",
      'await new Promise((r) => setTimeout(r, 10_000));',
    ]);
    expect(r.stdout).toContain('run handler');
    expect(r.stderr).not.toContain('during start-up');
    expect(r.status).toBe(0);
  });

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`a ${sig} that arrived but is not yet dispatched at the hand-over reaches the run's handler (never dropped)`, () => {
      const dir = fresh();
      const r = runScript([
        "const { acquireRunLock, startupSignalGuard, handOverSignals } = await import('./src/runtime/runLock.ts');",
        `const dir = ${JSON.stringify(dir)};`,
        "acquireRunLock(dir, 'now', () => {});",
        'const guard = startupSignalGuard(dir);',
        'await new Promise((r) => setTimeout(r, 50));',
        // sent now, dispatched at the event loop's next turn: after the hand-over below
        `process.kill(process.pid, '${sig}');`,
        "handOverSignals(guard, (s) => { console.log('run handler ' + s); process.exit(0); });",
        'await new Promise((r) => setTimeout(r, 2000));',
        "console.log('lost');",
      ]);
      expect(r.stdout).toContain(`run handler ${sig}`);
      expect(r.stdout).not.toContain('lost');
      expect(r.stderr).not.toContain('during start-up');
      expect(r.status).toBe(0);
    });
  }
});
