/**
 * The p^k experiment of E3.md, through the shared src/rl code: a softmax bigram policy over N
 * tokens + stop, the paper's initialisation, reward 1 on hitting a*, the loss
 * (1/|τ|) Σ_t log π · A averaged over the trajectories of a step (`seq-mean-token-mean`), and
 * one optimiser step per iteration. Two presets (docs/PK.md):
 *
 *  - `paper-text`: what E3.md's text states — 100 actions, SGD lr 1e-2 (on the sum over a group
 *    of 64), GRPO group-normalised advantages, length counting a₁;
 *  - `paper-fig7` (default): what Fig 7's plotted numbers need — 200 actions, REINFORCE with a
 *    constant baseline 0.5 on one trajectory per update, Adam lr 1e-2, length counting the
 *    actions after a₁.
 *
 * Each iteration: sample G episodes from π_θ (on-policy, so μ = π_θ and the PPO ratio is 1),
 * advantages, e3Loss and its gradient with respect to each transition's log π (tf), chained to
 * M by the exact softmax Jacobian (BigramPolicy.gradientFromLogprobGrad), one SGD or Adam step
 * (src/rl/hostOptimizer.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import { BigramPolicy, type BigramInit } from '../policy/bigram/bigram.js';
import { stopAction, type PkEnvConfig, type PkEpisode } from '../tasks/pk/env.js';
import { baselineAdvantages, groupAdvantages } from '../rl/advantages.js';
import { e3Loss, readStats, type LossConfig, type LossStats, type TokenData } from '../rl/loss.js';
import { HostAdam, HostSgd, type HostOptimizer } from '../rl/hostOptimizer.js';

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
}

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
}

export interface PkSummary {
  negatives: 'keep' | 'mask';
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

export const PK_LOSS: LossConfig = {
  clipLow: 0.2,
  clipHigh: 0.2,
  klCoef: 0,
  entropyCoef: 0,
  negatives: 'keep',
  correction: { kind: 'none' },
  aggregation: 'seq-mean-token-mean',
};

/**
 * ∂L/∂M of one on-policy policy-gradient iteration of the bigram through e3Loss, with the rows it
 * touches and (when `withStats`) the loss statistics; null when no term carries a gradient
 * (every advantage zero or masked). The experiment's loop skips the statistics: reading them
 * back costs a tenth of a paper-text run.
 */
export function bigramPolicyGradient(
  policy: BigramPolicy,
  episodes: readonly PkEpisode[],
  advantages: ArrayLike<number>,
  cfg: LossConfig,
  withStats = true,
): { grad: Float64Array; rows: Set<number>; stats: LossStats | null } | null {
  let live = false; // does any trajectory carry a gradient? (most iterations do not: checked before any work)
  for (let k = 0; k < episodes.length && !live; k++)
    live = advantages[k]! > 0 || (advantages[k]! < 0 && cfg.negatives === 'keep');
  if (!live) return null;
  const { prev, next, episodeOf } = BigramPolicy.transitions(episodes);
  if (prev.length === 0) return null;
  const behaviour = policy.hostLogprobs(prev, next); // on-policy: μ = π_θ
  const d: TokenData = {
    advantages: Float32Array.from(episodeOf, (k) => advantages[k]!),
    behaviourLogprobs: behaviour,
    mask: new Float32Array(prev.length).fill(1),
    sequence: episodeOf,
  };
  const logprobs = tf.tensor1d(behaviour);
  let parts: ReturnType<typeof e3Loss> | undefined;
  const { value, grad } = tf.valueAndGrad((lp: tf.Tensor) => (parts = e3Loss(lp as tf.Tensor1D, d, cfg)).loss)(
    logprobs,
  );
  const dLogprob = grad.dataSync();
  const stats = withStats ? readStats(parts!, value.dataSync()[0]!) : null;
  tf.dispose([logprobs, value, grad, ...(withStats ? [] : Object.values(parts!.parts))]);
  return { grad: policy.gradientFromLogprobGrad(prev, next, dLogprob), rows: new Set(prev), stats };
}

