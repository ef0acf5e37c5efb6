/**
 * A NATS worker holds its work item from delivery to ack (src/runtime/nats/worker.ts holdItem):
 * "still working" goes out every third of the ack wait for all of that time, the publication of
 * the result included — so JetStream never takes the item back from a live worker and hands it to
 * another pull (the item would be done twice; the coordinator drops and counts the second result).
 * Fake timers: the times are exact.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { holdItem } from '../src/runtime/nats/worker.js';

afterEach(() => {
  vi.useRealTimers();
});

function fakeItem() {
  const events: { what: string; t: number }[] = [];
  const at = (what: string) => () => void events.push({ what, t: Date.now() });
  const m = { working: at('working'), ack: at('ack'), nak: at('nak'), info: { deliveryCount: 1 } };
  const logs: string[] = [];
  const o = { id: 'l-s1', log: (l: string) => logs.push(l), now: () => Date.now() };
  return { events, m: m as unknown as Parameters<typeof holdItem>[3], logs, o };
}
const waitMs = (ms: number) => new Promise((r) => setTimeout(r, ms));
// ack wait 600 ms: "still working" every 200 ms, for up to the coordinator's 10 s timeout of a generation
const info = { ackWaitMs: 600, itemTimeoutMs: { generate: 10_000 } };

describe('a NATS worker holds its item until the ack', () => {
  it('says "still working" through a result publication longer than the ack wait, then acks', async () => {
    vi.useFakeTimers();
    const { events, m, o, logs } = fakeItem();
    const t0 = Date.now();
    // the work takes 500 ms, the publication of its result 1,000 ms (a loaded server)
    const held = holdItem(
      o,
      info,
      'generate',
      m,
      { id: 'r1', payload: {} },
      () => waitMs(500),
      () => waitMs(1_000),
    );
    await vi.advanceTimersByTimeAsync(2_000);
    await held;
    expect(events.at(-1)).toEqual({ what: 'ack', t: t0 + 1_500 });
    const times = [t0, ...events.map((e) => e.t)];
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // never longer than the ack wait without a word; at the old code's end of work (500 ms) it went quiet for 1,000 ms
    expect(Math.max(...gaps)).toBe(200);
    expect(events.filter((e) => e.what === 'working').map((e) => e.t - t0)).toEqual([
      200, 400, 600, 800, 1_000, 1_200, 1_400,
    ]);
    expect(logs).toEqual([]);
    // nothing after the ack
    await vi.advanceTimersByTimeAsync(1_000);
    expect(events.at(-1)!.what).toBe('ack');
  });

  it('a result that cannot be published leaves the item for redelivery (nak), and stops saying it works', async () => {
    vi.useFakeTimers();
    const { events, m, o, logs } = fakeItem();
    const failing = async () => {
      await waitMs(300);
      throw new Error('no responders');
    };
    const held = holdItem(o, info, 'verify', m, { id: 'v1', payload: {} }, async () => ({}), failing);
    await vi.advanceTimersByTimeAsync(1_000);
    await held;
    expect(events.map((e) => e.what)).toEqual(['working', 'nak']);
    expect(logs).toEqual(['l-s1: could not publish the result of verify v1: no responders; leaving it for redelivery']);
  });

  it("stops saying it works past the coordinator's timeout for the item (a hung worker cannot hold it for ever)", async () => {
    vi.useFakeTimers();
    const { events, m, o } = fakeItem();
    const held = holdItem(
      o,
      { ackWaitMs: 600, itemTimeoutMs: { generate: 1_000 } },
      'generate',
      m,
      { id: 'r2', payload: {} },
      () => waitMs(3_000),
      async () => {},
    );
    await vi.advanceTimersByTimeAsync(3_000);
    await held;
    expect(events.filter((e) => e.what === 'working').length).toBe(4); // 200, 400, 600, 800 ms
    expect(events.at(-1)!.what).toBe('ack');
  });

  it('a tick held up past half the ack wait is logged, naming the limit', async () => {
    vi.useFakeTimers();
    const { m, o, logs } = fakeItem();
    const held = holdItem(
      o,
      info,
      'generate',
      m,
      { id: 'r3', payload: {} },
      () => waitMs(1_000),
      async () => {},
    );
    await vi.advanceTimersByTimeAsync(200);
    vi.setSystemTime(Date.now() + 700); // the process's event loop held up for 700 ms: no timer ran
    await vi.advanceTimersByTimeAsync(1_000);
    await held;
    expect(logs).toEqual([
      'l-s1: r3: "still working" went out 900 ms after the last (limits.natsAckWaitMs 600): this process\'s event loop was held up',
    ]);
  });
});
