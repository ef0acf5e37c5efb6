/**
 * The virtual clock's event queue: a binary min-heap ordered by (time, sequence number). The
 * sequence number is assigned at scheduling, so events at the same simulated time run in the
 * order they were scheduled — the tie-break that makes a schedule a pure function of its inputs.
 * The keys live in typed arrays next to each other (sifting touches no event object); the events
 * themselves are pooled and reused once the engine has handled them.
 */
import type { SimRole } from '../core/roles.js';

/** Every event of the virtual clock, with its payload (none where `undefined`). */
export interface SimEventData {
  /** A sampler's weights arrived. */
  synced: undefined;
  generated: undefined;
  delivered: undefined;
  /** In-flight updates: version `version` reaches a generating sampler. */
  swap: { version: number };
  verified: undefined;
  trained: undefined;
  published: undefined;
  republish: undefined;
  crash: { role: SimRole };
  timeout: { role: SimRole };
  restarted: { role: SimRole };
  'slow-end': { role: SimRole; factor: number; addS?: number };
  'grader-resume': undefined;
  /** The scenario's fault number `index` fires. */
  fault: { index: number };
  /** Storm `index`'s fault number `n`. */
  storm: { index: number; n: number };
  /** The curriculum's measurement (buckets, a coupled stage's budget) has taken its time. */
  measured: undefined;
}
export type SimEventKind = keyof SimEventData;

interface EventOf<K extends SimEventKind> {
  kind: K;
  /** Index of the actor the event belongs to (sampler, verifier thread), or -1. */
  actor: number;
  /** The actor's work epoch when scheduled; a stale epoch means the work was cancelled. */
  epoch: number;
  data: SimEventData[K];
}
/** An event, its payload typed by its kind (a `switch` on `kind` narrows `data`). */
export type SimEvent = { [K in SimEventKind]: EventOf<K> }[SimEventKind];

/** An event with its time and sequence number. */
export type QueuedEvent = SimEvent & { t: number; seq: number };

/** The payload argument of `add`: none for the kinds without one. */
type DataArg<K extends SimEventKind> = SimEventData[K] extends undefined ? [] : [data: SimEventData[K]];

/** The pooled form the heap stores (one object reused for any kind). */
interface Slot {
  t: number;
  seq: number;
  kind: SimEventKind;
  actor: number;
  epoch: number;
  data: unknown;
}

export class EventQueue {
  private t = new Float64Array(1024);
  private s = new Float64Array(1024);
  private ev: Slot[] = [];
  private n = 0;
  private nextSeq = 0;
  /** Popped events handed back with `release` (reused: the hot loop allocates no event objects). */
  private free: Slot[] = [];

  /** Returns a popped event whose fields nobody will read again. */
  release(item: QueuedEvent): void {
    if (this.free.length < 4096) {
      const slot = item as Slot;
      slot.data = undefined;
      this.free.push(slot);
    }
  }

  get size(): number {
    return this.n;
  }

  /** Schedules `kind` for `actor` at `epoch`, at simulated time t (the hot path: no event object built). */
  add<K extends SimEventKind>(t: number, kind: K, actor: number, epoch: number, ...data: DataArg<K>): void;
  // one optional parameter, not a rest array: the hot loop allocates nothing per event
  add(t: number, kind: SimEventKind, actor: number, epoch: number, data?: unknown): void {
    this.insert(t, kind, actor, epoch, data);
  }

  private insert(t: number, kind: SimEventKind, actor: number, epoch: number, data: unknown): void {
    if (!Number.isFinite(t)) throw new RangeError(`EventQueue: event '${kind}' at non-finite time ${t}`);
    const seq = this.nextSeq++;
    let item = this.free.pop();
    if (item) {
      item.t = t;
      item.seq = seq;
      item.kind = kind;
      item.actor = actor;
      item.epoch = epoch;
      item.data = data;
    } else item = { t, seq, kind, actor, epoch, data };
    if (this.n === this.t.length) this.grow();
    const T = this.t,
      S = this.s,
      E = this.ev;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = T[p]!;
      if (pt < t || (pt === t && S[p]! < seq)) break;
      T[i] = pt;
      S[i] = S[p]!;
      E[i] = E[p]!;
      i = p;
    }
    T[i] = t;
    S[i] = seq;
    E[i] = item;
  }

  private grow(): void {
    const t = new Float64Array(this.t.length * 2);
    t.set(this.t);
    const s = new Float64Array(this.s.length * 2);
    s.set(this.s);
    this.t = t;
    this.s = s;
  }

  pop(): QueuedEvent | undefined {
    return this.popSlot() as QueuedEvent | undefined;
  }

  private popSlot(): Slot | undefined {
    if (this.n === 0) return undefined;
    const T = this.t,
      S = this.s,
      E = this.ev;
    const top = E[0]!;
    const n = --this.n;
    if (n > 0) {
      const lt = T[n]!,
        ls = S[n]!,
        le = E[n]!;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        let ct = T[l]!,
          cs = S[l]!;
        if (r < n) {
          const rt = T[r]!;
          if (rt < ct || (rt === ct && S[r]! < cs)) {
            c = r;
            ct = rt;
            cs = S[r]!;
          }
        }
        if (lt < ct || (lt === ct && ls < cs)) break;
        T[i] = ct;
        S[i] = cs;
        E[i] = E[c]!;
        i = c;
      }
      T[i] = lt;
      S[i] = ls;
      E[i] = le;
    }
    E[n] = undefined as unknown as Slot; // no stale reference
    return top;
  }

  /** For checkpoints: the pending events in pop order, and the next sequence number. */
  toJSON(): { next: number; events: QueuedEvent[] } {
    const events = this.ev
      .slice(0, this.n)
      .map((e) => ({ ...e }) as QueuedEvent)
      .sort((a, b) => a.t - b.t || a.seq - b.seq);
    return { next: this.nextSeq, events };
  }

  static fromJSON(j: { next: number; events: QueuedEvent[] }): EventQueue {
    const q = new EventQueue();
    for (const e of j.events) {
      // Re-insert with the saved sequence numbers (so ties keep their order).
      q.nextSeq = e.seq;
      q.insert(e.t, e.kind, e.actor, e.epoch, e.data);
    }
    q.nextSeq = j.next;
    return q;
  }
}
