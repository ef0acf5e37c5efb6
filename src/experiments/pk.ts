/**
 * STATUS: in progress for issue #3 (not yet wired into the CLI); see docs/PK-NOTES.md.
 *
 * The p^k experiment of E3.md, through the shared src/rl code: a softmax bigram policy over 100
 * tokens + stop, the paper's initialisation, reward 1 on hitting a*, SGD with lr 1e-2 on the
 * loss (1/|τ|) Σ_t log π · A (seq-mean-token-mean), A group-normalised over the G trajectories of
 * each step (all trajectories of a step share the one "prompt" of this environment, so a step is
 * one GRPO group).
 */
import { Rng } from '../util/rng.js';
import { BigramPolicy } from '../policy/bigram/bigram.js';
import { stopAction, type PkEnvConfig } from '../tasks/pk/env.js';
import { groupAdvantages } from '../rl/advantages.js';
import { e3Loss, type LossConfig, type TokenData } from '../rl/loss.js';
import { sgdStep } from '../tensor/sgd.js';

export interface PkOptions {
  negatives: 'keep' | 'mask';
  steps: number;
  budget: number;
  seed: number;
  groupSize: number;
  lr: number;
  logEvery: number;
  /** Initialisation of M (defaults: the paper's U[−3, 3], stop 4, a* −4). */
  init?: { range?: number; stopLogit?: number; answerLogit?: number };
}

export const PK_DEFAULTS: Omit<PkOptions, 'negatives'> = { steps: 3000, budget: 100, seed: 0, groupSize: 64, lr: 1e-2, logEvery: 50 };

export interface PkLogRow {
  step: number;
  /** Means over the trajectories sampled in the last logEvery steps. */
  meanLength: number;
  reward: number;
  /** Mean over non-answer states s of π(stop | s). */
  pStop: number;
  /** Mean over non-answer states s of H(π(· | s)), nats. */
  entropy: number;
  /** Mean over non-answer states of π(a* | s). */
  pAnswer: number;
}

export interface PkSummary {
  negatives: 'keep' | 'mask';
  seed: number;
  groupSize: number;
  steps: number;
  lengthStart: number;
  lengthMax: number;
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
}

const PK_LOSS: LossConfig = { clipLow: 0.2, clipHigh: 0.2, klCoef: 0, entropyCoef: 0, negatives: 'keep', correction: { kind: 'none' }, aggregation: 'seq-mean-token-mean' };

function rowStats(env: PkEnvConfig, probs: Float64Array[]): { pStop: number; entropy: number; pAnswer: number; entropies: Float64Array } {
  const entropies = new Float64Array(env.tokens);
  let pStop = 0, entropy = 0, pAnswer = 0, n = 0;
  probs.forEach((row, s) => {
    let h = 0;
    for (const p of row) if (p > 0) h -= p * Math.log(p);
    entropies[s] = h;
    if (s === env.answer) return;
    pStop += row[stopAction(env)]!;
    pAnswer += row[env.answer]!;
    entropy += h;
    n++;
  });
  return { pStop: pStop / n, entropy: entropy / n, pAnswer: pAnswer / n, entropies };
}

export function runPk(o: PkOptions, onLog?: (row: PkLogRow) => void): { log: PkLogRow[]; summary: PkSummary } {
  const env: PkEnvConfig = { tokens: 100, answer: 0, budget: o.budget };
  const rng = new Rng(`pk/${o.seed}`);
  const policy = BigramPolicy.paperInit(env, rng.fork('init'), o.init);
  const cfg: LossConfig = { ...PK_LOSS, negatives: o.negatives };
  const log: PkLogRow[] = [];
  let lenSum = 0, rewSum = 0, count = 0;
  let negUpdates = 0, negUp = 0, negArgmax = 0;
  let probs = policy.probabilities();
  let entropies = rowStats(env, probs).entropies;
  const logRow = (step: number) => {
    const s = rowStats(env, probs);
    const row: PkLogRow = { step, meanLength: lenSum / Math.max(1, count), reward: rewSum / Math.max(1, count), pStop: s.pStop, entropy: s.entropy, pAnswer: s.pAnswer };
    log.push(row);
    onLog?.(row);
    lenSum = rewSum = count = 0;
  };
  for (let step = 1; step <= o.steps; step++) {
    const episodes = policy.sampleEpisodes(o.groupSize, rng.fork(`step${step}`));
    const { advantages } = groupAdvantages(episodes.map((e) => e.reward), o.groupSize);
    for (const e of episodes) {
      lenSum += e.actions.length;
      rewSum += e.reward;
      count++;
    }
    // States updated in this step, by the sign of the advantages of their outgoing transitions.
    const touchedNeg = new Set<number>();
    const touchedOther = new Set<number>();
    episodes.forEach((e, k) => {
      for (let t = 1; t < e.actions.length; t++) {
        if (advantages[k]! < 0) touchedNeg.add(e.actions[t - 1]!);
        else if (advantages[k]! > 0) touchedOther.add(e.actions[t - 1]!);
      }
    });
    if (advantages.some((a) => a !== 0)) {
      sgdStep([policy.M], () => {
        const { logprobs, episodeOf } = policy.transitionLogprobs(episodes);
        const n = logprobs.shape[0];
        const behaviour = logprobs.dataSync() as Float32Array; // on-policy: μ = π_θ at this step
        const d: TokenData = {
          advantages: Float32Array.from(episodeOf, (k) => advantages[k]!),
          behaviourLogprobs: Float32Array.from(behaviour),
          mask: new Float32Array(n).fill(1),
          sequence: episodeOf,
        };
        return e3Loss(logprobs, d, cfg).loss;
      }, o.lr);
    }
    const before = probs;
    probs = policy.probabilities();
    const hBefore = entropies;
    entropies = rowStats(env, probs).entropies;
    if (o.negatives === 'keep') {
      for (const s of touchedNeg) {
        if (touchedOther.has(s)) continue;
        negUpdates++;
        if (entropies[s]! > hBefore[s]!) negUp++;
        negArgmax += Math.max(...before[s]!);
      }
    }
    if (step % o.logEvery === 0 || step === o.steps) logRow(step);
  }
  policy.dispose();
  const first = log[0]!;
  const last = log.at(-1)!;
  return {
    log,
    summary: {
      negatives: o.negatives, seed: o.seed, groupSize: o.groupSize, steps: o.steps,
      lengthStart: first.meanLength, lengthMax: Math.max(...log.map((r) => r.meanLength)), lengthEnd: last.meanLength,
      rewardEnd: last.reward, pStopStart: first.pStop, pStopEnd: last.pStop, entropyStart: first.entropy, entropyEnd: last.entropy,
      negativeStepsEntropyUpFraction: negUpdates ? negUp / negUpdates : null,
      negativeStepsArgmaxMass: negUpdates ? negArgmax / negUpdates : null,
      negativeUpdates: negUpdates,
    },
  };
}


