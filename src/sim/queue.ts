/**
 * The virtual clock's event queue: a binary min-heap ordered by (time, sequence number). The
 * sequence number is assigned at scheduling, so events at the same simulated time run in the
 * order they were scheduled — the tie-break that makes a schedule a pure function of its inputs.
 * The keys live in typed arrays next to each other (sifting touches no event object); the events
 * themselves are pooled and reused once the engine has handled them.
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

/** An event with its time and sequence number. */
export interface QueuedEvent extends SimEvent {
  t: number;
  seq: number;
}

export class EventQueue {
  private t = new Float64Array(1024);
  private s = new Float64Array(1024);
  private ev: QueuedEvent[] = [];
  private n = 0;
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
    return this.n;
  }

  push(t: number, ev: SimEvent): void {
    this.add(t, ev.kind, ev.actor, ev.epoch, ev.data);
  }

  /** As push, without an intermediate event object (the hot path). */
  add(t: number, kind: string, actor: number, epoch: number, data?: Record<string, unknown>): void {
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
    E[n] = undefined as unknown as QueuedEvent; // no stale reference
    return top;
  }

  /** For checkpoints: the pending events in pop order, and the next sequence number. */
  toJSON(): { next: number; events: QueuedEvent[] } {
    const events = this.ev
      .slice(0, this.n)
      .map((e) => ({ ...e }))
      .sort((a, b) => a.t - b.t || a.seq - b.seq);
    return { next: this.nextSeq, events };
  }

  static fromJSON(j: { next: number; events: QueuedEvent[] }): EventQueue {
    const q = new EventQueue();
    for (const e of j.events) {
      // Re-insert with the saved sequence numbers (so ties keep their order).
      q.nextSeq = e.seq;
      q.add(e.t, e.kind, e.actor, e.epoch, e.data);
    }
    q.nextSeq = j.next;
    return q;
  }
}
