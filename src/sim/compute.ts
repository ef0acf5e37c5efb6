/**
 * What the virtual clock asks of the computation. Two implementations: `PolicyCompute` (the
 * real tiny GPT: sampling, verification, training — see policyCompute.ts) and
 * `SurrogateCompute` (compute: none — no tensors; each rollout's length and reward come from a
 * seeded stream keyed by its id, so thousands of samplers simulate in seconds and re-issued work
 * regenerates the same rollouts).
 */
import { z } from 'zod';
import type { ProblemSpec } from '../curriculum/controller.js';
import type { LadderMeasurement } from '../eval/countdown.js';
import { Rng } from '../util/rng.js';
import { normalQuantile } from '../util/normal.js';
import type { EvalBudgetRow } from '../core/metrics.js';

/** (position, version) pairs: completion positions ≥ position were produced by that version. */
export type VersionSchedule = [number, number][];

export interface GeneratedGroup {
  /** Problem slot within its step (0 … problemsPerStep − 1). */
  slot: number;
  /** Completion length per sample. */
  lengths: number[];
  /**
   * The oldest policy version among its tokens (what staleness is measured from): the version
   * that produced position 0 — every row of a request starts together, so one per group.
   */
  minVersion: number;
  /** Opaque per-group data the compute needs later (real rollouts); JSON-safe. */
  payload?: unknown;
}

export interface Generation {
  groups: GeneratedGroup[];
  /** Prompt tokens in the batch (prefill size). */
  promptTokens: number;
  /** Completion lengths of every row (decode cost). */
  rowLengths: number[];
}

export interface Scored {
  rewards: number[];
  invalid: boolean[];
  /** Verified correct (when rewards are shaped, e.g. rollout.overlong soft; absent: reward > 0). */
  correct?: boolean[];
}

export interface TrainInput {
  step: number;
  learnerVersion: number;
  /** Groups of the step in slot order, with per-sample disposition. */
  groups: { group: GeneratedGroup; scored: Scored; trained: boolean[] }[];
}

export interface Compute {
  readonly kind: 'real' | 'none';
  /** Bytes of one weight publication (the cost model's 'model' size). */
  weightBytes(): number;
  /** Completion tokens of a step's problems before generation: the prompt length per slot. */
  generate(
    step: number,
    slots: readonly number[],
    budgetTokens: number,
    groupSize: number,
    schedule: VersionSchedule,
    /** The step's problems by slot, when a dynamic curriculum planned them (else the fixed list's). */
    problems?: readonly ProblemSpec[],
  ): Generation;
  score(step: number, g: GeneratedGroup): Scored;
  /**
   * The curriculum's measurement at the published `version` (real compute only): J over the ladder
   * and per-problem pass rates, as the real clock's sampler thread measures them, and the size of
   * the generation it took (for the cost model).
   */
  measure?(
    version: number,
    problems: readonly ProblemSpec[],
    o: { ladder: number[]; samples: number; k: number },
  ): { m: LadderMeasurement; promptTokens: number; maxLength: number; totalTokens: number };
  /** One learner step; returns its stats (JSON-safe numbers). */
  train(input: TrainInput): Record<string, number>;
  /** The learner's weights become version `version` in the weight store. */
  publish(version: number): void;
  /** Weight versions below this are no longer needed by anyone. */
  release(belowVersion: number): void;
  /** Held-out evaluation of the newest weights (real compute only). */
  evaluate?(version: number): { version: number; rows: EvalBudgetRow[] };
  /** SHA-256 of the learner's weights, or null without tensors. */
  weightsSha256(): string | null;
  /** Checkpoint: write what is not in the engine's JSON state into `dir`; restore from it. */
  save(dir: string): void;
  restore(dir: string): void;
  /** Frees tensors (a scenario runs many cells in one process). */
  dispose(): void;
}

export const SurrogateSchema = z
  .object({
    /** Probability a rollout is correct. */
    passRate: z.number().min(0).max(1).default(0.3),
    promptTokens: z.number().int().min(1).max(1_000_000).default(16),
    /**
     * Completion lengths: lognormal with this median and sigma (drawn by quantile, 4,096 levels), capped at the
     * budget.
     */
    lengthMedian: z.number().positive().default(40),
    lengthSigma: z.number().min(0).max(5).default(0.5),
    /** A fraction of rollouts run `tailFactor` times longer (the long tail of reasoning traces). */
    tailFraction: z.number().min(0).max(1).default(0),
    tailFactor: z.number().min(1).max(1000).default(8),
  })
  .strict();
export type Surrogate = z.infer<typeof SurrogateSchema>;

const QUANTILES = 4096;

/** compute: none. Lengths and rewards from a stream keyed by (seed, step, slot): no tensors. */
export class SurrogateCompute implements Compute {
  readonly kind = 'none' as const;
  /** Lengths by quantile: entry i is the lognormal's quantile at (i + ½) / QUANTILES (one uniform draw per length). */
  private readonly quantiles: Float64Array;
  private readonly rng = Rng.fromInts(0, 0, 0, 0);

  constructor(
    readonly s: Surrogate,
    readonly seed: number,
    readonly bytes: number,
  ) {
    this.quantiles = new Float64Array(QUANTILES);
    for (let i = 0; i < QUANTILES; i++)
      this.quantiles[i] = s.lengthMedian * Math.exp(s.lengthSigma * normalQuantile((i + 0.5) / QUANTILES));
  }

  weightBytes(): number {
    return this.bytes;
  }

  generate(
    step: number,
    slots: readonly number[],
    budgetTokens: number,
    groupSize: number,
    schedule: VersionSchedule,
  ): Generation {
    const s = this.s;
    const v0 = schedule[0]![1];
    const groups: GeneratedGroup[] = [];
    for (const slot of slots) {
      const rng = this.rng.reseed(this.seed, 0x5eed, step, slot);
      const lengths: number[] = new Array(groupSize);
      const rewards: number[] = new Array(groupSize);
      for (let j = 0; j < groupSize; j++) {
        let len = this.quantiles[(rng.nextU32() >>> 20) & (QUANTILES - 1)]!;
        if (s.tailFraction > 0 && rng.float() < s.tailFraction) len *= s.tailFactor;
        const l = Math.max(1, Math.min(budgetTokens, Math.round(len)));
        lengths[j] = l;
        rewards[j] = rng.float() < s.passRate ? 1 : 0;
      }
      groups.push({ slot, lengths, minVersion: v0, payload: rewards });
    }
    // One prompt per request (the common large-topology case): the rows are that group's lengths.
    const rows = slots.length === 1 ? groups[0]!.lengths : groups.flatMap((g) => g.lengths);
    return { groups, promptTokens: s.promptTokens * slots.length * groupSize, rowLengths: rows };
  }

  private valid: boolean[] = [];

  score(_step: number, g: GeneratedGroup): Scored {
    const rewards = g.payload as number[];
    if (this.valid.length !== rewards.length) this.valid = new Array<boolean>(rewards.length).fill(false);
    return { rewards, invalid: this.valid }; // shared, never written
  }

  train(input: TrainInput): Record<string, number> {
    let tokens = 0,
      updateRollouts = 0;
    for (const g of input.groups) {
      const lengths = g.group.lengths;
      for (let j = 0; j < lengths.length; j++)
        if (g.trained[j]) {
          tokens += lengths[j]!;
          updateRollouts++;
        }
    }
    return { tokens, updateRollouts };
  }

  publish(): void {}
  release(): void {}
  weightsSha256(): null {
    return null;
  }
  save(): void {}
  restore(): void {}
  dispose(): void {}
}
