/**
 * Connecting to NATS: the URL (credentials in it are allowed), an optional creds file, and errors
 * that name the input — a wrong URL, a server that refuses us or has no JetStream is bad input
 * (InputError, exit 2), reported without the password.
 */
import fs from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { InputError } from '../../util/errors.js';

export interface NatsTarget {
  /** The servers as the client wants them (scheme://host:port each), without credentials. */
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
  /** The URL with any password or token replaced by ***, for messages and logs. */
  display: string;
}

/**
 * nats://[user:pass@|token@]host[:port][,host2[:port2]…] (a cluster: the client picks one and
 * fails over to the others); also tls://. Port defaults to 4222. Credentials go on the first host
 * and apply to all.
 */
export function parseNatsUrl(url: string, field = '--nats'): NatsTarget {
  const scheme = /^([a-z]+):\/\//i.exec(url);
  if (!scheme)
    throw new InputError(
      `${field}: '${url}' is not a URL; expected nats://[user:password@]host[:port][,host2[:port2]…]`,
    );
  const [first, ...rest] = url.slice(scheme[0].length).split(',');
  const hosts: URL[] = [];
  for (const [i, part] of [first!, ...rest].entries()) {
    if (part.trim() === '') throw new InputError(`${field}: '${url}' has an empty host in its list`);
    if (i > 0 && part.includes('@'))
      throw new InputError(
        `${field}: credentials go on the first host only, not on '${part.replace(/^[^@]*@/, '***@')}'`,
      );
    let u: URL;
    try {
      u = new URL(`${scheme[0]}${part}`);
    } catch {
      throw new InputError(
        `${field}: '${url}' is not a URL; expected nats://[user:password@]host[:port][,host2[:port2]…]`,
      );
    }
    hosts.push(u);
  }
  const u0 = hosts[0]!;
  for (const u of hosts) {
    if (u.protocol !== 'nats:' && u.protocol !== 'tls:')
      throw new InputError(`${field}: scheme '${u.protocol}' not supported; expected nats:// or tls://`);
    if (!u.hostname) throw new InputError(`${field}: '${url}' has no host`);
    if (u.pathname && u.pathname !== '/' && u.pathname !== '')
      throw new InputError(`${field}: '${url}' has a path; expected nats://host[:port]`);
  }
  const user = u0.username ? decodeURIComponent(u0.username) : undefined;
  const pass = u0.password ? decodeURIComponent(u0.password) : undefined;
  const servers = hosts.map((u) => `${u.protocol}//${u.host}`);
  const list = hosts.map((u) => u.host).join(',');
  const display = user ? `${u0.protocol}//${user}${pass ? ':***' : ''}@${list}` : `${u0.protocol}//${list}`;
  // nats://TOKEN@host: a user with no password is a token
  return user !== undefined && pass === undefined
    ? { servers, token: user, display: `${u0.protocol}//***@${list}` }
    : { servers, user, pass, display };
}

export interface ConnectOptions {
  url: string;
  /** A NATS .creds file (JWT + nkey seed). */
  credsFile?: string;
  /** Client name shown by the server's monitoring. */
  name: string;
  field?: string;
  /** Reconnect attempts after a connection is lost (2 s apart): how long a server outage is ridden out. */
  reconnectAttempts?: number;
}

export async function connectNats(
  o: ConnectOptions,
): Promise<{ nc: NatsConnection; jsm: JetStreamManager; target: NatsTarget }> {
  const field = o.field ?? '--nats';
  const target = parseNatsUrl(o.url, field);
  let authenticator: ReturnType<typeof credsAuthenticator> | undefined;
  if (o.credsFile) {
    let creds: Uint8Array;
    try {
      creds = fs.readFileSync(o.credsFile);
    } catch (e) {
      throw new InputError(`--nats-creds: cannot read '${o.credsFile}': ${(e as Error).message}`);
    }
    authenticator = credsAuthenticator(creds);
  }
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: target.servers,
      user: target.user,
      pass: target.pass,
      token: target.token,
      authenticator,
      name: o.name,
      timeout: 5_000,
      maxReconnectAttempts: o.reconnectAttempts ?? 30,
      reconnectTimeWait: 2_000,
    });
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    if (/auth|permission/i.test(msg))
      throw new InputError(`${field}: ${target.display} refused the credentials (${msg})`);
    throw new InputError(`${field}: cannot connect to ${target.display}: ${msg}`);
  }
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, { timeout: 5_000 });
  } catch (e) {
    await nc.close().catch(() => {});
    throw new InputError(
      `${field}: ${target.display} has no JetStream (start nats-server with -js): ${(e as Error).message}`,
    );
  }
  return { nc, jsm, target };
}
