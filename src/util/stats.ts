/** Small summaries shared by benchmarks, experiments, scenarios and reports. */

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Mean, min and max over seeds (or repeats); null for no values. */
export interface Spread { mean: number; min: number; max: number; n: number }

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
