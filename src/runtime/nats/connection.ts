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
  /** host:port list as the client wants it, without credentials. */
  servers: string;
  user?: string;
  pass?: string;
  token?: string;
  /** The URL with any password replaced by ***, for messages and logs. */
  display: string;
}

/**
 * nats://[user:pass@|token@]host[:port][,host2[:port2]…]; also tls://. Port defaults to 4222.
 */
export function parseNatsUrl(url: string, field = '--nats'): NatsTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError(`${field}: '${url}' is not a URL; expected nats://[user:password@]host[:port]`);
  }
  if (u.protocol !== 'nats:' && u.protocol !== 'tls:') throw new InputError(`${field}: scheme '${u.protocol}' not supported; expected nats:// or tls://`);
  if (!u.hostname) throw new InputError(`${field}: '${url}' has no host`);
  if (u.pathname && u.pathname !== '/' && u.pathname !== '') throw new InputError(`${field}: '${url}' has a path; expected nats://host[:port]`);
  const user = u.username ? decodeURIComponent(u.username) : undefined;
  const pass = u.password ? decodeURIComponent(u.password) : undefined;
  const servers = `${u.protocol}//${u.host}`;
  const display = user ? `${u.protocol}//${user}${pass ? ':***' : ''}@${u.host}` : servers;
  // nats://TOKEN@host: a user with no password is a token
  return user !== undefined && pass === undefined ? { servers, token: user, display: `${u.protocol}//***@${u.host}` } : { servers, user, pass, display };
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

export async function connectNats(o: ConnectOptions): Promise<{ nc: NatsConnection; jsm: JetStreamManager; target: NatsTarget }> {
  const field = o.field ?? '--nats';
  const target = parseNatsUrl(o.url, field);
  let authenticator;
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
      servers: target.servers, user: target.user, pass: target.pass, token: target.token, authenticator,
      name: o.name, timeout: 5_000, maxReconnectAttempts: o.reconnectAttempts ?? 30, reconnectTimeWait: 2_000,
    });
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    if (/auth|permission/i.test(msg)) throw new InputError(`${field}: ${target.display} refused the credentials (${msg})`);
    throw new InputError(`${field}: cannot connect to ${target.display}: ${msg}`);
  }
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, { timeout: 5_000 });
  } catch (e) {
    await nc.close().catch(() => {});
    throw new InputError(`${field}: ${target.display} has no JetStream (start nats-server with -js): ${(e as Error).message}`);
  }
  return { nc, jsm, target };
}
