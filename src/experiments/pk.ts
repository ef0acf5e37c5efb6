/**
 * The p^k experiment of E3.md, through the shared src/rl code: a softmax bigram policy over 100
 * tokens + stop, the paper's initialisation, reward 1 on hitting a*, SGD on the loss
 * (1/|τ|) Σ_t log π · A averaged over the trajectories of a step (`seq-mean-token-mean`), A
 * group-normalised over the G trajectories of each step (every trajectory of this environment
 * answers the same one "prompt", so a step is one GRPO group). See docs/PK.md.
 *
 * Each step: sample G episodes from π_θ (on-policy, so μ = π_θ and the PPO ratio is 1), GRPO
 * advantages, e3Loss and its gradient with respect to each transition's log π (tf), chained to
 * M by the exact softmax Jacobian (BigramPolicy.gradientFromLogprobGrad), one SGD step.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import { BigramPolicy, type BigramInit } from '../policy/bigram/bigram.js';
import { stopAction, type PkEnvConfig, type PkEpisode } from '../tasks/pk/env.js';
import { groupAdvantages } from '../rl/advantages.js';
import { e3Loss, readStats, type LossConfig, type LossStats, type TokenData } from '../rl/loss.js';

export interface PkOptions {
  negatives: 'keep' | 'mask';
  steps: number;
  budget: number;
  seed: number;
  groupSize: number;
  /** SGD step size. */
  lr: number;
  /**
   * How the per-trajectory losses (1/|τ|) Σ_t log π · A of a step combine: `sum` over the G
   * trajectories (SGD on the sum; the reading of E3.md's "SGD lr 1e-2, loss (1/|τ|) Σ log π · A"
   * used by default) or `mean` (lr applies to the batch mean, i.e. G times smaller steps).
   */
  reduce: 'sum' | 'mean';
  logEvery: number;
  /** Initialisation of M (defaults: the paper's U[−3, 3], stop 4, a* −4). */
  init?: BigramInit;
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
  /** Steps in the window whose group had a non-zero advantage (the others make no update). */
  updates: number;
}

export interface PkSummary {
  negatives: 'keep' | 'mask';
  seed: number;
  groupSize: number;
  lr: number;
  reduce: 'sum' | 'mean';
  steps: number;
  episodes: number;
  lengthStart: number;
  lengthMax: number;
  /** Step of the log row where the length peaked. */
  lengthMaxStep: number;
  lengthEnd: number;
  rewardEnd: number;
  pStopStart: number;
  pStopEnd: number;
  entropyStart: number;
  entropyEnd: number;
  /** Of the (step, state) updates made by negative-advantage transitions only, the fraction that raised H(π(·|s)). */
  negativeStepsEntropyUpFraction: number | null;
  /** Mean probability of the argmax action at those states before the update (the theorem's lower bound). */
  negativeStepsArgmaxMass: number | null;
  negativeUpdates: number;
  /** Steps whose group had all-equal rewards (zero advantages, no update). */
  zeroAdvantageSteps: number;
}

/** Defaults of `e3sim pk` (docs/PK.md explains each choice). */
export const PK_DEFAULTS: Omit<PkOptions, 'negatives'> = { steps: 120_000, budget: 100, seed: 0, groupSize: 64, lr: 1e-2, reduce: 'sum', logEvery: 5000 };

export const PK_LOSS: LossConfig = { clipLow: 0.2, clipHigh: 0.2, klCoef: 0, entropyCoef: 0, negatives: 'keep', correction: { kind: 'none' }, aggregation: 'seq-mean-token-mean' };

/**
 * One on-policy policy-gradient step of the bigram through e3Loss: returns the loss statistics,
 * or null when every advantage is zero (no update).
 */
export function bigramPolicyStep(policy: BigramPolicy, episodes: readonly PkEpisode[], advantages: ArrayLike<number>, cfg: LossConfig, lr: number): LossStats | null {
  const { prev, next, episodeOf } = BigramPolicy.transitions(episodes);
  if (prev.length === 0) return null;
  const behaviour = policy.hostLogprobs(prev, next); // on-policy: μ = π_θ
  const d: TokenData = {
    advantages: Float32Array.from(episodeOf, (k) => advantages[k]!),
    behaviourLogprobs: behaviour,
    mask: new Float32Array(prev.length).fill(1),
    sequence: episodeOf,
  };
  if (d.advantages.every((a) => a === 0)) return null;
  const logprobs = tf.tensor1d(behaviour);
  let parts: ReturnType<typeof e3Loss> | undefined;
  const { value, grad } = tf.valueAndGrad((lp: tf.Tensor) => (parts = e3Loss(lp as tf.Tensor1D, d, cfg)).loss)(logprobs);
  const dLogprob = grad.dataSync();
  const stats = readStats(parts!, value.dataSync()[0]!);
  tf.dispose([logprobs, value, grad]);
  policy.sgdStep(policy.gradientFromLogprobGrad(prev, next, dLogprob), lr, new Set(prev)); // only rows with transitions move
  return stats;
}

