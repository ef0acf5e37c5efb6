/**
 * Difficulty buckets from measured pass rates (E3.md: "difficulty buckets are set by the pass
 * rate of a reference policy (easy / medium / hard thirds; hard = pass@32 of 0)"), not from the
 * number count alone.
 *
 * Rule (ours where the paper is silent): every problem the reference never solves
 * (pass@k = 0, k = the measurement's k) is hard; the others are ranked by pass rate, and the
 * thirds of the whole pool by rank fill easy (top), then medium, then hard — so `hard` holds at
 * least the unsolved problems and at least a third when enough are unsolved. Ties keep the
 * pool's order (deterministic).
 */
export type Bucket = 'easy' | 'medium' | 'hard';

export interface Measured {
  id: string;
  /** Fraction of samples correct. */
  passRate: number;
  /** pass@k (unbiased) at the measurement's k. */
  passAtK: number;
}

export function bucketByPassRate(items: readonly Measured[]): Map<string, Bucket> {
  const out = new Map<string, Bucket>();
  const third = Math.ceil(items.length / 3);
  const solved = items.filter((x) => x.passAtK > 0);
  for (const x of items) if (x.passAtK === 0) out.set(x.id, 'hard');
  const ranked = solved
    .map((x, i) => ({ x, i }))
    .sort((a, b) => b.x.passRate - a.x.passRate || a.i - b.i)
    .map((r) => r.x);
  const hardLeft = Math.max(0, third - (items.length - solved.length));
  ranked.forEach((x, rank) => {
    let b: Bucket = rank < third ? 'easy' : 'medium';
    if (rank >= ranked.length - hardLeft) b = 'hard';
    out.set(x.id, b);
  });
  return out;
}

export interface BucketSummary {
  bucket: Bucket;
  problems: number;
  meanPassRate: number;
}

export function summarizeBuckets(items: readonly Measured[], buckets: ReadonlyMap<string, Bucket>): BucketSummary[] {
  return (['easy', 'medium', 'hard'] as const).map((bucket) => {
    const xs = items.filter((x) => buckets.get(x.id) === bucket);
    return {
      bucket,
      problems: xs.length,
      meanPassRate: xs.length ? xs.reduce((s, x) => s + x.passRate, 0) / xs.length : 0,
    };
  });
}
