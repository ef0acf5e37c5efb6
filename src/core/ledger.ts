/**
 * The rollout ledger, one for both clocks: every rollout (step, slot, sample) generated exactly once
 * and then disposed of exactly once — trained, dropped-stale, dropped-invalid or dropped-filtered
 * (the rule that decides which is core/staleness `dispositionCodeOf`). One byte per rollout
 * (DISPOSITION_CODE; 0 = not generated) for the steps not yet trained — a window the planner
 * bounds (admission at η, the queue's capacity) — and counters for the steps folded out of it when
 * their update is applied (`settle`), so memory and checkpoints do not grow with the run's length.
 *
 * The counters are counted as things happen and `pending` is read from the bytes, so
 * core/invariants `accountingViolation(counts())` compares two independent records and can fail;
 * a folded step is checked whole (`stepViolation`).
 */
import { assert } from '../util/errors.js';
import { DISPOSITION_BY_CODE, DISPOSITION_CODE, type Disposition } from './staleness.js';

export interface AccountingCounts {
  generated: number;
  trained: number;
  droppedStale: number;
  droppedInvalid: number;
  droppedFiltered: number;
  /** Generated and not (yet) trained or dropped. */
  pending: number;
}

/** Settled rollouts of the steps folded out of the ledger (the real clock's checkpoints carry it beside the entries). */
export interface SettledCounts {
  /** Steps ≤ this were folded: every rollout of theirs trained or dropped. */
  through: number;
  trained: number;
  droppedStale: number;
  droppedInvalid: number;
  droppedFiltered: number;
}

/** The virtual clock's checkpoint form: the window's bytes and the folded steps' counters. */
export interface DenseLedger {
  settled: SettledCounts;
  /** One byte per rollout of steps through + 1 … (step, slot, sample order), base64. */
  window: string;
}

/** A ledger's shape: problem slots per step (backfills included) and rollouts per group. */
export interface LedgerShape {
  slotsPerStep: number;
  groupSize: number;
  /** Plan slots per step (the rest are backfills, core/dynamicSampling): the whole-step check reads it. */
  problemsPerStep: number;
}

const {
  generated: GENERATED,
  trained: TRAINED,
  'dropped-stale': STALE,
  'dropped-invalid': INVALID,
  'dropped-filtered': FILTERED,
} = DISPOSITION_CODE;

type DisposedKey = Exclude<keyof SettledCounts, 'through'>;
const COUNTER_OF_CODE: Record<number, DisposedKey | undefined> = {
  [TRAINED]: 'trained',
  [STALE]: 'droppedStale',
  [INVALID]: 'droppedInvalid',
  [FILTERED]: 'droppedFiltered',
};

/** Counts one disposed rollout (DISPOSITION_CODE `code`) into `c`; false when `code` is no disposition. */
export function countDisposition(c: Record<DisposedKey, number>, code: number): boolean {
  const k = COUNTER_OF_CODE[code];
  if (k === undefined) return false;
  c[k]++;
  return true;
}

/** Bytes the window may hold (steps in flight × slots × group size): far above any admitted window. */
export const MAX_WINDOW_ROLLOUTS = 256 * 1024 * 1024;

/** A rollout id's parts: `step/slot:problem/sample` (runtime/messages rolloutId) or `step/slot/sample`. */
export function rolloutKey(id: string): { step: number; slot: number; sample: number } {
  const a = id.indexOf('/');
  const b = id.lastIndexOf('/');
  const step = Number.parseInt(id.slice(0, a), 10);
  const slot = Number.parseInt(id.slice(a + 1), 10);
  const sample = Number.parseInt(id.slice(b + 1), 10);
  assert(
    a > 0 && b > a && Number.isInteger(step) && step >= 1 && Number.isInteger(slot) && slot >= 0 && sample >= 0,
    `rollout id '${id}' is not step/slot:problem/sample`,
  );
  return { step, slot, sample };
}

