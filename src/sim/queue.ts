/**
 * The virtual clock's event queue: a binary min-heap ordered by (time, sequence number). The
 * sequence number is assigned at scheduling, so events at the same simulated time run in the
 * order they were scheduled — the tie-break that makes a schedule a pure function of its inputs.
 */
export interface SimEvent {
  kind: string;
  /** Index of the actor the event belongs to (sampler, verifier thread), or -1. */
  actor: number;
  /** The actor's work epoch when scheduled; a stale epoch means the work was cancelled. */
  epoch: number;
  /** Small JSON-safe payload (fault specs, versions). */
  data?: Record<string, unknown>;
}

/** An event with its time and sequence number (one object per event: no wrapper). */
export interface QueuedEvent extends SimEvent {
  t: number;
  seq: number;
}

export class EventQueue {
  private heap: QueuedEvent[] = [];
  private nextSeq = 0;
  /** Popped events handed back with `release` (reused: the hot loop allocates no event objects). */
  private free: QueuedEvent[] = [];

  /** Returns a popped event whose fields nobody will read again. */
  release(item: QueuedEvent): void {
    if (this.free.length < 4096) {
      item.data = undefined;
      this.free.push(item);
    }
  }

  get size(): number {
    return this.heap.length;
  }

  get seq(): number {
    return this.nextSeq;
  }

  push(t: number, ev: SimEvent): void {
    this.add(t, ev.kind, ev.actor, ev.epoch, ev.data);
  }

  /** As push, without an intermediate event object (the hot path). */
  add(t: number, kind: string, actor: number, epoch: number, data?: Record<string, unknown>): void {
    if (!Number.isFinite(t)) throw new RangeError(`EventQueue: event '${kind}' at non-finite time ${t}`);
    const h = this.heap;
    let item = this.free.pop();
    if (item) {
      item.t = t;
      item.seq = this.nextSeq++;
      item.kind = kind;
      item.actor = actor;
      item.epoch = epoch;
      item.data = data;
    } else item = { t, seq: this.nextSeq++, kind, actor, epoch, data };
    let i = h.length;
    h.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const q = h[p]!;
      if (q.t < t || (q.t === t && q.seq < item.seq)) break;
      h[i] = q;
      i = p;
    }
    h[i] = item;
  }

  pop(): QueuedEvent | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        let cv = h[l]!;
        if (r < n) {
          const rv = h[r]!;
          if (rv.t < cv.t || (rv.t === cv.t && rv.seq < cv.seq)) {
            c = r;
            cv = rv;
          }
        }
        if (last.t < cv.t || (last.t === cv.t && last.seq < cv.seq)) break;
        h[i] = cv;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }

  peekTime(): number | undefined {
    return this.heap[0]?.t;
  }

  /** For checkpoints: the pending events in pop order, and the next sequence number. */
  toJSON(): { next: number; events: QueuedEvent[] } {
    const events = [...this.heap].sort((a, b) => a.t - b.t || a.seq - b.seq);
    return { next: this.nextSeq, events };
  }

  static fromJSON(j: { next: number; events: QueuedEvent[] }): EventQueue {
    const q = new EventQueue();
    q.heap = [...j.events]; // sorted by (t, seq) is a valid heap
    q.nextSeq = j.next;
    return q;
  }
}
