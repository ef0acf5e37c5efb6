/**
 * Pure bookkeeping behind the batcher machine: the rollout accounting (every id exactly once:
 * trained, dropped-stale or dropped-invalid), the bounded queue of scored groups by step, the
 * admission rule and the forming of a TrainBatch with its staleness figures.
 */
import { assert } from '../util/errors.js';
import type { Correction } from '../rl/loss.js';
import { rolloutId, type ScoredGroup } from './messages.js';
import type { TrainRollout } from '../rl/gptStep.js';

export type Disposition = 'trained' | 'dropped-stale' | 'dropped-invalid';

export interface AccountingCounts {
  generated: number;
  trained: number;
  droppedStale: number;
  droppedInvalid: number;
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
    const c = { generated: this.state.size, trained: 0, droppedStale: 0, droppedInvalid: 0, pending: 0 };
    for (const s of this.state.values()) {
      if (s === 'trained') c.trained++;
      else if (s === 'dropped-stale') c.droppedStale++;
      else if (s === 'dropped-invalid') c.droppedInvalid++;
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

/** AReaL-style admission: work for learner step `step` may start at policy version ≥ step − 1 − η. */
export function minVersionFor(step: number, eta: number): number {
  return Math.max(0, step - 1 - eta);
}

export function admissible(step: number, publishedVersion: number, eta: number): boolean {
  return publishedVersion >= minVersionFor(step, eta);
}

/** Scored groups waiting for their step, bounded. */
export class GroupQueue {
  private readonly byStep = new Map<number, ScoredGroup[]>();
  private size_ = 0;

  constructor(
    readonly groupsPerStep: number,
    readonly capacity: number,
  ) {}

  add(g: ScoredGroup): void {
    assert(this.size_ < this.capacity, `batcher queue over its capacity of ${this.capacity} groups`);
    const list = this.byStep.get(g.step) ?? [];
    assert(!list.some((x) => x.problemId === g.problemId), `group ${g.step}/${g.problemId} queued twice`);
    list.push(g);
    this.byStep.set(g.step, list);
    this.size_++;
  }

  complete(step: number): boolean {
    return (this.byStep.get(step)?.length ?? 0) === this.groupsPerStep;
  }

  has(step: number, problemId: string): boolean {
    return this.byStep.get(step)?.some((g) => g.problemId === problemId) ?? false;
  }

  take(step: number): ScoredGroup[] {
    const list = this.byStep.get(step) ?? [];
    this.byStep.delete(step);
    this.size_ -= list.length;
    // Deterministic order whatever the arrival order (samplers race in async modes).
    return list.sort((a, b) => (a.problemId < b.problemId ? -1 : a.problemId > b.problemId ? 1 : 0));
  }

  get size(): number {
    return this.size_;
  }

  all(): ScoredGroup[] {
    return [...this.byStep.values()].flat();
  }
}

export interface FormedBatch {
  rollouts: TrainRollout[];
  dispositions: [string, Disposition][];
  /** Per trained rollout: learnerVersion − oldest token version. */
  lagMean: number;
  lagMax: number;
  rewardMean: number;
  passRate: number;
  lengthMean: number;
  /** Mean completion length of correct / incorrect rollouts (null when there are none). */
  lengthCorrect: number | null;
  lengthIncorrect: number | null;
  zeroAdvantageGroups: number;
}

export function formBatch(
  groups: readonly ScoredGroup[],
  learnerVersion: number,
  eta: number,
  correction: Correction,
): FormedBatch {
  const rollouts: TrainRollout[] = [];
  const dispositions: [string, Disposition][] = [];
  let lagSum = 0,
    lagMax = 0,
    rewardSum = 0,
    correct = 0,
    lengthSum = 0,
    n = 0,
    zero = 0,
    lenC = 0,
    lenI = 0;
  for (const g of groups) {
    if (g.advantages.every((a) => a === 0)) zero++;
    g.rollouts.forEach((r, i) => {
      n++;
      rewardSum += g.rewards[i]!;
      if (g.verdicts[i]?.correct) {
        correct++;
        lenC += r.completion.length;
      } else lenI += r.completion.length;
      lengthSum += r.completion.length;
      if (g.invalid[i] || r.completion.length === 0) return void dispositions.push([r.id, 'dropped-invalid']);
      const lag = learnerVersion - Math.min(...r.versions);
      assert(
        lag >= 0,
        `rollout ${r.id} sampled by version ${Math.min(...r.versions)}, newer than the learner's ${learnerVersion}`,
      );
      assert(lag <= eta, `rollout ${r.id} has staleness ${lag} above the bound ${eta}`);
      if (correction.kind === 'drop' && lag > correction.maxLag) return void dispositions.push([r.id, 'dropped-stale']);
      dispositions.push([r.id, 'trained']);
      lagSum += lag;
      lagMax = Math.max(lagMax, lag);
      rollouts.push({
        prompt: r.prompt,
        completion: r.completion,
        behaviourLogprobs: r.behaviourLogprobs,
        versions: r.versions,
        advantage: g.advantages[i]!,
      });
    });
  }
  return {
    rollouts,
    dispositions,
    lagMean: rollouts.length ? lagSum / rollouts.length : 0,
    lagMax,
    rewardMean: n ? rewardSum / n : 0,
    passRate: n ? correct / n : 0,
    lengthMean: n ? lengthSum / n : 0,
    lengthCorrect: correct ? lenC / correct : null,
    lengthIncorrect: n - correct ? lenI / (n - correct) : null,
    zeroAdvantageGroups: zero,
  };
}
