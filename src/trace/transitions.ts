/**
 * Actor state changes → transitions.jsonl: one line {t, actor, role, from, to, event} per change
 * of a machine's state value, from xstate's inspection API (attached to each root actor; the
 * promise actors a machine invokes are not roles and are skipped).
 */
import fs from 'node:fs';
import type { InspectionEvent } from 'xstate';
import { writeToLog } from '../util/atomic.js';

export interface Transition {
  t: number;
  actor: string;
  role: string;
  from: string | null;
  to: string;
  event: string;
}

export function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

export class TransitionLog {
  /** Last state per actor name. */
  private readonly last = new Map<string, string>();
  private readonly fd: number;
  count = 0;
  /** Optional listener (live display, tests). */
  onTransition?: (t: Transition) => void;
  /** Optional second inspector that sees every inspection event (e.g. the Stately inspector). */
  extra?: (ev: InspectionEvent) => void;

  /** Appends to `file`; with `truncateTo`, first cuts it to that many bytes (a resume from a checkpoint). */
  constructor(
    private readonly file: string,
    private readonly now: () => number,
    truncateTo?: number,
  ) {
    if (truncateTo !== undefined) truncateFile(file, truncateTo);
    this.fd = fs.openSync(file, 'a');
  }

  /** Bytes written so far (the offset a checkpoint records), on the disk first (fsync). */
  bytes(): number {
    fs.fsyncSync(this.fd);
    return fs.fstatSync(this.fd).size;
  }

  /** The `inspect` option for one root actor named `actor`. */
  inspector(actor: string, role: string): (ev: InspectionEvent) => void {
    return (ev) => {
      this.extra?.(ev);
      if (ev.type !== '@xstate.snapshot') return;
      // an invoked promise, not the role's machine
      if ((ev.actorRef as { sessionId?: string }).sessionId !== ev.rootId) return;
      const snap = ev.snapshot as { value?: unknown };
      if (snap.value === undefined) return;
      const to = stateName(snap.value);
      const from = this.last.get(actor) ?? null;
      if (from === to) return;
      this.last.set(actor, to);
      this.record(actor, role, from, to, ev.event.type);
    };
  }

  /** One line, for a machine whose changes are not inspected here (the curriculum: steps/curriculum.ts tells them). */
  record(actor: string, role: string, from: string | null, to: string, event: string): void {
    const line: Transition = { t: Math.round(this.now() * 1000) / 1000, actor, role, from, to, event };
    writeToLog(this.fd, this.file, JSON.stringify(line) + '\n');
    this.count++;
    this.onTransition?.(line);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** Cuts `file` to `bytes` (no-op when it is missing or already that short). */
export function truncateFile(file: string, bytes: number): void {
  if (fs.existsSync(file) && fs.statSync(file).size > bytes) fs.truncateSync(file, bytes);
}
