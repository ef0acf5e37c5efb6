/** Small summaries shared by benchmarks, experiments, scenarios and reports. */
import { Rng } from './rng.js';

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Mean, min and max over seeds (or repeats); null for no values. */
export interface Spread {
  mean: number;
  min: number;
  max: number;
  n: number;
}

export function spread(xs: readonly number[]): Spread | null {
  if (xs.length === 0) return null;
  return { mean: mean(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/** `mean [min, max]`, or `—`; with `single: 'mean'` a single value prints as itself. */
export function formatSpread(s: Spread | null, digits = 3, o: { single?: 'mean' } = {}): string {
  if (!s) return '—';
  if (s.n === 1 && o.single === 'mean') return s.mean.toFixed(digits);
  return `${s.mean.toFixed(digits)} [${s.min.toFixed(digits)}, ${s.max.toFixed(digits)}]`;
}

/** The q-quantile (0..1) by the nearest-rank method; NaN for an empty list. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** A point estimate with a confidence interval. */
export interface Ci {
  mean: number;
  lo: number;
  hi: number;
  n: number;
}

/** Bootstrap resamples drawn for a CI (a bound on the work). */
export const BOOTSTRAP_RESAMPLES = 2000;

/**
 * Percentile bootstrap CI of the mean of `strata`' units pooled (every unit weighs the same):
 * each resample draws, within every stratum, as many units as it has, with replacement. Strata
 * are seeds (units: held-out problems), so the CI is the evaluation's sampling error; the seed
 * spread is reported beside it. Deterministic in `seed`.
 */
export function bootstrapMeanCi(
  strata: readonly (readonly number[])[],
  o: { seed: string; resamples?: number; level?: number },
): Ci {
  const all = strata.flat();
  if (all.length === 0) return { mean: NaN, lo: NaN, hi: NaN, n: 0 };
  const R = Math.min(o.resamples ?? BOOTSTRAP_RESAMPLES, 100_000);
  const level = o.level ?? 0.95;
  const rng = new Rng(`bootstrap/${o.seed}`);
  const means = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    let sum = 0;
    for (const s of strata) for (let i = 0; i < s.length; i++) sum += s[rng.int(s.length)]!;
    means[r] = sum / all.length;
  }
  means.sort();
  const at = (q: number) => means[Math.min(R - 1, Math.max(0, Math.floor(q * R)))]!;
  return { mean: mean(all), lo: at((1 - level) / 2), hi: at(1 - (1 - level) / 2), n: all.length };
}

/**
 * Percentile bootstrap CI of a statistic of the pooled column means of `strata`' units (each unit a
 * row of numbers; every unit weighs the same), resampled as bootstrapMeanCi resamples — e.g. the
 * difference of two ratios of means, paired because a unit carries both arms' numbers. `stat`
 * gets the column means; resamples where it is not finite are left out. Deterministic in `seed`
 * (with a one-column unit and `stat = (m) => m[0]`, bootstrapMeanCi's interval exactly).
 */
export function bootstrapStatCi(
  strata: readonly (readonly (readonly number[])[])[],
  stat: (means: Float64Array) => number,
  o: { seed: string; resamples?: number; level?: number },
): Ci {
  const n = strata.reduce((a, s) => a + s.length, 0);
  if (n === 0) return { mean: NaN, lo: NaN, hi: NaN, n: 0 };
  const cols = strata.find((s) => s.length > 0)![0]!.length;
  const R = Math.min(o.resamples ?? BOOTSTRAP_RESAMPLES, 100_000);
  const level = o.level ?? 0.95;
  const rng = new Rng(`bootstrap/${o.seed}`);
  const sums = new Float64Array(cols);
  /** The column means of one draw: `pick` gives a unit per slot of each stratum. */
  const meansOf = (pick: (s: readonly (readonly number[])[], i: number) => readonly number[]) => {
    sums.fill(0);
    for (const s of strata)
      for (let i = 0; i < s.length; i++) {
        const u = pick(s, i);
        for (let c = 0; c < cols; c++) sums[c] += u[c]!;
      }
    return sums.map((x) => x / n);
  };
  const point = stat(meansOf((s, i) => s[i]!));
  const values: number[] = [];
  for (let r = 0; r < R; r++) {
    const v = stat(meansOf((s) => s[rng.int(s.length)]!));
    if (Number.isFinite(v)) values.push(v);
  }
  if (values.length === 0) return { mean: point, lo: NaN, hi: NaN, n };
  values.sort((a, b) => a - b);
  const at = (q: number) => values[Math.min(values.length - 1, Math.max(0, Math.floor(q * values.length)))]!;
  return { mean: point, lo: at((1 - level) / 2), hi: at(1 - (1 - level) / 2), n };
}

/** `mean [lo, hi]`. */
export function formatCi(c: Ci | null | undefined, digits = 3): string {
  if (!c || !Number.isFinite(c.mean)) return '—';
  return `${c.mean.toFixed(digits)} [${c.lo.toFixed(digits)}, ${c.hi.toFixed(digits)}]`;
}
