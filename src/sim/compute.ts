/**
 * What the virtual clock asks of the computation. Two implementations: `PolicyCompute` (the
 * real tiny GPT: sampling, verification, training — see policyCompute.ts) and
 * `SurrogateCompute` (compute: none — no tensors; each rollout's length and reward come from a
 * seeded stream keyed by its id, so thousands of samplers simulate in seconds and re-issued work
 * regenerates the same rollouts).
 */
import { z } from 'zod';
import { Rng } from '../util/rng.js';

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
  generate(step: number, slots: readonly number[], budgetTokens: number, groupSize: number, schedule: VersionSchedule): Generation;
  score(step: number, g: GeneratedGroup): Scored;
  /** One learner step; returns its stats (JSON-safe numbers). */
  train(input: TrainInput): Record<string, number>;
  /** The learner's weights become version `version` in the weight store. */
  publish(version: number): void;
  /** Weight versions below this are no longer needed by anyone. */
  release(belowVersion: number): void;
  /** Held-out evaluation of the newest weights (real compute only). */
  evaluate?(version: number): unknown;
  /** SHA-256 of the learner's weights, or null without tensors. */
  weightsSha256(): string | null;
  /** Checkpoint: write what is not in the engine's JSON state into `dir`; restore from it. */
  save(dir: string): void;
  restore(dir: string): void;
  /** Frees tensors (a scenario runs many cells in one process). */
  dispose(): void;
}

export const SurrogateSchema = z.object({
  /** Probability a rollout is correct. */
  passRate: z.number().min(0).max(1).default(0.3),
  promptTokens: z.number().int().min(1).max(1_000_000).default(16),
  /** Completion lengths: lognormal with this median and sigma (drawn by quantile, 4,096 levels), capped at the budget. */
  lengthMedian: z.number().positive().default(40),
  lengthSigma: z.number().min(0).max(5).default(0.5),
  /** A fraction of rollouts run `tailFactor` times longer (the long tail of reasoning traces). */
  tailFraction: z.number().min(0).max(1).default(0),
  tailFactor: z.number().min(1).max(1000).default(8),
}).strict();
export type Surrogate = z.infer<typeof SurrogateSchema>;

const QUANTILES = 4096;

/** Φ⁻¹(p) by Acklam's rational approximation (relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** compute: none. Lengths and rewards from a stream keyed by (seed, step, slot): no tensors. */
export class SurrogateCompute implements Compute {
  readonly kind = 'none' as const;
  /** Lengths by quantile: entry i is the lognormal's quantile at (i + ½) / QUANTILES (one uniform draw per length). */
  private readonly quantiles: Float64Array;

  constructor(readonly s: Surrogate, readonly seed: number, readonly bytes: number) {
    this.quantiles = new Float64Array(QUANTILES);
    for (let i = 0; i < QUANTILES; i++) this.quantiles[i] = s.lengthMedian * Math.exp(s.lengthSigma * normalQuantile((i + 0.5) / QUANTILES));
  }

  weightBytes(): number {
    return this.bytes;
  }

  generate(step: number, slots: readonly number[], budgetTokens: number, groupSize: number, schedule: VersionSchedule): Generation {
    const s = this.s;
    const v0 = schedule[0]![1];
    const groups: GeneratedGroup[] = [];
    const rowLengths: number[] = [];
    for (const slot of slots) {
      const rng = Rng.fromInts(this.seed, 0x5eed, step, slot);
      const lengths: number[] = new Array(groupSize);
      const rewards: number[] = new Array(groupSize);
      for (let j = 0; j < groupSize; j++) {
        let len = this.quantiles[(rng.nextU32() >>> 20) & (QUANTILES - 1)]!;
        if (s.tailFraction > 0 && rng.float() < s.tailFraction) len *= s.tailFactor;
        const l = Math.max(1, Math.min(budgetTokens, Math.round(len)));
        lengths[j] = l;
        rewards[j] = rng.float() < s.passRate ? 1 : 0;
        rowLengths.push(l);
      }
      groups.push({ slot, lengths, minVersion: v0, payload: rewards });
    }
    return { groups, promptTokens: s.promptTokens * slots.length * groupSize, rowLengths };
  }

  private valid: boolean[] = [];

  score(_step: number, g: GeneratedGroup): Scored {
    const rewards = g.payload as number[];
    if (this.valid.length !== rewards.length) this.valid = new Array<boolean>(rewards.length).fill(false);
    return { rewards, invalid: this.valid }; // shared, never written
  }

  train(input: TrainInput): Record<string, number> {
    let tokens = 0;
    for (const g of input.groups) g.group.lengths.forEach((l, j) => (tokens += g.trained[j] ? l : 0));
    return { tokens };
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
