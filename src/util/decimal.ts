/**
 * `String(k / 1000)` for a whole number k ≥ 0, without V8's general double-to-text conversion
 * (the shortest digits that read back to the same double: ≈ 0.2–0.3 µs a number, which the
 * virtual clock's transitions.jsonl paid on every line for its time stamp). While k / 1000 is
 * below 2⁴³ its doubles are closer than half a thousandth, so the shortest text of k / 1000 is
 * k's digits with the point three places in and the trailing zeros of the fraction dropped: the
 * same bytes. From k = 8·10¹⁵ (253 years in µs) it takes the general conversion. test/sim.test.ts
 * compares the two over a million values.
 */
export function thousandthsText(k: number): string {
  if (k >= 8e15) return String(k / 1000);
  const whole = Math.floor(k / 1000);
  const f = k - whole * 1000;
  if (f === 0) return `${whole}`;
  if (f % 100 === 0) return `${whole}.${f / 100}`;
  if (f % 10 === 0) return `${whole}.${f < 100 ? '0' : ''}${f / 10}`;
  return `${whole}.${f < 10 ? '00' : f < 100 ? '0' : ''}${f}`;
}
