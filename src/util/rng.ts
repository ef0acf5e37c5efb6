/**
 * The one seeded random number generator of e3sim (sfc32: small, fast, 128-bit state,
 * passes PractRand at the sizes we use). All randomness in core code comes from an `Rng`
 * that the caller passes in; `fork(label)` derives an independent stream so that adding a
 * draw in one place never shifts the draws of another.
 */
export type RngState = readonly [number, number, number, number];

export class Rng {
  /**
   * The four state words a, b, c, d as int32. (In four number fields the words that leave V8's
   * small-integer range are boxed: each draw measured 3–4× slower than in a typed array. Every
   * operation on them is modulo 2³², so the draws are the same.)
   */
  private readonly s = new Int32Array(4);

  constructor(seed: number | string | RngState) {
    if (Array.isArray(seed)) {
      this.s.set(seed as RngState);
      return;
    }
    this.s.set(hash32x4(String(seed)));
    this.skip(12); // warm up
  }

  /**
   * A generator keyed by a few integers (no string hashing: for hot paths such as the virtual
   * clock's per-work-item draws). Each key word is mixed with murmur3's finaliser.
   */
  static fromInts(a: number, b: number, c: number, d: number): Rng {
    return new Rng(ZERO).reseed(a, b, c, d);
  }

  /** Re-keys this generator in place, exactly as `Rng.fromInts(a, b, c, d)` (no allocation). */
  reseed(a: number, b: number, c: number, d: number): this {
    const s = this.s;
    s[0] = fmix(a ^ 0x9e3779b9);
    s[1] = fmix(b ^ 0x85ebca6b);
    s[2] = fmix(c ^ 0xc2b2ae35);
    s[3] = fmix(d ^ 0x27d4eb2f) | 1;
    this.skip(8);
    return this;
  }

  /**
   * n draws dropped, the state held in locals meanwhile: nextU32's round written a second time, on
   * purpose — reseed's eight draws this way measured generate at 96–102 ms against 118–123 by calling
   * nextU32 (bench/surrogate-draws.ts, 7 repeats each).
   */
  private skip(n: number): void {
    const s = this.s;
    let a = s[0]!,
      b = s[1]!,
      c = s[2]!,
      d = s[3]!;
    for (let i = 0; i < n; i++) {
      const t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) | 0;
    }
    s[0] = a;
    s[1] = b;
    s[2] = c;
    s[3] = d;
  }

  /** A new generator whose stream depends on this one's seed state and `label` only. */
  fork(label: string | number): Rng {
    const s = this.s;
    return new Rng(`${s[0]},${s[1]},${s[2]},${s[3]}/${label}`);
  }

  /** The state words, as int32. */
  state(): RngState {
    const s = this.s;
    return [s[0]!, s[1]!, s[2]!, s[3]!];
  }

  nextU32(): number {
    const s = this.s;
    const a = s[0]!,
      b = s[1]!,
      c = s[2]!,
      d = s[3]!;
    const t = (((a + b) | 0) + d) | 0;
    s[3] = (d + 1) | 0;
    s[0] = b ^ (b >>> 9);
    s[1] = (c + (c << 3)) | 0;
    s[2] = (((c << 21) | (c >>> 11)) + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 53 bits. */
  float(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!(n >= 1) || !Number.isInteger(n)) throw new RangeError(`Rng.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.float() * n);
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  bernoulli(p: number): boolean {
    return this.float() < p;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = this.float();
    while (u <= 0) u = this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new RangeError('Rng.pick: empty array');
    return xs[this.int(xs.length)]!;
  }

  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  }

  /** Index drawn from unnormalised non-negative weights. */
  categorical(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i]!;
    let u = this.float() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i]!;
      if (u < 0) return i;
    }
    // Float round-off: return the last index with positive weight.
    for (let i = weights.length - 1; i >= 0; i--) if (weights[i]! > 0) return i;
    throw new RangeError('Rng.categorical: all weights are zero');
  }
}

/** FNV-1a based 4x32-bit hash (for seeding and for stable splits; not cryptographic). */
export function hash32x4(s: string): [number, number, number, number] {
  const out: [number, number, number, number] = [0, 0, 0, 0];
  for (let k = 0; k < 4; k++) {
    let h = (2166136261 ^ Math.imul(k + 1, 0x9e3779b9)) >>> 0;
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 16777619) >>> 0;
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
    out[k] = h >>> 0;
  }
  return out;
}

export function hash32(s: string): number {
  return hash32x4(s)[0];
}

const ZERO: RngState = [0, 0, 0, 0];

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
