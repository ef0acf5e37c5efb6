/**
 * `e3sim worker --role sampler|verifier|grader --nats URL`: a separate process that joins a
 * running training. It asks the coordinator for the run's settings (request/reply), then pulls
 * work of its role from the run's JetStream consumer one item at a time, publishes each result
 * to the results stream and only then acks the work — so a worker killed mid-item leaves the
 * item unacked and JetStream redelivers it to another worker after the ack wait.
 * Heartbeats every second tell the coordinator who is there.
 */
import os from 'node:os';
import { jetstream, type Consumer, type JsMsg } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { transfer } from 'comlink';
import { connectNats } from './connection.js';
import {
  GenerateWorkSchema,
  GradeWorkSchema,
  HEARTBEAT_MS,
  KIND_OF_ROLE,
  RUNS_SUBJECT,
  RunInfoSchema,
  VerifyWorkSchema,
  WorkSchema,
  decodeWeights,
  names,
  parseJsonBytes,
  retrying,
  type RunInfo,
  type WorkKind,
} from './protocol.js';
import type { RemoteRole } from '../../core/roles.js';
import { initBackend, type BackendName } from '../../tensor/backend.js';
import { THREAD_START_MS, WorkerHandle, postWeights } from '../workers.js';
import type { SamplerApi } from '../../../actors/sampler.worker.js';
import type { PackedWeights } from '../../tensor/pack.js';
import { gradeGroup } from '../grade.js';
import verifyGroup from '../../../actors/verify.task.js';
import type { GradeJob } from '../../../machines/grader.js';
import { InputError } from '../../util/errors.js';

export interface WorkerOptions {
  role: RemoteRole;
  url: string;
  credsFile?: string;
  run?: string;
  backend: BackendName;
  id: string;
  /** How long to wait for a coordinator to answer before giving up. */
  waitMs: number;
  /** Stop after this many items (tests, benchmarks); unlimited by default. */
  maxItems?: number;
  log: (line: string) => void;
  now: () => number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** One generation in the sampler thread: at most an hour (its progress is acked to JetStream meanwhile). */
const GENERATE_TIMEOUT_MS = 3_600_000;

/** No run answered within --wait: not bad input (a run may start later), but nothing to do (exit 1, no stack). */
export class NoRunError extends Error {
  override readonly name = 'NoRunError';
}

async function findRun(nc: NatsConnection, o: WorkerOptions): Promise<RunInfo> {
  const subject = o.run ? names(o.run).info : RUNS_SUBJECT;
  const deadline = o.now() + o.waitMs;
  let last = '';
  while (o.now() < deadline) {
    try {
      const m = await nc.request(subject, '', { timeout: 2_000 });
      const info = RunInfoSchema.safeParse(JSON.parse(new TextDecoder().decode(m.data)));
      if (!info.success) throw new Error(`malformed run info: ${info.error.issues[0]?.message}`);
      if (!info.data.remote.includes(o.role))
        throw new InputError(
          `--role ${o.role}: run ${info.data.run} keeps its ${o.role}s local (remote roles: ${info.data.remote.join(', ') || 'none'})`,
        );
      return info.data;
    } catch (e) {
      if (e instanceof InputError) throw e;
      last = (e as Error).message;
      await sleep(500);
    }
  }
  throw new NoRunError(
    `no coordinator answered on ${subject} within ${o.waitMs} ms (${last}); start \`e3sim train --transport nats\` first${o.run ? ` or check --run ${o.run}` : ''}`,
  );
}

/**
 * The sampler thread of a sampler worker (actors/sampler.worker.ts, as on the real clock's worker
 * threads): this thread's event loop stays free for heartbeats and the in-progress acks that keep
 * JetStream from redelivering an item that takes longer than the ack wait. Weights come from the
 * run's object store.
 */
class SamplerThread {
  private thread: { handle: WorkerHandle<SamplerApi>; port: MessagePort } | null = null;
  version = -1;

  constructor(
    private readonly o: WorkerOptions,
    private readonly info: RunInfo,
    private readonly store: ObjectStore,
  ) {}

  private async fetchWeights(v: number): Promise<PackedWeights> {
    for (let tries = 0; ; tries++) {
      const blob = await this.store.getBlob(`v${v}`);
      if (blob) return decodeWeights(blob, `weights v${v}`);
      if (tries >= 60) throw new Error(`weights v${v} not in the object store after 30 s`);
      await sleep(500);
    }
  }