/** bigramPolicyGradient and one SGD step of size lr (only rows with transitions move). */
export function bigramPolicyStep(
  policy: BigramPolicy,
  episodes: readonly PkEpisode[],
  advantages: ArrayLike<number>,
  cfg: LossConfig,
  lr: number,
): LossStats | null {
  const g = bigramPolicyGradient(policy, episodes, advantages, cfg);
  if (g) policy.sgdStep(g.grad, lr, g.rows);
  return g?.stats ?? null;
}

function rowMeans(env: PkEnvConfig, policy: BigramPolicy): { pStop: number; entropy: number; pAnswer: number } {
  let pStop = 0,
    entropy = 0,
    pAnswer = 0,
    n = 0;
  for (let s = 0; s < env.tokens; s++) {
    if (s === env.answer) continue;
    pStop += policy.prob(s, stopAction(env));
    pAnswer += policy.prob(s, env.answer);
    entropy += policy.entropyOf(s);
    n++;
  }
  return { pStop: pStop / n, entropy: entropy / n, pAnswer: pAnswer / n };
}

/** The error in a combination of settings, naming the option; null when it can run. */
export function checkPkOptions(o: PkSettings): string | null {
  if (o.advantage.kind === 'group' && o.groupSize < 2)
    return `group: ${o.groupSize} trajectory per iteration with group-normalised advantages gives every advantage 0 (expected a group of at least 2, or advantage baseline)`;
  if (o.actions < 2) return `actions: expected at least 2 (a* and one other), got ${o.actions}`;
  if (o.actions * (o.actions + 1) > PK_TABLE_MAX)
    return `actions: a table of ${o.actions} × ${o.actions + 1} is over the limit of ${PK_TABLE_MAX.toLocaleString('en-US')} entries`;
  return null;
}