const rolloutName = (step: number, slot: number, j: number) => `${step}/${slot}/${j}`;

export class RolloutLedger {
  /** Steps ≤ through are folded into `settledCounts`. */
  private through = 0;
  /** The latest step touched (the window's bytes past its rows are all 0). */
  private top = 0;
  /** The window: byte (step − through − 1) × stride + slot × G + sample. */
  private bytes: Uint8Array;
  private readonly stride: number;
  private readonly totals = { generated: 0, trained: 0, droppedStale: 0, droppedInvalid: 0, droppedFiltered: 0 };

  constructor(readonly shape: LedgerShape) {
    assert(
      shape.slotsPerStep >= shape.problemsPerStep && shape.problemsPerStep >= 1 && shape.groupSize >= 1,
      'ledger shape',
    );
    this.stride = shape.slotsPerStep * shape.groupSize;
    this.bytes = new Uint8Array(this.stride * 4);
  }

  /** Steps folded out of the window (every rollout of theirs trained or dropped). */
  get settledThrough(): number {
    return this.through;
  }

  /** Rollouts the window holds room for (it grows as later steps are planned, shrinks back never). */
  get windowRollouts(): number {
    return this.bytes.length;
  }

  /** The byte index of rollout (step, slot, j), growing the window to reach it. */
  private at(step: number, slot: number, j: number): number {
    const { slotsPerStep, groupSize } = this.shape;
    if (!(slot >= 0 && slot < slotsPerStep && j >= 0 && j < groupSize && Number.isInteger(slot) && Number.isInteger(j)))
      assert(
        false,
        `rollout ${rolloutName(step, slot, j)} outside the ledger's ${slotsPerStep} slots × ${groupSize} samples`,
      );
    const i = (step - this.through - 1) * this.stride + slot * groupSize + j;
    if (i >= this.bytes.length) this.grow(i, step);
    if (step > this.top) this.top = step;
    return i;
  }

  private grow(i: number, step: number): void {
    let n = this.bytes.length;
    while (n <= i) n *= 2;
    assert(n <= MAX_WINDOW_ROLLOUTS, `ledger window over ${MAX_WINDOW_ROLLOUTS} rollouts (step ${step})`);
    const grown = new Uint8Array(n);
    grown.set(this.bytes);
    this.bytes = grown;
  }

  /** The window's bytes in use: the steps after `through` up to the latest touched. */
  private used(): Uint8Array {
    return this.bytes.subarray(0, Math.max(0, this.top - this.through) * this.stride);
  }

  /** Rollouts j … j + n − 1 of (step, slot) generated; a violation (generated twice, or for a folded step) or null. */
  generated(step: number, slot: number, j = 0, n = 1): string | null {
    if (step <= this.through)
      return `rollout ${rolloutName(step, slot, j)} generated for step ${step}, already trained`;
    const i = this.at(step, slot, j + n - 1) - (n - 1);
    for (let x = 0; x < n; x++)
      if (this.bytes[i + x] !== 0) return `rollout ${rolloutName(step, slot, j + x)} generated twice`;
    for (let x = 0; x < n; x++) this.bytes[i + x] = GENERATED; // (a group's few: cheaper than fill's call)
    this.totals.generated += n;
    return null;
  }

  /** Rollout (step, slot, j) disposed of with DISPOSITION_CODE `code`; a violation or null. */
  dispose(step: number, slot: number, j: number, code: number): string | null {
    if (step <= this.through) return `rollout ${rolloutName(step, slot, j)} accounted after its step was trained`;
    const i = this.at(step, slot, j);
    const was = this.bytes[i]!;
    if (was !== GENERATED)
      return `rollout ${rolloutName(step, slot, j)} accounted ${was === 0 ? 'before it was generated' : 'twice'}`;
    if (!countDisposition(this.totals, code))
      return `rollout ${rolloutName(step, slot, j)} disposed of with code ${code}`;
    this.bytes[i] = code;
    return null;
  }