  /** The thread at weights ≥ v (a redelivered older item runs at the newer weights the thread has). */
  async at(v: number): Promise<WorkerHandle<SamplerApi>> {
    const o = this.o;
    if (!this.thread) {
      const w = await this.fetchWeights(v);
      const handle = new WorkerHandle<SamplerApi>(`${o.id} sampler thread`, 'sampler.worker.ts');
      const { port1, port2 } = new MessageChannel();
      const data = w.data.slice();
      await handle.call(
        'init',
        (api) =>
          api.init(
            transfer(
              {
                backend: o.backend,
                config: this.info.gptConfig,
                weights: { manifest: w.manifest, data },
                version: v,
                weightsPort: port2,
                samplerId: o.id,
              },
              [data.buffer, port2 as unknown as Transferable],
            ),
          ),
        THREAD_START_MS,
      );
      this.thread = { handle, port: port1 };
      this.version = v;
    } else if (v > this.version) {
      const thread = this.thread;
      postWeights(thread.port, v, await this.fetchWeights(v));
      this.version = await thread.handle.call('syncWeights', (api) => api.syncWeights(v, 60_000), 60_000);
    }
    return this.thread.handle;
  }

  async terminate(): Promise<void> {
    await this.thread?.handle.terminate().catch(() => {});
  }
}

/**
 * This role's work. An injected fault fires on the first delivery only: work redelivered after the
 * worker it crashed or hung is done normally by the next one.
 */
function workHandler(
  o: WorkerOptions,
  kind: WorkKind,
  sampler: SamplerThread | null,
): (payload: unknown, firstDelivery: boolean) => Promise<unknown> {
  switch (kind) {
    case 'generate':
      return async (payload, firstDelivery) => {
        const req = GenerateWorkSchema.parse(payload);
        if (firstDelivery && req.fault === 'crash') process.exit(70);
        if (firstDelivery && req.fault === 'hang') {
          o.log(`${o.id}: injected fault: hang on ${req.requestId}`);
          await new Promise(() => {});
        }
        const handle = await sampler!.at(req.weightsVersion);
        const { weightsVersion: _v, ...generate } = req;
        return handle.call(
          'generate',
          (api) => api.generate({ ...generate, fault: null, inflight: false }),
          GENERATE_TIMEOUT_MS,
        );
      };
    case 'verify':
      return async (payload, firstDelivery) => {
        const t = VerifyWorkSchema.parse(payload);
        return verifyGroup(firstDelivery ? t : { ...t, fault: null });
      };
    case 'grade':
      return async (payload) => gradeGroup(GradeWorkSchema.parse(payload) as unknown as GradeJob);
  }
}

/**
 * One work item held from its delivery to its ack: "still working" sent meanwhile (`keepWorking`),
 * its work done, its result published, then acked — or, when the result cannot be published,
 * left for redelivery.
 */
export async function holdItem(
  o: Pick<WorkerOptions, 'id' | 'log' | 'now'>,
  info: Pick<RunInfo, 'ackWaitMs' | 'itemTimeoutMs'>,
  kind: WorkKind,
  m: Pick<JsMsg, 'working' | 'ack' | 'nak' | 'info'>,
  item: { id: string; payload: unknown },
  handle: (payload: unknown, firstDelivery: boolean) => Promise<unknown>,
  publish: (body: string) => Promise<unknown>,
): Promise<void> {
  const stop = keepWorking(o, info, kind, m, item.id);
  try {
    await publish(await doItem(o, kind, m, item, handle));
    m.ack();
  } catch (e) {
    o.log(
      `${o.id}: could not publish the result of ${kind} ${item.id}: ${(e as Error).message}; leaving it for redelivery`,
    );
    m.nak();
  } finally {
    stop();
  }
}

/** One work item: the handler's result (or its error) as the result message. */
async function doItem(
  o: Pick<WorkerOptions, 'id'>,
  kind: WorkKind,
  m: Pick<JsMsg, 'info'>,
  item: { id: string; payload: unknown },
  handle: (payload: unknown, firstDelivery: boolean) => Promise<unknown>,
): Promise<string> {
  const head = { kind, id: item.id, worker: o.id, delivery: m.info.deliveryCount };
  try {
    return JSON.stringify({ ...head, ok: true, value: await handle(item.payload, m.info.deliveryCount === 1) });
  } catch (e) {
    return JSON.stringify({ ...head, ok: false, error: (e as Error).message });
  }
}

/**
 * "Still working on it" well inside the ack wait, from the item's delivery until it is acked — its
 * work and the publication of its result — up to the coordinator's own timeout for the item, so a
 * hung worker cannot hold it for ever. (It used to stop when the work was done: a result whose
 * publication took the rest of the ack wait had its item redelivered and done twice.) Returns the
 * stop.
 */
function keepWorking(
  o: Pick<WorkerOptions, 'id' | 'log' | 'now'>,
  info: Pick<RunInfo, 'ackWaitMs' | 'itemTimeoutMs'>,
  kind: WorkKind,
  m: Pick<JsMsg, 'working'>,
  id: string,
): () => void {
  const tStart = o.now();
  const itemMax = info.itemTimeoutMs[kind] ?? info.ackWaitMs;
  let last = tStart;
  const timer = setInterval(
    () => {
      const t = o.now();
      // A late tick: this process's event loop was held up; past the ack wait, JetStream hands the
      // item to the next pull and it is done twice (the coordinator drops the second result).
      if (t - last > info.ackWaitMs / 2)
        o.log(
          `${o.id}: ${id}: "still working" went out ${Math.round(t - last)} ms after the last (limits.natsAckWaitMs ${info.ackWaitMs}): this process's event loop was held up`,
        );
      last = t;
      if (t - tStart < itemMax) m.working();
    },
    Math.max(100, Math.floor(info.ackWaitMs / 3)),
  );
  return () => clearInterval(timer);
}

/** Pulls this role's work items; a stream or consumer gone means the run has ended. */
class WorkPuller {
  private consumer: Consumer | null = null;

