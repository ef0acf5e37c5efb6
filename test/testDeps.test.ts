/**
 * `npm test`'s pretest (scripts/test-deps.mjs): with nothing missing it is silent and exits 0;
 * when a package is missing and it may not install, it runs nothing and names the exact command
 * (exit 2). The install path itself is checked on a fresh machine (docs/TESTS.md), not here.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findNatsServer } from '../scripts/test-deps.mjs';

const SCRIPT = path.resolve('scripts/test-deps.mjs');
const pretest = (env: Record<string, string>) =>
  spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });

describe('npm test provisions what the suite needs (scripts/test-deps.mjs)', () => {
  it('names the exact install command and exits 2 when it may not install a missing Chromium', () => {
    const r = pretest({ E3SIM_CHROMIUM: path.join(os.tmpdir(), 'no-such-chromium'), E3SIM_NO_INSTALL: '1' });
    expect(r.status).toBe(2);
    const expected = findNatsServer() ? 'chromium' : 'chromium nats-server';
    expect(r.stderr).toContain(`sudo apt-get install -y ${expected}`);
    expect(r.stderr).toContain('nothing was run');
    expect(r.stderr).toContain('test/report.browser.test.ts');
    expect(r.stderr.split('\n').length).toBeLessThan(10); // one message, not a wall of red
  });

  it('is silent and exits 0 when everything is there', () => {
    if (!findNatsServer())
      throw new Error('nats-server missing: run the suite through `npm test`, whose pretest installs it');
    const fake = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-deps-')), 'chromium');
    fs.writeFileSync(fake, '');
    const r = pretest({ E3SIM_CHROMIUM: fake, E3SIM_NO_INSTALL: '1' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });
});
