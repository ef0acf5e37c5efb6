/**
 * Issue #29 item 4: errors of the machine around a run. A failed atomic write leaves no temporary
 * behind and the old version in place; a resume sweeps what a killed writer left; a file-system
 * errno is one line naming the path — also when it is thrown in a callback after the wasm backend
 * started (whose module used to rethrow it: exit 7 and 40 KB of minified source).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sweepTemporaries, writeDirAtomic, writeFileAtomic } from '../src/util/atomic.js';
import { errnoLine, InputError } from '../src/util/errors.js';
import { loadCheckpoint } from '../src/policy/checkpoint.js';

const fresh = () => fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-env-'));
const enospc = (p: string) =>
  Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC', path: p, syscall: 'write' });

describe('environment errors', () => {
  it('a directory write that fails midway leaves the old directory and no temporary', () => {
    const root = fresh();
    const dir = path.join(root, 'step-2');
    writeDirAtomic(dir, (tmp) => fs.writeFileSync(path.join(tmp, 'a'), 'old'));
    expect(() =>
      writeDirAtomic(dir, (tmp) => {
        fs.writeFileSync(path.join(tmp, 'a'), 'new');
        throw enospc(path.join(tmp, 'b'));
      }),
    ).toThrow(/ENOSPC/);
    expect(fs.readdirSync(root)).toEqual(['step-2']);
    expect(fs.readFileSync(path.join(dir, 'a'), 'utf8')).toBe('old');
  });

  it('a file write that fails leaves no temporary', () => {
    const root = fresh();
    const file = path.join(root, 'summary.json');
    fs.mkdirSync(file); // renaming a file over a directory fails (EISDIR): after the temporary was written
    expect(() => writeFileAtomic(file, '{}')).toThrow();
    expect(fs.readdirSync(root)).toEqual(['summary.json']);
  });

  it('the sweep removes temporaries and puts back a committed directory a killed rename had moved aside', () => {
    const root = fresh();
    fs.mkdirSync(path.join(root, 'step-4.tmp-123'));
    fs.writeFileSync(path.join(root, 'step-4.tmp-123', 'learner.bin'), 'half');
    fs.mkdirSync(path.join(root, 'step-2.old-77')); // step-2 itself missing: killed between the renames
    fs.writeFileSync(path.join(root, 'step-2.old-77', 'x'), 'committed');
    fs.mkdirSync(path.join(root, 'step-3'));
    fs.mkdirSync(path.join(root, 'step-3.old-78')); // step-3 present: the old one is garbage
    fs.writeFileSync(path.join(root, '.latest.tmp-9'), 'step-4');
    fs.writeFileSync(path.join(root, 'latest'), 'step-3\n');
    const said = sweepTemporaries(root);
    expect(fs.readdirSync(root).sort()).toEqual(['latest', 'step-2', 'step-3']);
    expect(fs.readFileSync(path.join(root, 'step-2', 'x'), 'utf8')).toBe('committed');
    expect(said).toHaveLength(4);
    expect(sweepTemporaries(root)).toEqual([]);
  });

  it('an errno is one line naming the path, the meaning and the call; other errors are not', () => {
    expect(errnoLine(enospc('/runs/a/metrics.jsonl'))).toBe(
      '/runs/a/metrics.jsonl: no space left on the device (ENOSPC in write)',
    );
    expect(errnoLine(Object.assign(new Error('x'), { code: 'EROFS', path: '/ro/run' }))).toBe(
      '/ro/run: read-only file system (EROFS)',
    );
    expect(errnoLine(new Error('plain'))).toBeNull();
    expect(errnoLine(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBeNull();
  });

  it('ENOSPC thrown in a callback after the wasm backend started: one line on stderr, exit 1', () => {
    const script = [
      "import { installFatalHandlers } from './src/cli/fatal.ts';",
      "import { initBackend } from './src/tensor/backend.ts';",
      "await initBackend('wasm');",
      // installed after the module's own handlers: theirs (which rethrow) must be gone, not merely second
      'installFatalHandlers();',
      "setTimeout(() => { throw Object.assign(new Error('ENOSPC: no space left on device, write'), " +
        "{ code: 'ENOSPC', path: '/runs/a/metrics.jsonl', syscall: 'write' }); }, 1);",
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr.slice(0, 2000)).toBe(1);
    expect(r.stderr).toBe('e3sim: run failed: /runs/a/metrics.jsonl: no space left on the device (ENOSPC in write)\n');
  });
});

describe('bad input names its field', () => {
  it('a flag’s complaint is re-said under the config field that fed it, without rewriting text', () => {
    let caught: unknown;
    try {
      loadCheckpoint(path.join(os.tmpdir(), 'e3sim-no-such-checkpoint'));
    } catch (e) {
      caught = e;
    }
    const e = caught as InputError;
    expect(e).toBeInstanceOf(InputError);
    expect(e.field).toBe('--checkpoint');
    expect(e.message).toMatch(/^--checkpoint: '.*e3sim-no-such-checkpoint' is not a directory/);
    const renamed = e.as('model.checkpoint');
    expect(renamed.message).toBe(`model.checkpoint: ${e.detail}`);
    // a message with no field is kept whole under the new one
    expect(new InputError('checkpoint x: manifest.json is missing').as('model.checkpoint').message).toBe(
      'model.checkpoint: checkpoint x: manifest.json is missing',
    );
  });
});