  constructor(
    private readonly o: WorkerOptions,
    private readonly js: ReturnType<typeof jetstream>,
    private readonly stream: string,
    private readonly kind: WorkKind,
    private readonly run: string,
  ) {}

  /** The next item, null when none came within 2 s (or after a pull error, retried), 'ended' at the run's end. */
  async next(signal: AbortSignal): Promise<JsMsg | null | 'ended'> {
    try {
      this.consumer ??= await this.js.consumers.get(this.stream, this.kind);
      return await this.consumer.next({ expires: 2_000 });
    } catch (e) {
      if (signal.aborted) return 'ended';
      const msg = (e as Error).message;
      if (/stream not found|consumer not found|consumer deleted/i.test(msg)) {
        this.o.log(`${this.o.id}: run ${this.run} has ended (${msg})`);
        return 'ended';
      }
      this.o.log(`${this.o.id}: pulling work: ${msg}; retrying`);
      this.consumer = null;
      await sleep(1_000);
      return null;
    }
  }
}

export async function runNatsWorker(o: WorkerOptions, signal: AbortSignal): Promise<{ items: number }> {
  const { nc, target } = await connectNats({ url: o.url, credsFile: o.credsFile, name: `e3sim worker ${o.id}` });
  try {
    const info = await findRun(nc, o);
    const n = names(info.run);
    const kind: WorkKind = KIND_OF_ROLE[o.role];
    const js = jetstream(nc);
    o.log(`${o.id}: ${o.role} for run ${info.run} on ${target.display}`);
    let sampler: SamplerThread | null = null;
    if (o.role === 'sampler') {
      // checked here: a backend that cannot start is exit 2 before any work is taken
      const b = await initBackend(o.backend);
      o.log(`${o.id}: backend ${b.name} (${b.detail})`);
      sampler = new SamplerThread(o, info, await new Objm(nc).open(n.weights));
    }
    let busy = false;
    const hb = setInterval(() => {
      const version = sampler?.version ?? -1;
      nc.publish(
        n.heartbeat(o.id),
        JSON.stringify({ worker: o.id, role: o.role, pid: process.pid, host: os.hostname(), version, busy }),
      );
    }, HEARTBEAT_MS);
    hb.unref();
    const handle = workHandler(o, kind, sampler);
    const resultSubject = n.result(kind, o.id);
    // results ride out a server outage of up to 30 s, else the work is left for redelivery
    const publishResult = (body: string) =>
      retrying(() => js.publish(resultSubject, body), { tries: 30, delayMs: 1_000, stop: () => signal.aborted });

    let items = 0;
    const pull = new WorkPuller(o, js, n.stream, kind, info.run);
    while (!signal.aborted && (o.maxItems === undefined || items < o.maxItems)) {
      const m = await pull.next(signal);
      if (m === 'ended') break;
      if (!m) continue;
      const w = WorkSchema.safeParse(parseJsonBytes(m.data));
      if (!w.success || w.data.kind !== kind) {
        o.log(`${o.id}: malformed work dropped (${w.success ? `kind ${w.data.kind}` : w.error.issues[0]?.message})`);
        m.term();
        continue;
      }
      busy = true;
      await holdItem(o, info, kind, m, w.data, handle, publishResult);
      busy = false;
      items++;
    }
    clearInterval(hb);
    await sampler?.terminate();
    return { items };
  } finally {
    await nc.drain().catch(() => {});
  }
}
