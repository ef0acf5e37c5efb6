/**
 * Worker threads behind comlink, with what comlink lacks under Node: a typed endpoint adapter
 * (comlink 4.4.2's node-adapter has no TypeScript-friendly import path under NodeNext), calls
 * that fail when the worker exits or errors instead of hanging forever, and timeouts.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { BUNDLE_WORKER_FILE, threadBundleDir } from './bundle.js';
import type { PackedWeights } from '../tensor/pack.js';

type Listener = EventListenerOrEventListenerObject;

/** comlink Endpoint over a worker_threads Worker or MessagePort (Node delivers `data`, not an event). */
export function nodeEndpoint(port: Worker | MessagePort): Comlink.Endpoint {
  const wrapped = new Map<Listener, (data: unknown) => void>();
  return {
    postMessage: (message: unknown, transfer?: Transferable[]) => port.postMessage(message, transfer as never),
    addEventListener: (_type: string, listener: Listener) => {
      const f = (data: unknown) => {
        const ev = { data } as MessageEvent;
        if (typeof listener === 'function') listener(ev);
        else listener.handleEvent(ev);
      };
      wrapped.set(listener, f);
      port.on('message', f);
    },
    removeEventListener: (_type: string, listener: Listener) => {
      const f = wrapped.get(listener);
      if (f) port.off('message', f);
      wrapped.delete(listener);
    },
  };
}

export const ACTORS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../actors');

/**
 * `.ts` entry points need tsx inside the worker. On Node 20 `execArgv: ['--import', 'tsx']` does
 * not reach a worker's module loader, so workers start from a small .mjs bootstrap that calls
 * tsx's register() and then imports the TypeScript entry (actors/boot.mjs, verify.task.mjs).
 */
export const WORKER_BOOT = 'boot.mjs';

/**
 * How long a worker thread may take to start (tsx, tfjs and its backend, the weights) before its
 * first call fails: a role's own timeout (limits.*TimeoutMs) counts its work, never a thread's start,
 * which on a loaded machine can take seconds.
 */
export const THREAD_START_MS = 120_000;

/**
 * A worker thread running `actors/FILE` (from the single-file build, src/runtime/bundle.ts
 * threadBundleDir, or through tsx), with `data` in its workerData beside the fields that say which
 * file it runs.
 */
export function startWorkerThread(file: string, name: string, data: Record<string, unknown> = {}): Worker {
  const bundle = threadBundleDir();
  return bundle
    ? new Worker(path.join(bundle, BUNDLE_WORKER_FILE), { workerData: { ...data, e3simWorker: file }, name })
    : new Worker(path.join(ACTORS_DIR, WORKER_BOOT), {
        workerData: { ...data, entry: pathToFileURL(path.join(ACTORS_DIR, file)).href },
        name,
      });
}

export class WorkerGone extends Error {
  override readonly name = 'WorkerGone';
}
export class WorkerTimeout extends Error {
  override readonly name = 'WorkerTimeout';
}

export class WorkerHandle<T> {
  readonly api: Comlink.Remote<T>;
  private readonly worker: Worker;
  private gone: Error | null = null;
  private readonly waiters = new Set<(e: Error) => void>();

  constructor(
    readonly name: string,
    file: string,
  ) {
    this.worker = startWorkerThread(file, name);
    this.api = Comlink.wrap<T>(nodeEndpoint(this.worker));
    const fail = (e: Error) => {
      if (this.gone) return;
      this.gone = e;
      for (const w of this.waiters) w(e);
      this.waiters.clear();
    };
    this.worker.on('exit', (code) => fail(new WorkerGone(`${name} exited (code ${code})`)));
    this.worker.on('error', (e) => fail(new WorkerGone(`${name} failed: ${e.message}`)));
  }

  /** Runs one call; rejects with WorkerGone if the thread dies and WorkerTimeout after timeoutMs. */
  async call<R>(what: string, f: (api: Comlink.Remote<T>) => Promise<R>, timeoutMs: number): Promise<R> {
    if (this.gone) throw this.gone;
    let timer: NodeJS.Timeout | undefined;
    let onGone: ((e: Error) => void) | undefined;
    try {
      return await Promise.race([
        f(this.api),
        new Promise<never>((_, reject) => {
          onGone = reject;
          this.waiters.add(reject);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new WorkerTimeout(`${this.name}: ${what} took longer than ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onGone) this.waiters.delete(onGone);
    }
  }

  get alive(): boolean {
    return this.gone === null;
  }

  async terminate(): Promise<void> {
    this.api[Comlink.releaseProxy]();
    await this.worker.terminate();
  }
}

/** New weights to a sampler thread's port: its own copy, transferred (the caller keeps the original). */
export function postWeights(port: MessagePort, version: number, w: PackedWeights): void {
  const data = w.data.slice();
  port.postMessage({ version, weights: { manifest: w.manifest, data } }, [data.buffer]);
}
