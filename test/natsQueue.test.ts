/**
 * The coordinator's work queue is bounded (`queueMax` items): a publish beyond it is refused and
 * retried (backpressure), never taken by dropping the oldest item, which JetStream's default
 * discard policy does silently — that item's caller would wait for its timeout. A real nats-server.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NatsCoordinator } from '../src/runtime/nats/coordinator.js';
import { names } from '../src/runtime/nats/protocol.js';
import { TestNatsServer } from './helpers/nats.js';

const gptConfig = { vocabSize: 8, contextLength: 16, dModel: 8, nHeads: 1, nLayers: 1 };
const servers: TestNatsServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.dispose();
});

describe('the NATS work queue', () => {
  it('refuses work beyond queueMax (the publish retries) and keeps the oldest items', async () => {
    const server = await TestNatsServer.start();
    servers.push(server);
    const logs: string[] = [];
    const run = 'queue-bound';
    const c = new NatsCoordinator({
      url: server.url,
      info: { run, gptConfig: gptConfig as never, remote: ['verifier'], ackWaitMs: 2_000, itemTimeoutMs: {} },
      queueMax: 2,
      log: (l) => logs.push(l),
      onFatal: (e) => logs.push(`fatal: ${e}`),
    });
    await c.start(() => performance.now());
    try {
      // no worker: the items stay queued; each call ends at its own timeout
      const calls = ['a', 'b', 'c'].map((id) => c.call('verify', id, { id }, 2_500).catch((e: Error) => e.message));
      const nc = await connect({ servers: `127.0.0.1:${server.port}` });
      const jsm = await jetstreamManager(nc);
      const t0 = performance.now();
      while (!logs.some((l) => /verify c: maximum messages exceeded; retrying/.test(l))) {
        expect(performance.now() - t0, logs.join('\n')).toBeLessThan(2_000);
        await new Promise((r) => setTimeout(r, 20));
      }
      const state = (await jsm.streams.info(names(run).stream)).state;
      // the first two items are the ones queued: nothing was dropped to make room for the third
      expect(state.messages).toBe(2);
      expect(state.first_seq).toBe(1);
      expect(c.published).toBe(2);
      expect(await Promise.all(calls)).toEqual([
        'verify a: no result within 2500 ms (attempt 1)',
        'verify b: no result within 2500 ms (attempt 1)',
        'verify c: no result within 2500 ms (attempt 1)',
      ]);
      await nc.close();
    } finally {
      await c.close();
    }
  }, 30_000);
});
