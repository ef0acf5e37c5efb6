/**
 * A throwaway nats-server with JetStream on 127.0.0.1, a free port and its own store directory
 * (Debian's `nats-server`; `npm test` installs it when missing: scripts/test-deps.mjs). `restart()`
 * stops it and starts it again on the same port and store, as an operator restarting the server would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { findNatsServer } from '../../scripts/test-deps.mjs';

export function natsServerBinary(): string {
  const found = findNatsServer();
  if (found) return found;
  throw new Error(
    "nats-server not found: install Debian's nats-server package (apt-get install -y nats-server); npm test's pretest does this",
  );
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nats-server did not open port ${port} within ${timeoutMs} ms`);
}

export class TestNatsServer {
  private proc: ChildProcess | null = null;
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-nats-'));
  log = '';

  private constructor(
    readonly port: number,
    private readonly auth?: { user: string; pass: string },
  ) {}

  static async start(auth?: { user: string; pass: string }): Promise<TestNatsServer> {
    const s = new TestNatsServer(await freePort(), auth);
    await s.launch();
    return s;
  }

  get url(): string {
    return this.auth
      ? `nats://${this.auth.user}:${this.auth.pass}@127.0.0.1:${this.port}`
      : `nats://127.0.0.1:${this.port}`;
  }

  private async launch(): Promise<void> {
    const args = ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', path.join(this.dir, 'store')];
    if (this.auth) args.push('--user', this.auth.user, '--pass', this.auth.pass);
    this.proc = spawn(natsServerBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d) => (this.log += d));
    this.proc.stderr!.on('data', (d) => (this.log += d));
    await waitForPort(this.port, 10_000);
  }

  /** SIGTERM, and its exit within 10 s — else an error with the server's log (a hang must say where). */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve, reject) => {
      const late = setTimeout(() => {
        p.kill('SIGKILL');
        reject(
          new Error(`nats-server on port ${this.port} did not exit within 10 s of SIGTERM:\n${this.log.slice(-3_000)}`),
        );
      }, 10_000);
      p.once('exit', () => {
        clearTimeout(late);
        resolve();
      });
      p.kill('SIGTERM');
    });
  }

  async restart(downMs: number): Promise<void> {
    await this.stop();
    await new Promise((r) => setTimeout(r, downMs));
    await this.launch();
  }

  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
