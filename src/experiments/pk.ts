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
import { BigramPolicy } from '../policy/bigram/bigram.js';
import { stopAction, type PkEnvConfig, type PkEpisode } from '../tasks/pk/env.js';
import { baselineAdvantages, groupAdvantages } from '../rl/advantages.js';
import { e3Loss, readStats, type LossConfig, type LossStats, type TokenData } from '../rl/loss.js';
import { HostAdam, HostSgd, type HostOptimizer } from '../rl/hostOptimizer.js';

export * from './pkConfig.js';
import type { PkCorrection, PkLogRow, PkOptions, PkSettings, PkSummary } from './pkConfig.js';
import { usesProximal, type Correction } from '../rl/lossConfig.js';
import { PK_TABLE_MAX, PK_TRANSITION_REWARD, formatAdvantage } from './pkConfig.js';
import { PkTally, RatioStats } from './pkTally.js';

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
  lagged?: { behaviour: BigramPolicy; lag: number },
): { grad: Float64Array; rows: Set<number>; stats: LossStats | null } | null {
  let live = false; // does any trajectory carry a gradient? (most iterations do not: checked before any work)
  for (let k = 0; k < episodes.length && !live; k++)
    live = advantages[k]! > 0 || (advantages[k]! < 0 && cfg.negatives === 'keep');
  if (!live) return null;
  const { prev, next, episodeOf } = BigramPolicy.transitions(episodes);
  if (prev.length === 0) return null;
  const current = policy.hostLogprobs(prev, next);
  // on-policy μ = π_θ; lagged, μ is the policy that sampled the episodes, η versions back
  const behaviour = lagged ? lagged.behaviour.hostLogprobs(prev, next) : current;
  const d: TokenData = {
    advantages: Float32Array.from(episodeOf, (k) => advantages[k]!),
    behaviourLogprobs: behaviour,
    mask: new Float32Array(prev.length).fill(1),
    sequence: episodeOf,
    ...(lagged
      ? {
          proximalLogprobs: current, // π_prox = the learner now (one optimiser step per batch)
          versions: new Int32Array(prev.length).fill(0),
          learnerVersion: lagged.lag,
        }
      : usesProximal(cfg.correction)
        ? { proximalLogprobs: current } // on-policy: π_prox = π_θ = μ
        : {}),
  };
  const logprobs = tf.tensor1d(current);
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

/** The loss correction of a `--correction` name (the peers' usual constants; docs/PK.md). */
export function pkCorrection(c: PkCorrection): Correction {
  switch (c) {
    case 'none':
      return { kind: 'none' };
    case 'tis':
      return { kind: 'tis', c: 2 };
    case 'decoupled':
      return { kind: 'decoupled', c: 2 };
    case 'topr':
      return { kind: 'topr', c: 1 };
    case 'asym-clip':
      return { kind: 'asym-clip', high: 3, minLag: 1 };
  }
}

/** What a test may watch at each iteration: the versions, the episodes and the behaviour log-probs. */
export interface PkInspect {
  step: number;
  /** Iterations completed before this one (the trained policy's version) and the sampling policy's. */
  version: number;
  behaviourVersion: number;
  /** The trained policy's table before the iteration's update. */
  values: Float64Array;
  episodes: PkEpisode[];
  /** log μ of the episodes' transitions (BigramPolicy.transitions order): the sampling policy's. */
  behaviour: Float32Array;
}

export function runPk(
  o: PkOptions,
  onLog?: (row: PkLogRow) => void,
  inspect?: (x: PkInspect) => void,
): { log: PkLogRow[]; summary: PkSummary } {
  const problem = checkPkOptions(o);
  if (problem) throw new RangeError(`runPk: ${problem}`);
  const env: PkEnvConfig = { tokens: o.actions, answer: 0, budget: o.budget };
  const rng = new Rng(`pk/${o.seed}`);
  const sampleRng = rng.fork('sample');
  const policy = BigramPolicy.paperInit(env, rng.fork('init'), o.init);
  const eta = o.staleness ?? 0;
  const cfg: LossConfig = { ...PK_LOSS, negatives: o.negatives, correction: pkCorrection(o.correction ?? 'none') };
  // The last η + 1 tables, oldest first: history[0] samples iteration t once t > η.
  const history: Float64Array[] = eta > 0 ? [policy.values()] : [];
  const ratios = new RatioStats();
  const stepSize = o.reduce === 'sum' ? o.lr * o.groupSize : o.lr;
  const V = env.tokens + 1;
  const opt: HostOptimizer =
    o.optimizer === 'adam' ? new HostAdam(stepSize, V, env.tokens * V) : new HostSgd(stepSize, V);
  const zeroGrad = new Float64Array(env.tokens * V);
  const log: PkLogRow[] = [];
  const tally = new PkTally(o.lengthFrom === 'second' ? 1 : 0);
  const start = rowMeans(env, policy);
  const startExpected = policy.expectations();
  const logRow = (step: number) => {
    const row = tally.row(step, rowMeans(env, policy), policy.expectations(), ratios.take());
    log.push(row);
    onLog?.(row);
  };
  const stop = stopAction(env);
  for (let step = 1; step <= o.steps; step++) {
    // the sampling policy: this one (η = 0), or the table of η iterations ago (the first while t ≤ η)
    const behaviour = eta > 0 ? BigramPolicy.fromValues(env, history[0]!) : policy;
    const episodes = behaviour.sampleEpisodes(o.groupSize, sampleRng);
    if (inspect) inspect(inspection(step, eta, policy, behaviour, episodes));
    if (eta > 0) {
      const { prev, next } = BigramPolicy.transitions(episodes);
      ratios.add(policy.hostLogprobs(prev, next), behaviour.hostLogprobs(prev, next));
    }
    const advantages = pkAdvantages(o, episodes, tally.meanReward());
    tally.sampled(episodes);
    const lagged = eta > 0 ? { behaviour, lag: Math.min(eta, step - 1) } : undefined;
    const up = pkUpdate(policy, opt, zeroGrad, o.negatives, cfg, stop, episodes, advantages, lagged);
    if (eta > 0) {
      history.push(policy.values());
      if (history.length > eta + 1) history.shift();
      behaviour.dispose();
    }
    tally.updated(up);
    if (step % o.logEvery === 0 && step !== o.steps) logRow(step);
  }
  logRow(o.steps);

  policy.dispose();
  return { log, summary: pkSummary(o, log, tally.counts(), start, startExpected.length - tally.skipFirst) };
}

/** What `inspect` sees of iteration `step`: the versions, the episodes and the sampling policy's log-probs. */
function inspection(
  step: number,
  eta: number,
  policy: BigramPolicy,
  behaviour: BigramPolicy,
  episodes: PkEpisode[],
): PkInspect {
  const { prev, next } = BigramPolicy.transitions(episodes);
  return {
    step,
    version: step - 1,
    behaviourVersion: Math.max(0, step - 1 - eta),
    values: policy.values(),
    episodes,
    behaviour: behaviour.hostLogprobs(prev, next),
  };
}

/** The episodes' advantages: group-normalised, or against a baseline (a number, or the mean reward so far); × length for a summed loss. */
function pkAdvantages(o: PkOptions, episodes: PkEpisode[], meanRewardSoFar: number): Float64Array {
  const rewards = episodes.map((e) => e.reward);
  const advantages =
    o.advantage.kind === 'group'
      ? groupAdvantages(rewards, o.groupSize).advantages
      : baselineAdvantages(rewards, o.advantage.baseline === 'mean' ? meanRewardSoFar : o.advantage.baseline);
  if (o.trajectoryLoss === 'sum') episodes.forEach((e, k) => (advantages[k]! *= e.actions.length - 1));
  return advantages;
}

/** One optimiser step; with SGD, counts the entropy theorem's cases. Null when there was no gradient. */
function pkUpdate(
  policy: BigramPolicy,
  opt: HostOptimizer,
  zeroGrad: Float64Array,
  negatives: PkOptions['negatives'],
  cfg: LossConfig,
  stop: number,
  episodes: PkEpisode[],
  advantages: Float64Array,
  lagged?: { behaviour: BigramPolicy; lag: number },
): { n: number; up: number; argmax: number } | null {
  const g = bigramPolicyGradient(policy, episodes, advantages, cfg, false, lagged);
  if (!g) {
    if (opt.kind === 'adam') policy.step(opt, zeroGrad, []); // an iteration is an optimiser step: momentum carries on
    return null;
  }
  if (negatives === 'mask' || opt.kind !== 'sgd') {
    policy.step(opt, g.grad, g.rows);
    return { n: 0, up: 0, argmax: 0 };
  }
  // States updated in this iteration by negative-advantage transitions only (so only the
  // negative gradient moved that row): did H(π(·|s)) go up?
  const touchedNeg = new Set<number>();
  const touchedOther = new Set<number>();
  episodes.forEach((e, k) => {
    for (let t = 1; t < e.actions.length; t++) (advantages[k]! < 0 ? touchedNeg : touchedOther).add(e.actions[t - 1]!);
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

/** The run's summary from its log rows and counters (`lengthStart0`: the expected length at the start). */
function pkSummary(
  o: PkOptions,
  log: PkLogRow[],
  c: { episodesTotal: number; negUpdates: number; negUp: number; negArgmax: number; zeroSteps: number },
  start: { pStop: number; entropy: number },
  lengthStart0: number,
): PkSummary {
  const first = log[0]!;
  const last = log.at(-1)!;
  const peak = log.reduce((a, b) => (b.meanLength > a.meanLength ? b : a));
  const hPeak = log.reduce((a, b) => (b.entropy > a.entropy ? b : a));
  const transition = log.find((r) => r.reward >= PK_TRANSITION_REWARD);
  return {
    negatives: o.negatives,
    staleness: o.staleness ?? 0,
    correction: o.correction ?? 'none',
    transitioned: transition !== undefined,
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
    episodes: c.episodesTotal,
    lengthStart: first.meanLength,
    lengthPeak: peak.meanLength,
    lengthPeakStep: peak.step,
    lengthEnd: last.meanLength,
    expectedLengthStart: lengthStart0,
    expectedLengthPeak: Math.max(...log.map((r) => r.expectedLength)),
    expectedLengthEnd: last.expectedLength,
    expectedLengthMaxChange: Math.max(...log.map((r) => Math.abs(r.expectedLength / lengthStart0 - 1))),
    rewardEnd: last.reward,
    rewardMax: Math.max(...log.map((r) => r.reward)),
    iterationOfTransition: transition?.step ?? null,
    pStopStart: start.pStop,
    pStopEnd: last.pStop,
    entropyStart: start.entropy,
    entropyPeak: hPeak.entropy,
    entropyPeakStep: hPeak.step,
    entropyEnd: last.entropy,
    negativeStepsEntropyUpFraction: c.negUpdates ? c.negUp / c.negUpdates : null,
    negativeStepsArgmaxMass: c.negUpdates ? c.negArgmax / c.negUpdates : null,
    negativeUpdates: c.negUpdates,
    zeroAdvantageSteps: c.zeroSteps,
  };
}
