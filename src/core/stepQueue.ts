/**
 * The bounded queue of scored groups by step, once for both clocks (core/batch.ts forms a step's
 * batch from what it hands back).
 */
import { assert } from '../util/errors.js';
import type { ScoredGroup } from '../runtime/messages.js';
import { slotOf } from './batch.js';
import {
  endsChain,
  isFiltered,
  outcomeOf as outcomeOfRewards,
  type DynamicSampling,
  type GroupOutcome,
} from './dynamicSampling.js';

/** A scored group's rewards and verdicts, as dynamic sampling's filter reads them. */
function outcomeOf(g: ScoredGroup): GroupOutcome {
  return outcomeOfRewards(g.rewards, (i) => g.verdicts[i]?.correct === true);
}

/**
 * Scored groups waiting for their step, bounded — once for both clocks, over each clock's own form
 * of a group (`slotOf`, `outcomeOf` read it). A step is complete when each of its `groupsPerStep`
 * positions has ended its chain (core/dynamicSampling: without dynamic sampling, when it holds one
 * group per slot); `take` hands a step's groups back in slot order, whatever order they arrived in.
 * The groups live in a plain object keyed by step (`byStep`), so a clock that checkpoints its
 * state as JSON can hold it there and give it back here.
 */
export class StepQueue<G> {
  private size_ = 0;
  /**
   * Per step: the slots held and how many of them end their position's chain — kept as groups are
   * added, so `add` and `complete` cost O(1) however many groups a step has (a scan per group was
   * O(P²) a step: 16% of the virtual clock's time at 1,024 problems a step). Rebuilt from `byStep`.
   */
  private readonly held = new Map<number, { slots: Set<number>; ended: number }>();

  constructor(
    readonly groupsPerStep: number,
    readonly capacity: number,
    readonly dynamicSampling: DynamicSampling | undefined,
    private readonly slotOfGroup: (g: G) => number,
    private readonly outcomeOfGroup: (g: G) => GroupOutcome,
    readonly byStep: Record<string, G[]> = {},
  ) {
    for (const [step, list] of Object.entries(byStep))
      for (const g of list) {
        this.size_++;
        this.hold(Number(step), g);
      }
  }

  /** Queues group `g` of `step`; a violation (over capacity, or its slot queued twice), or null. */
  add(step: number, g: G): string | null {
    if (this.size_ >= this.capacity) return `batcher queue over its capacity of ${this.capacity} groups`;
    const slot = this.slotOfGroup(g);
    if (this.held.get(step)?.slots.has(slot)) return `group ${step}/${slot} queued twice`;
    (this.byStep[step] ??= []).push(g);
    this.hold(step, g);
    this.size_++;
    return null;
  }

  private hold(step: number, g: G): void {
    let h = this.held.get(step);
    if (!h) this.held.set(step, (h = { slots: new Set(), ended: 0 }));
    const slot = this.slotOfGroup(g);
    h.slots.add(slot);
    if (this.dynamicSampling && endsChain(slot, this.filtered(g), this.groupsPerStep, this.dynamicSampling)) h.ended++;
  }

  /**
   * Whether each of the step's positions has ended its chain (core/dynamicSampling stepComplete:
   * without dynamic sampling, one group per slot).
   */
  complete(step: number): boolean {
    const h = this.held.get(step);
    const n = h ? (this.dynamicSampling ? h.ended : h.slots.size) : 0;
    return n === this.groupsPerStep;
  }

  /** Whether dynamic sampling filters the group (its rollouts will be dropped-filtered). */
  filtered(g: G): boolean {
    // (no outcome is built without dynamic sampling: this runs for every group on both clocks)
    return this.dynamicSampling !== undefined && isFiltered(this.dynamicSampling, this.outcomeOfGroup(g));
  }

  take(step: number): G[] {
    const list = this.byStep[step] ?? [];
    delete this.byStep[step];
    this.held.delete(step);
    this.size_ -= list.length;
    // The plan's order whatever the arrival order (samplers race in async modes).
    return this.inSlotOrder(list);
  }

  /**
   * The groups in slot order. Their slots are distinct (`add` refuses a second), so each goes to its
   * own place, O(n); a sort — stable, as before — only where a reloaded queue held a slot twice.
   */
  private inSlotOrder(list: G[]): G[] {
    const slots = list.map((g) => this.slotOfGroup(g));
    let last = -1;
    for (const slot of slots) if (slot > last) last = slot;
    const byPlace: (G | undefined)[] = new Array(last + 1);
    for (let i = 0; i < list.length; i++) {
      if (byPlace[slots[i]!] !== undefined) return list.sort((a, b) => this.slotOfGroup(a) - this.slotOfGroup(b));
      byPlace[slots[i]!] = list[i];
    }
    const out: G[] = [];
    for (const g of byPlace) if (g !== undefined) out.push(g);
    return out;
  }

  get size(): number {
    return this.size_;
  }

  all(): G[] {
    return Object.values(this.byStep).flat();
  }
}

/**
 * The queue's capacity: the groups planning may leave outstanding (core/admission plannedGroups),
 * each of which dynamic sampling may replace `backfillRounds` times (backfills are outside the
 * planning bound).
 */
export function stepQueueCapacity(plannedGroups: number, ds: DynamicSampling | undefined): number {
  return plannedGroups * (1 + (ds?.backfillRounds ?? 0));
}

/** The real clock's queue: message objects (ScoredGroup), slot from the problem id, verdicts from the verifier. */
export class GroupQueue extends StepQueue<ScoredGroup> {
  constructor(groupsPerStep: number, capacity: number, dynamicSampling?: DynamicSampling) {
    super(groupsPerStep, capacity, dynamicSampling, (g) => slotOf(g.problemId), outcomeOf);
  }

  /** Queues a scored group under its own step; throws on a violation. */
  push(g: ScoredGroup): void {
    const bad = this.add(g.step, g);
    assert(bad === null, bad!);
  }
}
