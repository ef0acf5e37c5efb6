/**
 * The coordinator's end of the NATS transport: it publishes work to the run's JetStream work
 * queue and weights to its object store, and matches results back to callers by work id.
 *
 * Delivery is at-least-once (a worker that dies before acking has its work redelivered after
 * the ack wait; a re-issue after a timeout publishes the work again); accounting is exactly-once
 * because only the first result for an id resolves its caller — later ones (redelivered work
 * finished twice, a re-issue racing the original) are counted in `duplicates` and dropped.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { connectNats } from './connection.js';
import {
  HeartbeatSchema,
  ResultSchema,
  RUNS_SUBJECT,
  WORK_KINDS,
  encodeWeights,
  names,
  parseJsonBytes,
  resultValueSchemas,
  retrying,
  type Heartbeat,
  type RunInfo,
  type WorkKind,
} from './protocol.js';
import type { RemoteRole } from '../../core/roles.js';
import type { PackedWeights } from '../../tensor/pack.js';

export interface NatsCoordinatorOptions {
  url: string;
  credsFile?: string;
  /** Answered to workers; its `ackWaitMs` is the redelivery deadline of unacked work. */
  info: RunInfo;
  /** Work items the queue may hold (JetStream rejects publishes beyond it: backpressure). */
  queueMax: number;
  log: (line: string) => void;
  /** Called once when the connection is lost for good (reconnects exhausted). */
  onFatal: (error: string) => void;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class NatsCoordinator {
  private nc!: NatsConnection;
  private jsm!: JetStreamManager;
  private js!: JetStreamClient;
  private store!: ObjectStore;
  private readonly n;
  private readonly pending = new Map<string, Pending>();
  private readonly attempts = new Map<string, number>();
  private readonly workers = new Map<string, Heartbeat & { seenMs: number }>();
  private readonly subs: Subscription[] = [];
  private results: ConsumerMessages | null = null;
  private readonly weightsPublished = new Map<number, Promise<void>>();
  private closed = false;
  private census: NodeJS.Timeout | null = null;
  /** Results that arrived for work already answered (or never asked for here). */
  duplicates = 0;
  /** Work published, including re-issues. */
  published = 0;
  /** Results of work JetStream had redelivered (its first worker died or timed out before acking). */
  redelivered = 0;
  display = '';

  constructor(private readonly o: NatsCoordinatorOptions) {
    this.n = names(o.info.run);
  }

  async start(now: () => number): Promise<void> {
    const c = await connectNats({
      url: this.o.url,
      credsFile: this.o.credsFile,
      name: `e3sim coordinator ${this.o.info.run}`,
    });
    this.nc = c.nc;
    this.jsm = c.jsm;
    this.display = c.target.display;
    this.js = jetstream(this.nc);
    await this.createStreams();
    const n = this.n;
    const info = JSON.stringify(this.o.info);
    this.subs.push(this.nc.subscribe(n.info, { callback: (_e, m) => void m.respond(info) }));
    this.subs.push(this.nc.subscribe(RUNS_SUBJECT, { callback: (_e, m) => void m.respond(info) }));
    this.subs.push(
      this.nc.subscribe(n.heartbeats, {
        callback: (_e, m) => {
          const hb = HeartbeatSchema.safeParse(parseJsonBytes(m.data));
          if (!hb.success) return;
          if (!this.workers.has(hb.data.worker))
            this.o.log(`worker joined: ${hb.data.worker} (${hb.data.role}, pid ${hb.data.pid} on ${hb.data.host})`);
          this.workers.set(hb.data.worker, { ...hb.data, seenMs: now() });
        },
      }),
    );
    void this.watchStatus();
    void this.readResults();
    // Once a second: workers silent for longer than the ack wait (+3 s) are reported gone, and
    // the count per remote role is logged when it changes.
    let seen = '';
    this.census = setInterval(() => {
      const live = this.liveWorkers(now(), this.o.info.ackWaitMs + 3_000);
      const line = this.o.info.remote.map((r) => `${live[r]} ${r}${live[r] === 1 ? '' : 's'}`).join(', ');
      if (line !== seen) this.o.log(`NATS workers: ${line}`);
      seen = line;
    }, 1_000);
    this.census.unref();
  }

  /**
   * The run's streams, from empty (a resumed run re-plans its in-flight work itself): the work queue
   * with one durable consumer per kind of work, the results stream and its consumer, the weights'
   * object store.
   */
  private async createStreams(): Promise<void> {
    const jsm = this.jsm;
    const n = this.n;
    // A fresh run starts from empty queues (a resumed one re-plans its in-flight work itself).
    for (const s of [n.stream, n.resultsStream]) await jsm.streams.delete(s).catch(() => false);
    await jsm.streams.add({
      name: n.stream,
      subjects: WORK_KINDS.map((k) => n.work(k)),
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      max_msgs: this.o.queueMax,
      // a full queue refuses the publish (retried: backpressure); JetStream's default would drop the oldest item
      discard: DiscardPolicy.New,
      duplicate_window: 120_000_000_000,
    });
    for (const kind of WORK_KINDS) {
      await jsm.consumers.add(n.stream, {
        durable_name: kind,
        filter_subject: n.work(kind),
        ack_policy: AckPolicy.Explicit,
        ack_wait: this.o.info.ackWaitMs * 1_000_000,
        max_deliver: 20,
        max_ack_pending: 1_000,
      });
    }
    await jsm.streams.add({
      name: n.resultsStream,
      subjects: [n.results],
      storage: StorageType.File,
      max_msgs: 100_000,
      max_age: 3_600_000_000_000,
    });
    await jsm.consumers.add(n.resultsStream, {
      durable_name: 'coordinator',
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: 30_000_000_000,
    });
    const objm = new Objm(this.nc);
    await objm
      .open(n.weights)
      .then((s) => s.destroy())
      .catch(() => false);
    this.store = await objm.create(n.weights, { storage: StorageType.File });
  }

  /** Workers heard from within `withinMs`, per role; those silent longer are reported gone (once). */
  private liveWorkers(now: number, withinMs: number): Record<RemoteRole, number> {
    const out: Record<RemoteRole, number> = { sampler: 0, verifier: 0, grader: 0 };
    for (const [id, w] of this.workers) {
      if (now - w.seenMs > withinMs) {
        this.o.log(
          `worker left: ${id} (${w.role}; no heartbeat for ${((now - w.seenMs) / 1000).toFixed(1)} s): its unacked work is redelivered after the ack wait`,
        );
        this.workers.delete(id);
      } else out[w.role]++;
    }
    return out;
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') this.o.log(`NATS: disconnected from ${this.display}; reconnecting`);
      else if (s.type === 'reconnect') this.o.log(`NATS: reconnected to ${this.display}`); // readResults re-opens its consumer itself
    }
    if (!this.closed) this.o.onFatal(`NATS connection to ${this.display} closed (reconnect attempts exhausted)`);
  }

  private async readResults(): Promise<void> {
    while (!this.closed) {
      try {
        const consumer = await this.js.consumers.get(this.n.resultsStream, 'coordinator');
        const messages = await consumer.consume({ max_messages: 256 });
        this.results = messages;
        for await (const m of messages) {
          this.accept(parseJsonBytes(m.data));
          m.ack();
        }
      } catch (e) {
        if (this.closed) return;
        this.o.log(`NATS: results consumer: ${(e as Error).message}; retrying`);
      }
      this.results = null;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  private accept(raw: unknown): void {
    const r = ResultSchema.safeParse(raw);
    if (!r.success) {
      this.o.log(
        `NATS: malformed result dropped (${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message})`,
      );
      return;
    }
    const p = this.pending.get(r.data.id);
    if (!p) {
      this.duplicates++;
      return;
    }
    this.pending.delete(r.data.id);
    this.attempts.delete(r.data.id);
    if (r.data.delivery > 1) {
      this.redelivered++;
      this.o.log(
        `NATS: ${r.data.kind} ${r.data.id} done by ${r.data.worker} on delivery ${r.data.delivery} (redelivered)`,
      );
    }
    if (!r.data.ok)
      return p.reject(new Error(`${r.data.kind} ${r.data.id} failed on ${r.data.worker}: ${r.data.error}`));
    const v = resultValueSchemas[r.data.kind].safeParse(r.data.value);
    if (!v.success)
      return p.reject(
        new Error(
          `${r.data.kind} ${r.data.id} from ${r.data.worker}: malformed result: ${v.error.issues[0]?.path.join('.')}: ${v.error.issues[0]?.message}`,
        ),
      );
    p.resolve(v.data);
  }

  /** Publishes version `v` (once; later calls return the same promise). Old versions beyond `keep` are deleted. */
  publishWeights(version: number, w: PackedWeights, keep = 3): Promise<void> {
    if (this.closed) return Promise.resolve(); // the run is ending: nobody will sample these
    let p = this.weightsPublished.get(version);
    if (!p) {
      p = (async () => {
        const blob = encodeWeights(w);
        await this.retrying(`weights v${version}`, () => this.store.putBlob({ name: `v${version}` }, blob));
        for (const old of [...this.weightsPublished.keys()].filter((k) => k <= version - keep)) {
          this.weightsPublished.delete(old);
          await this.store.delete(`v${old}`).catch(() => {});
        }
      })();
      this.weightsPublished.set(version, p);
    }
    return p;
  }

  /** Publishes through a server outage of up to 60 s; JetStream de-duplicates re-published work by msgID. */
  private retrying<T>(what: string, f: () => Promise<T>): Promise<T> {
    return retrying(f, {
      tries: 60,
      delayMs: 1_000,
      stop: () => this.closed,
      onRetry: (e) => this.o.log(`NATS: ${what}: ${e.message}; retrying for up to 60 s`),
    });
  }

  weightsReady(version: number): Promise<void> {
    return this.weightsPublished.get(version) ?? Promise.reject(new Error(`weights v${version} were never published`));
  }

  /**
   * Publishes one work item and resolves with its first result. A call for an id that is still
   * pending (a re-issue) publishes again and shares the pending result. Rejects after timeoutMs
   * (the caller's supervision re-issues).
   */
  call<T>(kind: WorkKind, id: string, payload: unknown, timeoutMs: number): Promise<T> {
    const attempt = (this.attempts.get(id) ?? 0) + 1;
    this.attempts.set(id, attempt);
    let entry = this.pending.get(id);
    const result = new Promise<T>((resolve, reject) => {
      if (!entry) {
        entry = { resolve: resolve as (v: unknown) => void, reject };
        this.pending.set(id, entry);
      } else {
        const prev = entry;
        entry = {
          resolve: (v) => {
            prev.resolve(v);
            resolve(v as T);
          },
          reject: (e) => {
            prev.reject(e);
            reject(e);
          },
        };
        this.pending.set(id, entry);
      }
    });
    const body = JSON.stringify({ kind, id, attempt, payload });
    const publish = this.retrying(`${kind} ${id}`, () =>
      this.js.publish(this.n.work(kind), body, { msgID: `${kind}:${id}#${attempt}` }),
    ).then(() => {
      this.published++;
    });
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      publish.then(() => result),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          if (this.pending.get(id) === entry) this.pending.delete(id);
          reject(new Error(`${kind} ${id}: no result within ${timeoutMs} ms (attempt ${attempt})`));
        }, timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async close(o: { keepStreams?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.census) clearInterval(this.census);
    for (const p of this.pending.values()) p.reject(new Error('NATS transport closed'));
    this.pending.clear();
    this.results?.stop();
    for (const s of this.subs) s.unsubscribe();
    if (!o.keepStreams && !this.nc.isClosed()) {
      for (const s of [this.n.stream, this.n.resultsStream]) await this.jsm.streams.delete(s).catch(() => false);
      await this.store.destroy().catch(() => false);
    }
    await this.nc.drain().catch(() => {});
  }
}
