/**
 * The p^k experiment's running statistics (experiments/pk.ts runPk): the sums behind each log row
 * and the run's summary, and the importance ratios of a stale sampling policy.
 */
import type { PkEpisode } from '../tasks/pk/env.js';
import type { PkLogRow } from './pkConfig.js';

/** The run's running sums: each log row's (reset when written) and the whole run's. */
export class PkTally {
  lenSum = 0;
  rewSum = 0;
  count = 0;
  updates = 0;
  episodesTotal = 0;
  zeroSteps = 0;
  rewardTotal = 0;
  negUpdates = 0;
  negUp = 0;
  negArgmax = 0;
  /** Actions not counted in a length (1: the first, `lengthFrom: second`). */
  constructor(readonly skipFirst: number) {}

  meanReward(): number {
    return this.rewardTotal / Math.max(1, this.episodesTotal);
  }

  sampled(episodes: PkEpisode[]): void {
    for (const e of episodes) {
      this.lenSum += e.actions.length - this.skipFirst;
      this.rewSum += e.reward;
      this.rewardTotal += e.reward;
      this.count++;
    }
    this.episodesTotal += episodes.length;
  }

  updated(up: { n: number; up: number; argmax: number } | null): void {
    if (!up) return void this.zeroSteps++;
    this.updates++;
    this.negUpdates += up.n;
    this.negUp += up.up;
    this.negArgmax += up.argmax;
  }

  /** The log row of `step`; the row's sums start again. */
  row(
    step: number,
    means: { pStop: number; entropy: number; pAnswer: number },
    x: { length: number; reward: number },
    ratios: ReturnType<RatioStats['take']>,
  ): PkLogRow {
    const row: PkLogRow = {
      step,
      episodes: this.episodesTotal,
      meanLength: this.lenSum / Math.max(1, this.count),
      reward: this.rewSum / Math.max(1, this.count),
      ...means,
      expectedLength: x.length - this.skipFirst,
      expectedReward: x.reward,
      updates: this.updates,
      ...ratios,
    };
    this.lenSum = this.rewSum = this.count = this.updates = 0;
    return row;
  }

  counts() {
    const { episodesTotal, negUpdates, negUp, negArgmax, zeroSteps } = this;
    return { episodesTotal, negUpdates, negUp, negArgmax, zeroSteps };
  }
}

/** |log π − log μ| and the effective sample size of the ratios π/μ since the last log row (staleness > 0). */
export class RatioStats {
  private abs = 0;
  private sum = 0;
  private sq = 0;
  private n = 0;

  add(cur: ArrayLike<number>, mu: ArrayLike<number>): void {
    for (let i = 0; i < cur.length; i++) {
      const lr = cur[i]! - mu[i]!;
      this.abs += Math.abs(lr);
      const r = Math.exp(lr);
      this.sum += r;
      this.sq += r * r;
      this.n++;
    }
  }

  /** The means since the last call, then zero. */
  take(): { logRatioAbsMean: number; essFraction: number } {
    const out = {
      logRatioAbsMean: this.n ? this.abs / this.n : 0,
      essFraction: this.n ? (this.sum * this.sum) / (this.n * this.sq) : 1,
    };
    this.abs = this.sum = this.sq = this.n = 0;
    return out;
  }
}