export function runPk(o: PkOptions, onLog?: (row: PkLogRow) => void): { log: PkLogRow[]; summary: PkSummary } {
  const problem = checkPkOptions(o);
  if (problem) throw new RangeError(`runPk: ${problem}`);
  const env: PkEnvConfig = { tokens: o.actions, answer: 0, budget: o.budget };
  const rng = new Rng(`pk/${o.seed}`);
  const sampleRng = rng.fork('sample');
  const policy = BigramPolicy.paperInit(env, rng.fork('init'), o.init);
  const cfg: LossConfig = { ...PK_LOSS, negatives: o.negatives };
  const stepSize = o.reduce === 'sum' ? o.lr * o.groupSize : o.lr;
  const V = env.tokens + 1;
  const opt: HostOptimizer =
    o.optimizer === 'adam' ? new HostAdam(stepSize, V, env.tokens * V) : new HostSgd(stepSize, V);
  const zeroGrad = new Float64Array(env.tokens * V);
  const log: PkLogRow[] = [];
  let lenSum = 0,
    rewSum = 0,
    count = 0,
    updates = 0,
    episodesTotal = 0,
    zeroSteps = 0;
  let rewardTotal = 0;
  let negUpdates = 0,
    negUp = 0,
    negArgmax = 0;
  const start = rowMeans(env, policy);
  const startExpected = policy.expectations();
  const skipFirst = o.lengthFrom === 'second' ? 1 : 0;
  const logRow = (step: number) => {
    const s = rowMeans(env, policy);
    const x = policy.expectations();
    const row: PkLogRow = {
      step,
      episodes: episodesTotal,
      meanLength: lenSum / Math.max(1, count),
      reward: rewSum / Math.max(1, count),
      ...s,
      expectedLength: x.length - skipFirst,
      expectedReward: x.reward,
      updates,
    };
    log.push(row);
    onLog?.(row);
    lenSum = rewSum = count = updates = 0;
  };
  const stop = stopAction(env);
  for (let step = 1; step <= o.steps; step++) {
    const episodes = policy.sampleEpisodes(o.groupSize, sampleRng);
    const rewards = episodes.map((e) => e.reward);
    const advantages =
      o.advantage.kind === 'group'
        ? groupAdvantages(rewards, o.groupSize).advantages
        : baselineAdvantages(
            rewards,
            o.advantage.baseline === 'mean' ? rewardTotal / Math.max(1, episodesTotal) : o.advantage.baseline,
          );
    if (o.trajectoryLoss === 'sum') episodes.forEach((e, k) => (advantages[k]! *= e.actions.length - 1));
    for (const e of episodes) {
      lenSum += e.actions.length - skipFirst;
      rewSum += e.reward;
      rewardTotal += e.reward;
      count++;
    }
    episodesTotal += episodes.length;
    const up = update(episodes, advantages);
    if (up) {
      updates++;
      negUpdates += up.n;
      negUp += up.up;
      negArgmax += up.argmax;
    } else zeroSteps++;
    if (step % o.logEvery === 0 && step !== o.steps) logRow(step);
  }
  logRow(o.steps);

  /** One optimiser step; with SGD, counts the entropy theorem's cases. Null when there was no gradient. */
  function update(episodes: PkEpisode[], advantages: Float64Array): { n: number; up: number; argmax: number } | null {
    const g = bigramPolicyGradient(policy, episodes, advantages, cfg, false);
    if (!g) {
      if (opt.kind === 'adam') policy.step(opt, zeroGrad, []); // an iteration is an optimiser step: momentum carries on
      return null;
    }
    if (o.negatives === 'mask' || opt.kind !== 'sgd') {
      policy.step(opt, g.grad, g.rows);
      return { n: 0, up: 0, argmax: 0 };
    }
    // States updated in this iteration by negative-advantage transitions only (so only the
    // negative gradient moved that row): did H(π(·|s)) go up?
    const touchedNeg = new Set<number>();
    const touchedOther = new Set<number>();
    episodes.forEach((e, k) => {
      for (let t = 1; t < e.actions.length; t++)
        (advantages[k]! < 0 ? touchedNeg : touchedOther).add(e.actions[t - 1]!);
    });
    const before = new Map<number, { h: number; argmax: number }>();
    for (const s of touchedNeg) {
      if (touchedOther.has(s)) continue;
      let mx = 0;
      for (let j = 0; j <= stop; j++) mx = Math.max(mx, policy.prob(s, j));
      before.set(s, { h: policy.entropyOf(s), argmax: mx });
    }
    policy.step(opt, g.grad, g.rows);
    let n = 0,
      up = 0,
      argmax = 0;
    for (const [s, b] of before) {
      n++;
      if (policy.entropyOf(s) > b.h) up++;
      argmax += b.argmax;
    }
    return { n, up, argmax };
  }
  policy.dispose();
  const first = log[0]!;
  const last = log.at(-1)!;
  const peak = log.reduce((a, b) => (b.meanLength > a.meanLength ? b : a));
  const hPeak = log.reduce((a, b) => (b.entropy > a.entropy ? b : a));
  const transition = log.find((r) => r.reward >= PK_TRANSITION_REWARD);
  return {
    log,
    summary: {
      negatives: o.negatives,
      seed: o.seed,
      actions: o.actions,
      groupSize: o.groupSize,
      advantage: formatAdvantage(o.advantage),
      optimizer: o.optimizer,
      lr: o.lr,
      reduce: o.reduce,
      trajectoryLoss: o.trajectoryLoss,
      lengthFrom: o.lengthFrom,
      steps: o.steps,
      episodes: episodesTotal,
      lengthStart: first.meanLength,
      lengthPeak: peak.meanLength,
      lengthPeakStep: peak.step,
      lengthEnd: last.meanLength,
      expectedLengthStart: startExpected.length - skipFirst,
      expectedLengthPeak: Math.max(...log.map((r) => r.expectedLength)),
      expectedLengthEnd: last.expectedLength,
      expectedLengthMaxChange: Math.max(
        ...log.map((r) => Math.abs(r.expectedLength / (startExpected.length - skipFirst) - 1)),
      ),
      rewardEnd: last.reward,
      rewardMax: Math.max(...log.map((r) => r.reward)),
      iterationOfTransition: transition?.step ?? null,
      pStopStart: start.pStop,
      pStopEnd: last.pStop,
      entropyStart: start.entropy,
      entropyPeak: hPeak.entropy,
      entropyPeakStep: hPeak.step,
      entropyEnd: last.entropy,
      negativeStepsEntropyUpFraction: negUpdates ? negUp / negUpdates : null,
      negativeStepsArgmaxMass: negUpdates ? negArgmax / negUpdates : null,
      negativeUpdates: negUpdates,
      zeroAdvantageSteps: zeroSteps,
    },
  };
}
