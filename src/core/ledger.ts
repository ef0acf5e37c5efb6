/**
 * The rollout ledger: every rollout id generated exactly once and then disposed of exactly once —
 * trained, dropped-stale, dropped-invalid or dropped-filtered (the rule that decides which is
 * core/staleness `dispositionOf`). The real clock keys the ledger by rollout id (a Map); the virtual
 * clock keeps the same states in a dense byte array (DISPOSITION_CODE) for speed.
 */
import { assert } from '../util/errors.js';
import { rolloutId } from '../runtime/messages.js';
import type { Disposition } from './staleness.js';

export interface AccountingCounts {
  generated: number;
  trained: number;
  droppedStale: number;
  droppedInvalid: number;
  droppedFiltered: number;
  /** Generated and not (yet) trained or dropped. */
  pending: number;
}

/** Settled rollouts of the steps folded out of the ledger (checkpoints carry it beside the entries). */
export interface SettledCounts {
  /** Steps ≤ this were folded: every rollout of theirs trained or dropped. */
  through: number;
  trained: number;
  droppedStale: number;
  droppedInvalid: number;
  droppedFiltered: number;
}

const COUNTER: Record<Disposition, Exclude<keyof SettledCounts, 'through'>> = {
  trained: 'trained',
  'dropped-stale': 'droppedStale',
  'dropped-invalid': 'droppedInvalid',
  'dropped-filtered': 'droppedFiltered',
};

const stepOfId = (id: string) => Number.parseInt(id, 10);

/**
 * The real clock's ledger, keyed by rollout id for the steps not yet folded; the steps the learner
 * trained are folded into counters (`settle`), so the ledger and every checkpoint hold a window of
 * steps, not the whole run. `generated` and the disposition counts are counted as they happen and
 * `pending` is read from the entries, so `accountingViolation` can fail: an entry lost or folded
 * while still pending breaks the sum.
 */
export class Accounting {
  private readonly state = new Map<string, Disposition | 'generated'>();
  private readonly totals = { generated: 0, trained: 0, droppedStale: 0, droppedInvalid: 0, droppedFiltered: 0 };
  private settledThrough = 0;

  generated(id: string): void {
    assert(!this.state.has(id), `rollout ${id} generated twice`);
    assert(stepOfId(id) > this.settledThrough, `rollout ${id} generated for step ${stepOfId(id)}, already trained`);
    this.state.set(id, 'generated');
    this.totals.generated++;
  }

  dispose(id: string, d: Disposition): void {
    const s = this.state.get(id);
    assert(s !== undefined, `rollout ${id} accounted (${d}) but never generated`);
    assert(s === 'generated', `rollout ${id} accounted twice (${s}, then ${d})`);
    this.state.set(id, d);
    this.totals[COUNTER[d]]++;
  }

  /** Whether a rollout was generated (any rollout of a folded step counts: such a step is never planned again). */
  has(id: string): boolean {
    return stepOfId(id) <= this.settledThrough || this.state.has(id);
  }

  /**
   * Folds the settled entries of steps ≤ `step` (the learner's version after a publish) into the
   * counters; a pending entry of such a step stays (it is lost work, which the end of the run reports).
   */
  settle(step: number): void {
    if (step <= this.settledThrough) return;
    for (const [id, s] of this.state) if (s !== 'generated' && stepOfId(id) <= step) this.state.delete(id);
    this.settledThrough = step;
  }

  /** Entries held (the window of unfolded steps). */
  get size(): number {
    return this.state.size;
  }

  counts(): AccountingCounts {
    let pending = 0;
    for (const s of this.state.values()) if (s === 'generated') pending++;
    return { ...this.totals, pending };
  }

  /**
   * For checkpoints: the unfolded ids whose fate is settled, plus `keep` (ids held in the saved
   * queue), and the folded steps' counters.
   */
  toJSON(keep: ReadonlySet<string>): { entries: [string, Disposition | 'generated'][]; settled: SettledCounts } {
    const entries = [...this.state].filter(([id, s]) => s !== 'generated' || keep.has(id));
    // the folded steps' share of each count: the total less what the entries hold (a pending entry
    // not kept is neither: the resume generates it again)
    const { generated: _, ...folded } = this.totals;
    for (const [, s] of entries) if (s !== 'generated') folded[COUNTER[s]]--;
    return { entries, settled: { through: this.settledThrough, ...folded } };
  }

  /** A ledger from a checkpoint (one without `settled`, from before folding, holds every entry). */
  static fromJSON(entries: [string, Disposition | 'generated'][], settled?: SettledCounts): Accounting {
    const a = new Accounting();
    if (settled) {
      a.settledThrough = settled.through;
      for (const k of ['trained', 'droppedStale', 'droppedInvalid', 'droppedFiltered'] as const) {
        a.totals[k] += settled[k];
        a.totals.generated += settled[k];
      }
    }
    for (const [id, s] of entries) {
      a.state.set(id, s);
      a.totals.generated++;
      if (s !== 'generated') a.totals[COUNTER[s]]++;
    }
    return a;
  }
}

/**
 * The problems of step k still to generate: those none of whose rollouts is accounted yet. A
 * group already generated — queued, taken into a batch, trained or dropped, in this process or
 * restored from a checkpoint — is never planned again (one rule, whatever the batcher has done
 * with the group since).
 */
export function unplanned<P extends { id: string }>(k: number, problems: readonly P[], accounting: Accounting): P[] {
  return problems.filter((p) => !accounting.has(rolloutId(k, p.id, 0)));
}
