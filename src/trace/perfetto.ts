/**
 * trace.json in the Chrome Trace Event format (open it in https://ui.perfetto.dev or
 * chrome://tracing): one process track per thread (main, each worker, the verifier pool), one
 * thread track per actor, a complete span (`X`) for every state an actor was in, flow events
 * (`s`/`t`/`f`) for messages between actors, and counters (`C`) per learner step.
 * Events are streamed to the file as they close, so memory stays flat on long runs.
 */
import fs from 'node:fs';
import { truncateFile } from './transitions.js';
import { writeToLog } from '../util/atomic.js';

interface Track {
  pid: number;
  tid: number;
  state: string | null;
  since: number;
}

export class PerfettoTrace {
  private readonly fd: number;
  private first = true;
  private readonly tracks = new Map<string, Track>();
  private readonly processes = new Map<string, number>();
  private readonly flowIds = new Map<string, number>();
  private nextFlowId = 1;

  /**
   * A new trace, or with `resumeAt` (a resume from a checkpoint) the trace in `file` cut to that
   * many bytes and continued: its process and thread tracks are read back so that the resumed
   * run's actors land on the same tracks. Spans open at the checkpoint were never written and
   * stay missing.
   */
  constructor(
    private readonly file: string,
    resumeAt?: number,
  ) {
    if (resumeAt !== undefined && fs.existsSync(file) && resumeAt >= 2) {
      truncateFile(file, resumeAt);
      const events = JSON.parse(fs.readFileSync(file, 'utf8').trimEnd() + '\n]') as {
        ph: string;
        name: string;
        pid: number;
        tid: number;
        id?: number;
        args?: { name?: string };
      }[];
      for (const e of events) {
        if (e.ph === 'M' && e.name === 'process_name' && e.args?.name) this.processes.set(e.args.name, e.pid);
        if (e.ph === 'M' && e.name === 'thread_name' && e.args?.name)
          this.tracks.set(e.args.name.replace(/ \([^)]*\)$/, ''), { pid: e.pid, tid: e.tid, state: null, since: 0 });
        if (e.id !== undefined) this.nextFlowId = Math.max(this.nextFlowId, e.id + 1);
      }
      this.first = events.length === 0;
      this.fd = fs.openSync(file, 'a');
      return;
    }
    this.fd = fs.openSync(file, 'w');
    fs.writeSync(this.fd, '[\n');
  }

  /** Bytes written so far (the offset a checkpoint records), on the disk first (fsync). */
  bytes(): number {
    fs.fsyncSync(this.fd);
    return fs.fstatSync(this.fd).size;
  }

  private emit(ev: Record<string, unknown>): void {
    writeToLog(this.fd, this.file, (this.first ? '' : ',\n') + JSON.stringify(ev));
    this.first = false;
  }

  /** The process (thread) an actor runs in: workers get their own, main-thread roles share one. */
  private static threadOf(actor: string, role: string): string {
    if (role === 'sampler' || role === 'learner') return `${actor} thread`;
    if (role === 'verifier') return 'verifier pool';
    return 'main thread';
  }

  private track(actor: string, role: string): Track {
    let t = this.tracks.get(actor);
    if (t) return t;
    const proc = PerfettoTrace.threadOf(actor, role);
    let pid = this.processes.get(proc);
    if (pid === undefined) {
      pid = this.processes.size + 1;
      this.processes.set(proc, pid);
      this.emit({ ph: 'M', name: 'process_name', pid, tid: 0, args: { name: proc } });
    }
    t = { pid, tid: this.tracks.size + 1, state: null, since: 0 };
    this.tracks.set(actor, t);
    this.emit({ ph: 'M', name: 'thread_name', pid, tid: t.tid, args: { name: `${actor} (${role})` } });
    return t;
  }

  private static us(ms: number): number {
    return Math.round(ms * 1000);
  }

  /** An actor entered `to` at `tMs`: closes the span of its previous state. */
  transition(actor: string, role: string, to: string, tMs: number): void {
    const t = this.track(actor, role);
    this.close(t, tMs);
    t.state = to;
    t.since = Math.max(tMs, t.since);
  }

  private close(t: Track, tMs: number): void {
    if (t.state === null) return;
    const ts = PerfettoTrace.us(t.since);
    this.emit({
      ph: 'X',
      name: t.state,
      cat: 'state',
      pid: t.pid,
      tid: t.tid,
      ts,
      dur: Math.max(0, PerfettoTrace.us(tMs) - ts),
    });
    t.state = null;
  }

  /**
   * A message hop: `phase` s (sent), t (passed on) or f (arrived), bound to the span the actor is
   * in at `tMs`. Flows with the same `key` form one arrow chain.
   */
  flow(key: string, name: string, actor: string, role: string, phase: 's' | 't' | 'f', tMs: number): void {
    const t = this.track(actor, role);
    let id = this.flowIds.get(key);
    if (id === undefined) {
      if (phase !== 's') return; // never started (e.g. sent before a resume): draw nothing rather than a dangling end
      id = this.nextFlowId++;
      this.flowIds.set(key, id);
    }
    this.emit({
      ph: phase,
      id,
      name,
      cat: 'message',
      pid: t.pid,
      tid: t.tid,
      ts: PerfettoTrace.us(Math.max(tMs, t.since)),
      ...(phase === 'f' ? { bp: 'e' } : {}),
    });
    if (phase === 'f') this.flowIds.delete(key);
  }

  counter(name: string, tMs: number, values: Record<string, number>): void {
    this.emit({ ph: 'C', name, pid: 0, tid: 0, ts: PerfettoTrace.us(tMs), args: values });
  }

  /** Closes every open span at `tMs` and the JSON array. Flows still open are dropped by readers. */
  close_(tMs: number): void {
    for (const t of this.tracks.values()) this.close(t, tMs);
    fs.writeSync(this.fd, '\n]\n');
    fs.closeSync(this.fd);
  }
}