  /** A group's rollouts 0 … codes.length − 1 disposed of, `codes[j]` each (as `dispose` on each, checked once for the group's place). */
  disposeGroup(step: number, slot: number, codes: readonly number[]): string | null {
    const n = codes.length;
    if (n === 0) return null;
    if (step <= this.through) return this.dispose(step, slot, 0, codes[0]!);
    const i = this.at(step, slot, n - 1) - (n - 1);
    const b = this.bytes;
    for (let j = 0; j < n; j++) {
      const code = codes[j]!;
      if (b[i + j] !== GENERATED || COUNTER_OF_CODE[code] === undefined) return this.dispose(step, slot, j, code);
      countDisposition(this.totals, code);
      b[i + j] = code;
    }
    return null;
  }

  /** The DISPOSITION_CODE of (step, slot, j): 0 never generated; a folded step reads as settled (-1). */
  code(step: number, slot: number, j: number): number {
    if (step <= this.through) return -1;
    const i = (step - this.through - 1) * this.stride + slot * this.shape.groupSize + j;
    return i < this.bytes.length ? this.bytes[i]! : 0;
  }

  /** Whether any rollout of group (step, slot) was generated (a folded step's were: it is never planned again). */
  hasGroup(step: number, slot: number): boolean {
    return this.code(step, slot, 0) !== 0;
  }

  /**
   * Folds steps ≤ `step` (the version an update just made) into the counters, each checked whole
   * first (`stepViolation`); returns the first violation, or null. The window moves on.
   */
  settle(step: number): string | null {
    if (step <= this.through) return null;
    const n = step - this.through;
    for (let k = 0; k < n; k++) {
      const codes = this.bytes.subarray(k * this.stride, (k + 1) * this.stride);
      const bad = stepViolation(this.through + k + 1, codes, this.shape);
      if (bad) return bad;
    }
    const end = this.used().length;
    const from = Math.min(n * this.stride, end);
    this.bytes.copyWithin(0, from, end);
    this.bytes.fill(0, end - from, end);
    this.through = step;
    if (this.top < step) this.top = step;
    return null;
  }

  /** The counters, `pending` read from the window's bytes (a folded step holds none). */
  counts(): AccountingCounts {
    const b = this.used();
    let pending = 0;
    for (let i = 0; i < b.length; i++) if (b[i] === GENERATED) pending++;
    return { ...this.totals, pending };
  }

  /** The folded steps' counters: the totals less what the window holds (a folded step holds no pending one). */
  settledCounts(): SettledCounts {
    const { generated: _, ...folded } = this.totals;
    const b = this.used();
    for (let i = 0; i < b.length; i++) {
      const k = COUNTER_OF_CODE[b[i]!];
      if (k) folded[k]--;
    }
    return { through: this.through, ...folded };
  }

  /**
   * The real clock's checkpoint form: the window's settled rollouts as `step/slot/sample`, the
   * pending ones only where `keep` (held in the saved queue; the others are generated again on
   * resume), and the folded steps' counters.
   */
  toEntries(keep: (step: number, slot: number, j: number) => boolean): {
    entries: [string, Disposition | 'generated'][];
    settled: SettledCounts;
  } {
    const entries: [string, Disposition | 'generated'][] = [];
    const G = this.shape.groupSize;
    this.used().forEach((c, i) => {
      if (c === 0) return;
      const step = this.through + 1 + Math.floor(i / this.stride);
      const slot = Math.floor((i % this.stride) / G);
      const id = rolloutName(step, slot, i % G);
      if (c === GENERATED) {
        if (keep(step, slot, i % G)) entries.push([id, 'generated']);
      } else entries.push([id, DISPOSITION_BY_CODE[c as 2 | 3 | 4 | 5]]);
    });
    return { entries, settled: this.settledCounts() };
  }

