/**
 * The p^k experiment's settings and records (experiments/pk.ts runs it): the options and their two
 * presets, the advantage grammar, and the log row and summary it writes.
 */
import type { BigramInit } from '../policy/bigram/bigram.js';

/**
 * How a trajectory's advantage is formed: `group` — GRPO, (r − mean)/(std + ε) over the G
 * trajectories of an iteration (0 for an all-fail group); `baseline` — REINFORCE, A = r − b with b
 * a constant or `mean`, the running mean of every reward sampled before this iteration.
 */
export type PkAdvantage = { kind: 'group' } | { kind: 'baseline'; baseline: number | 'mean' };

export interface PkOptions {
  negatives: 'keep' | 'mask';
  steps: number;
  budget: number;
  seed: number;
  /** Non-stop actions (the answer a* is one of them). */
  actions: number;
  /** Trajectories per iteration (1: one trajectory per update, as in E3.md App. C.3). */
  groupSize: number;
  advantage: PkAdvantage;
  optimizer: 'sgd' | 'adam';
  /** Step size of the optimiser. */
  lr: number;
  /**
   * How the per-trajectory losses (1/|τ|) Σ_t log π · A of an iteration combine: `sum` over the G
   * trajectories (the reading of E3.md's "SGD lr 1e-2, loss (1/|τ|) Σ log π · A" used by
   * paper-text) or `mean` (lr applies to the batch mean, i.e. G times smaller SGD steps).
   */
  reduce: 'sum' | 'mean';
  /**
   * Each trajectory's loss: `mean` over its transitions, (1/|τ|) Σ_t log π · A (E3.md), or `sum`,
   * Σ_t log π · A — realised by scaling the trajectory's advantage by its |τ| before e3Loss (the
   * same gradient). With a constant baseline and no success, `mean` makes the expected update
   * descend E[1/|τ|] (longer traces); `sum` has no expected drift (docs/PK.md, the mechanism).
   */
  trajectoryLoss: 'mean' | 'sum';
  /** Episode length: all actions (`first`, a₁ included) or the actions sampled after a₁ (`second`). */
  lengthFrom: 'first' | 'second';
  logEvery: number;
  /** Initialisation of M (defaults: the paper's U[−3, 3], stop 4, a* −4). */
  init?: BigramInit;
  /**
   * Issue #31: the trajectories of iteration t are sampled from the policy after iteration t − 1 − η
   * (the initial policy while t ≤ η), exactly (the tables are kept); 0 (absent) = on-policy.
   */
  staleness?: number;
  /** The staleness correction of the loss (absent: none). */
  correction?: PkCorrection;
}

/** Corrections `e3sim pk --correction` offers (rl/lossConfig.ts, with the peers' usual constants). */
export const PK_CORRECTIONS = ['none', 'tis', 'decoupled', 'topr', 'asym-clip'] as const;
export type PkCorrection = (typeof PK_CORRECTIONS)[number];

/** Largest --staleness (tables kept: η + 1 copies of M). */
export const PK_STALENESS_MAX = 1000;

export type PkPresetName = 'paper-text' | 'paper-fig7';
export type PkSettings = Omit<PkOptions, 'negatives' | 'seed'>;

/** The two named combinations of settings (docs/PK.md says what each one changes). */
export const PK_PRESETS: Record<PkPresetName, PkSettings> = {
  'paper-text': {
    steps: 120_000,
    budget: 100,
    actions: 100,
    groupSize: 64,
    advantage: { kind: 'group' },
    optimizer: 'sgd',
    lr: 1e-2,
    reduce: 'sum',
    trajectoryLoss: 'mean',
    lengthFrom: 'first',
    logEvery: 5000,
  },
  'paper-fig7': {
    steps: 6000,
    budget: 100,
    actions: 200,
    groupSize: 1,
    advantage: { kind: 'baseline', baseline: 0.5 },
    optimizer: 'adam',
    lr: 1e-2,
    reduce: 'sum',
    trajectoryLoss: 'mean',
    lengthFrom: 'second',
    logEvery: 100,
  },
};
export const PK_DEFAULT_PRESET: PkPresetName = 'paper-fig7';
/** Defaults of `e3sim pk`: the default preset, seed 0. */
export const PK_DEFAULTS: Omit<PkOptions, 'negatives'> = { ...PK_PRESETS[PK_DEFAULT_PRESET], seed: 0 };

/** Entries of the bigram table M at most (tokens × (tokens + 1)). */
export const PK_TABLE_MAX = 4_000_000;

