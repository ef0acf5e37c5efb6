/**
 * pass@k with the unbiased estimator of Chen et al. (2021), as E3.md uses it:
 * for n samples of which c are correct, pass@k = 1 − C(n−c, k) / C(n, k).
 * Computed as a running product so that large n never overflows.
 */
export function passAtK(n: number, c: number, k: number): number {
  if (!Number.isInteger(n) || !Number.isInteger(c) || !Number.isInteger(k))
    throw new RangeError(`passAtK: integers expected, got n=${n} c=${c} k=${k}`);
  if (k < 1 || k > n) throw new RangeError(`passAtK: need 1 <= k <= n, got k=${k} n=${n}`);
  if (c < 0 || c > n) throw new RangeError(`passAtK: need 0 <= c <= n, got c=${c} n=${n}`);
  if (n - c < k) return 1;
  // C(n−c, k) / C(n, k) = Π_{i=n−c+1}^{n} (1 − k / i)
  let ratio = 1;
  for (let i = n - c + 1; i <= n; i++) ratio *= 1 - k / i;
  return 1 - ratio;
}

/** Mean pass@k over problems, each given as [n, c]. */
export function meanPassAtK(counts: readonly (readonly [number, number])[], k: number): number {
  if (counts.length === 0) return 0;
  return counts.reduce((s, [n, c]) => s + passAtK(n, c, k), 0) / counts.length;
}