function rowMeans(env: PkEnvConfig, policy: BigramPolicy, entropies: Float64Array): { pStop: number; entropy: number; pAnswer: number } {
  let pStop = 0, entropy = 0, pAnswer = 0, n = 0;
  for (let s = 0; s < env.tokens; s++) {
    if (s === env.answer) continue;
    pStop += policy.prob(s, stopAction(env));
    pAnswer += policy.prob(s, env.answer);
    entropy += entropies[s]!;
    n++;
  }
  return { pStop: pStop / n, entropy: entropy / n, pAnswer: pAnswer / n };
}

export function runPk(o: PkOptions, onLog?: (row: PkLogRow) => void): { log: PkLogRow[]; summary: PkSummary } {
  const env: PkEnvConfig = { tokens: 100, answer: 0, budget: o.budget };
  const rng = new Rng(`pk/${o.seed}`);
  const sampleRng = rng.fork('sample');
  const policy = BigramPolicy.paperInit(env, rng.fork('init'), o.init);
  const cfg: LossConfig = { ...PK_LOSS, negatives: o.negatives };
  const log: PkLogRow[] = [];
  let lenSum = 0, rewSum = 0, count = 0, updates = 0, episodesTotal = 0, zeroSteps = 0;
  let negUpdates = 0, negUp = 0, negArgmax = 0;
  let entropies = policy.entropies();
  const start = rowMeans(env, policy, entropies);
  const logRow = (step: number) => {
    const s = rowMeans(env, policy, entropies);
    const row: PkLogRow = { step, episodes: episodesTotal, meanLength: lenSum / Math.max(1, count), reward: rewSum / Math.max(1, count), ...s, updates };
    log.push(row);
    onLog?.(row);
    lenSum = rewSum = count = updates = 0;
  };
  const stop = stopAction(env);
  for (let step = 1; step <= o.steps; step++) {
    const episodes = policy.sampleEpisodes(o.groupSize, sampleRng);
    const { advantages, zeroAdvantageGroups } = groupAdvantages(episodes.map((e) => e.reward), o.groupSize);
    zeroSteps += zeroAdvantageGroups;
    for (const e of episodes) {
      lenSum += e.actions.length;
      rewSum += e.reward;
      count++;
    }
    episodesTotal += episodes.length;
    if (zeroAdvantageGroups === 0) {
      updates++;
      const up = updateWithEntropyCheck(episodes, advantages);
      negUpdates += up.n;
      negUp += up.up;
      negArgmax += up.argmax;
    }
    if (step % o.logEvery === 0 && step !== o.steps) logRow(step);
  }
  logRow(o.steps);

  function updateWithEntropyCheck(episodes: PkEpisode[], advantages: Float64Array): { n: number; up: number; argmax: number } {
    // States updated in this step, by the sign of the advantages of their outgoing transitions
    // (with `mask`, negative transitions make no update, so only `keep` counts them).
    const touchedNeg = new Set<number>();
    const touchedOther = new Set<number>();
    episodes.forEach((e, k) => {
      for (let t = 1; t < e.actions.length; t++) (advantages[k]! < 0 ? touchedNeg : touchedOther).add(e.actions[t - 1]!);
    });
    const argmaxBefore = new Map<number, number>();
    if (o.negatives === 'keep') {
      for (const s of touchedNeg) {
        if (touchedOther.has(s)) continue;
        let mx = 0;
        for (let j = 0; j <= stop; j++) mx = Math.max(mx, policy.prob(s, j));
        argmaxBefore.set(s, mx);
      }
    }
    bigramPolicyStep(policy, episodes, advantages, cfg, o.reduce === 'sum' ? o.lr * o.groupSize : o.lr);
    const hBefore = entropies.slice();
    for (const s of touchedNeg) entropies[s] = policy.entropyOf(s);
    for (const s of touchedOther) entropies[s] = policy.entropyOf(s);
    let n = 0, up = 0, argmax = 0;
    for (const [s, mx] of argmaxBefore) {
      n++;
      if (entropies[s]! > hBefore[s]!) up++;
      argmax += mx;
    }
    return { n, up, argmax };
  }
  policy.dispose();
  const first = log[0]!;
  const last = log.at(-1)!;
  const peak = log.reduce((a, b) => (b.meanLength > a.meanLength ? b : a));
  return {
    log,
    summary: {
      negatives: o.negatives, seed: o.seed, groupSize: o.groupSize, lr: o.lr, reduce: o.reduce, steps: o.steps, episodes: episodesTotal,
      lengthStart: first.meanLength, lengthMax: peak.meanLength, lengthMaxStep: peak.step, lengthEnd: last.meanLength,
      rewardEnd: last.reward, pStopStart: start.pStop, pStopEnd: last.pStop, entropyStart: start.entropy, entropyEnd: last.entropy,
      negativeStepsEntropyUpFraction: negUpdates ? negUp / negUpdates : null,
      negativeStepsArgmaxMass: negUpdates ? negArgmax / negUpdates : null,
      negativeUpdates: negUpdates,
      zeroAdvantageSteps: zeroSteps,
    },
  };
}