  /**
   * A ledger from the real clock's checkpoint: entries keyed `step/slot/sample` (or by rollout id,
   * `step/slot:problem/sample`, in checkpoints written before the dense ledger)
   * and the folded steps' counters (absent in checkpoints from before folding: every entry is listed).
   */
  static fromEntries(
    shape: LedgerShape,
    entries: readonly [string, Disposition | 'generated'][],
    settled?: SettledCounts,
  ): RolloutLedger {
    const l = new RolloutLedger(shape);
    if (settled) l.restoreSettled(settled);
    for (const [id, d] of entries) {
      const { step, slot, sample } = rolloutKey(id);
      if (step <= l.through) continue; // listed and folded: the counters hold it
      const bad =
        l.generated(step, slot, sample) ??
        (d === 'generated' ? null : l.dispose(step, slot, sample, DISPOSITION_CODE[d]));
      assert(bad === null, bad!);
    }
    return l;
  }

  /** The virtual clock's checkpoint form. */
  toDense(): DenseLedger {
    return { settled: this.settledCounts(), window: Buffer.from(this.bytes).toString('base64') };
  }

  static fromDense(shape: LedgerShape, d: DenseLedger): RolloutLedger {
    const l = new RolloutLedger(shape);
    l.restoreSettled(d.settled);
    l.bytes = new Uint8Array(Buffer.from(d.window, 'base64'));
    assert(l.bytes.length % l.stride === 0 && l.bytes.length > 0, 'checkpoint ledger: window is not whole steps');
    l.top = l.through + l.bytes.length / l.stride;
    for (const c of l.bytes) {
      if (c === 0) continue;
      l.totals.generated++;
      countDisposition(l.totals, c);
    }
    return l;
  }

  private restoreSettled(s: SettledCounts): void {
    this.through = s.through;
    this.top = s.through;
    for (const k of ['trained', 'droppedStale', 'droppedInvalid', 'droppedFiltered'] as const) {
      this.totals[k] += s[k];
      this.totals.generated += s[k];
    }
  }
}

/**
 * A trained step, whole: every rollout of each plan slot trained or dropped, and a backfill slot
 * (core/dynamicSampling) generated exactly when the group before it in its chain was filtered —
 * and then wholly accounted. `codes` is the step's bytes (slot × groupSize + sample).
 */
export function stepViolation(step: number, codes: ArrayLike<number>, shape: LedgerShape): string | null {
  const { problemsPerStep: P, slotsPerStep, groupSize: G } = shape;
  for (let slot = 0; slot < slotsPerStep; slot++) {
    const base = slot * G;
    let owed = slot < P; // a plan's slot is always generated
    if (!owed) {
      const pred = (slot - P) * G;
      let filtered = false,
        invalid = 0;
      for (let j = 0; j < G; j++) {
        if (codes[pred + j] === FILTERED) filtered = true;
        else if (codes[pred + j] === INVALID) invalid++;
      }
      owed = filtered;
      // a group of invalid rollouts only may have been filtered or not: both are consistent
      if (!owed && invalid === G && codes[base] !== 0) owed = true;
      if (!owed && codes[base] !== 0)
        return `rollout step ${step} slot ${slot}/0 backfilled, but the group before it in its chain was not filtered`;
    }
    if (!owed) continue;
    for (let j = 0; j < G; j++) {
      const a = codes[base + j]!;
      if (a < TRAINED)
        return `rollout step ${step} slot ${slot}/${j} ${a === 0 ? 'never generated' : 'generated but never trained or dropped'}`;
    }
  }
  return null;
}

/**
 * The problems of step k still to generate: those none of whose rollouts is accounted yet. A
 * group already generated — queued, taken into a batch, trained or dropped, in this process or
 * restored from a checkpoint — is never planned again (one rule, whatever the batcher has done
 * with the group since).
 */
export function unplanned<P extends { id: string }>(k: number, problems: readonly P[], ledger: RolloutLedger): P[] {
  return problems.filter((p) => !ledger.hasGroup(k, Number.parseInt(p.id, 10)));
}