/** Window reward at or above which the phase transition is said to have happened. */
export const PK_TRANSITION_REWARD = 0.9;

/** `group`, `baseline` (b = 0.5), `baseline:B` or `baseline:mean`; null when the text is none of these. */
export function parseAdvantage(text: string): PkAdvantage | null {
  if (text === 'group') return { kind: 'group' };
  if (text === 'baseline') return { kind: 'baseline', baseline: 0.5 };
  const m = /^baseline:(.+)$/.exec(text);
  if (!m) return null;
  if (m[1] === 'mean') return { kind: 'baseline', baseline: 'mean' };
  const b = Number(m[1]);
  return /^-?\d+(\.\d+)?(e-?\d+)?$/i.test(m[1]!) && Number.isFinite(b) && Math.abs(b) <= 1e3
    ? { kind: 'baseline', baseline: b }
    : null;
}

export function formatAdvantage(a: PkAdvantage): string {
  return a.kind === 'group' ? 'group' : `baseline:${a.baseline}`;
}

export interface PkLogRow {
  step: number;
  /** Episodes sampled so far. */
  episodes: number;
  /** Means over the trajectories sampled in the last logEvery steps. */
  meanLength: number;
  reward: number;
  /** Mean over non-answer states s of π(stop | s). */
  pStop: number;
  /** Mean over non-answer states s of H(π(· | s)), nats. */
  entropy: number;
  /** Mean over non-answer states of π(a* | s). */
  pAnswer: number;
  /**
   * The policy's exact expected length (counted as `lengthFrom` says) and success probability at
   * this iteration (BigramPolicy.expectations): what meanLength and reward estimate from the
   * window's episodes, without their sampling noise.
   */
  expectedLength: number;
  expectedReward: number;
  /** Iterations in the window that made a gradient update (the others had no non-zero, unmasked advantage). */
  updates: number;
  /**
   * Over the window's transitions (0 and 1 on-policy): mean |log π_θ − log μ| (μ the lagged policy
   * that sampled them) and the ESS of the weights π_θ/μ as a fraction, (Σr)² / (n·Σr²).
   */
  logRatioAbsMean: number;
  essFraction: number;
}

export interface PkSummary {
  negatives: 'keep' | 'mask';
  /** η: iterations between the sampling policy and the one trained (0: on-policy). */
  staleness: number;
  correction: PkCorrection;
  /** Whether the window reward reached PK_TRANSITION_REWARD (iterationOfTransition not null). */
  transitioned: boolean;
  seed: number;
  actions: number;
  groupSize: number;
  advantage: string;
  optimizer: 'sgd' | 'adam';
  lr: number;
  reduce: 'sum' | 'mean';
  trajectoryLoss: 'mean' | 'sum';
  lengthFrom: 'first' | 'second';
  steps: number;
  episodes: number;
  /** Mean length in the first logged window. */
  lengthStart: number;
  /** The largest window mean length, and the iteration of its log row. */
  lengthPeak: number;
  lengthPeakStep: number;
  lengthEnd: number;
  /**
   * The initial policy's exact expected length, its largest logged value, its last, and the largest |E[len]/E[len]₀ −
   * 1| over the log.
   */
  expectedLengthStart: number;
  expectedLengthPeak: number;
  expectedLengthEnd: number;
  expectedLengthMaxChange: number;
  rewardEnd: number;
  /** The largest window reward. */
  rewardMax: number;
  /** First logged iteration whose window reward is ≥ PK_TRANSITION_REWARD (0.9); null if none. */
  iterationOfTransition: number | null;
  pStopStart: number;
  pStopEnd: number;
  entropyStart: number;
  /** The largest logged mean entropy, and its iteration. */
  entropyPeak: number;
  entropyPeakStep: number;
  entropyEnd: number;
  /**
   * Of the (iteration, state) SGD updates made by negative-advantage transitions only, the
   * fraction that raised H(π(·|s)); null with Adam (its step carries momentum from earlier
   * iterations, so no update is a negative gradient's alone) or when there were none.
   */
  negativeStepsEntropyUpFraction: number | null;
  /** Mean probability of the argmax action at those states before the update (the theorem's lower bound). */
  negativeStepsArgmaxMass: number | null;
  negativeUpdates: number;
  /** Iterations whose advantages were all zero (a group with all-equal rewards, or every term masked): no gradient. */
  zeroAdvantageSteps: number;
}
