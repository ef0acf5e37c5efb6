#!/usr/bin/env node
/**
 * `npm test`'s `pretest`: the suite needs two programs that npm cannot install — Debian's
 * `chromium` (the report is opened in headless Chromium: test/report.browser.test.ts) and
 * `nats-server` (the NATS transport end to end: test/nats.e2e.test.ts). When one is missing and
 * this user may install packages (root, or sudo without a password) on a machine with apt-get,
 * they are installed here, once, before the suite, saying what and why. When not, the run stops
 * before any test with one message naming the exact command to run (exit 2).
 *
 * The lookups are the ones the tests use (imported from here): one place for each.
 * E3SIM_CHROMIUM names another Chromium; E3SIM_NO_INSTALL=1 never installs (it only checks).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Chromium the browser tests drive. */
export function chromiumPath() {
  return process.env.E3SIM_CHROMIUM ?? '/usr/bin/chromium';
}

/** The nats-server the NATS tests start, or null. */
export function findNatsServer() {
  for (const p of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'])
    if (fs.existsSync(p)) return p;
  const w = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  return w.status === 0 && w.stdout.trim() ? w.stdout.trim() : null;
}

const WHY = {
  chromium: 'the HTML report is opened in headless Chromium (test/report.browser.test.ts)',
  'nats-server': 'the NATS JetStream transport is tested end to end (test/nats.e2e.test.ts)',
};

/** The Debian packages the suite needs that this machine lacks. */
export function missingPackages() {
  const missing = [];
  if (!fs.existsSync(chromiumPath())) missing.push('chromium');
  if (!findNatsServer()) missing.push('nats-server');
  return missing;
}

const ok = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

function main() {
  const missing = missingPackages();
  if (missing.length === 0) return 0;
  const list = missing.join(' ');
  const why = missing.map((p) => `  ${p}: ${WHY[p]}`).join('\n');
  const root = process.getuid?.() === 0;
  const sudo = !root && ok('sudo', ['-n', 'true']) ? ['sudo'] : null;
  const apt = ok('sh', ['-c', 'command -v apt-get']);
  const canInstall = apt && (root || sudo) && process.env.E3SIM_NO_INSTALL !== '1';
  if (!canInstall) {
    const reason = !apt
      ? 'this machine has no apt-get'
      : process.env.E3SIM_NO_INSTALL === '1'
        ? 'E3SIM_NO_INSTALL=1 is set'
        : 'this user is not root and has no password-less sudo';
    process.stderr.write(
      `npm test: missing ${list}, and ${reason}, so nothing was run.\n${why}\n` +
        `Install ${missing.length > 1 ? 'them' : 'it'}, then run npm test again:\n` +
        `  sudo apt-get install -y ${list}\n` +
        (missing.includes('chromium') ? 'or point E3SIM_CHROMIUM at another Chromium binary.\n' : ''),
    );
    return 2;
  }
  const pre = sudo ?? [];
  process.stderr.write(
    `npm test: installing Debian's ${list} (once; later runs find ${missing.length > 1 ? 'them' : 'it'}):\n${why}\n`,
  );
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args) => {
    const [cmd, ...rest] = [...pre, ...args];
    return spawnSync(cmd, rest, { stdio: ['ignore', 'ignore', 'inherit'], env }).status === 0;
  };
  const installed = run(['apt-get', 'update', '-qq']) && run(['apt-get', 'install', '-y', '-qq', ...missing]);
  // The Debian package enables a system service where systemd runs; the tests start their own servers.
  if (missing.includes('nats-server') && fs.existsSync('/run/systemd/system'))
    run(['systemctl', 'stop', 'nats-server']);
  const still = missingPackages();
  if (!installed || still.length > 0) {
    process.stderr.write(
      `npm test: installing ${list} failed${still.length ? ` (${still.join(' ')} still missing)` : ''}; nothing was run.\n` +
        `Run it yourself, then npm test again:\n  sudo apt-get install -y ${list}\n`,
    );
    return 2;
  }
  process.stderr.write(`npm test: installed ${list}\n`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main();
