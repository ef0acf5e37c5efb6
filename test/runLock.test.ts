/** The run-directory lock's rules (src/runtime/runLock.ts); the two-writers case end to end is in train.e2e. */
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
});
