/**
 * The rollout ledger: every rollout id generated exactly once and then disposed of exactly once —
 * trained, dropped-stale, dropped-invalid or dropped-filtered — and the rule that decides which. The real clock keys
 * the ledger by rollout id (a Map); the virtual clock keeps the same states in a dense byte array
 * (DISPOSITION_CODE) for speed. Both apply `dispositionOf`.
 */
import { assert } from '../util/errors.js';
import type { Correction } from '../rl/loss.js';
import { rolloutId } from '../runtime/messages.js';

export type Disposition = 'trained' | 'dropped-stale' | 'dropped-invalid' | 'dropped-filtered';

/** The ledger's states as bytes (the virtual clock's dense ledger): 0 = not generated yet. */
export const DISPOSITION_CODE = {
  generated: 1,
  trained: 2,
  'dropped-stale': 3,
  'dropped-invalid': 4,
  'dropped-filtered': 5,
} as const;

/**
 * What becomes of a generated rollout when its step's batch forms: an invalid (unverified) or empty
 * one is dropped-invalid; one of a group dynamic sampling filtered (core/dynamicSampling) is
 * dropped-filtered; with the `drop` correction one staler than `maxLag` is dropped-stale; the rest is
 * trained. As a DISPOSITION_CODE (the virtual clock's hot loop) and as a name.
 */
export function dispositionCodeOf(
  invalid: boolean,
  completionTokens: number,
  lag: number,
  correction: Correction,
  filtered: boolean,
): 2 | 3 | 4 | 5 {
  if (invalid || completionTokens === 0) return DISPOSITION_CODE['dropped-invalid'];
  if (filtered) return DISPOSITION_CODE['dropped-filtered'];
  if (correction.kind === 'drop' && lag > correction.maxLag) return DISPOSITION_CODE['dropped-stale'];
  return DISPOSITION_CODE.trained;
}

const BY_CODE = { 2: 'trained', 3: 'dropped-stale', 4: 'dropped-invalid', 5: 'dropped-filtered' } as const;

export function dispositionOf(
  invalid: boolean,
  completionTokens: number,
  lag: number,
  correction: Correction,
  filtered: boolean,
): Disposition {
  return BY_CODE[dispositionCodeOf(invalid, completionTokens, lag, correction, filtered)];
}

/** A rollout's staleness when its batch forms: learner version − the oldest version among its tokens. */
export function stalenessViolation(id: string, lag: number, eta: number): string | null {
  if (lag < 0) return `rollout ${id} was sampled by a version newer than the learner's (staleness ${lag})`;
  if (lag > eta) return `rollout ${id} has staleness ${lag} above the bound ${eta}`;
  return null;
}

export interface AccountingCounts {
  generated: number;
  trained: number;
  droppedStale: number;
  droppedInvalid: number;
  droppedFiltered: number;
  /** Generated and not (yet) trained or dropped. */
  pending: number;
}

export class Accounting {
  private readonly state = new Map<string, Disposition | 'generated'>();

  generated(id: string): void {
    assert(!this.state.has(id), `rollout ${id} generated twice`);
    this.state.set(id, 'generated');
  }

  dispose(id: string, d: Disposition): void {
    const s = this.state.get(id);
    assert(s !== undefined, `rollout ${id} accounted (${d}) but never generated`);
    assert(s === 'generated', `rollout ${id} accounted twice (${s}, then ${d})`);
    this.state.set(id, d);
  }

  has(id: string): boolean {
    return this.state.has(id);
  }

  counts(): AccountingCounts {
    const c = {
      generated: this.state.size,
      trained: 0,
      droppedStale: 0,
      droppedInvalid: 0,
      droppedFiltered: 0,
      pending: 0,
    };
    for (const s of this.state.values()) {
      if (s === 'trained') c.trained++;
      else if (s === 'dropped-stale') c.droppedStale++;
      else if (s === 'dropped-invalid') c.droppedInvalid++;
      else if (s === 'dropped-filtered') c.droppedFiltered++;
      else c.pending++;
    }
    return c;
  }

  /** For checkpoints: only ids whose fate is settled, plus `keep` (ids held in the saved queue). */
  toJSON(keep: ReadonlySet<string>): [string, Disposition | 'generated'][] {
    return [...this.state].filter(([id, s]) => s !== 'generated' || keep.has(id));
  }

  static fromJSON(entries: [string, Disposition | 'generated'][]): Accounting {
    const a = new Accounting();
    for (const [id, s] of entries) a.state.set(id, s);
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
