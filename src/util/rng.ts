/**
 * The one seeded random number generator of e3sim (sfc32: small, fast, 128-bit state,
 * passes PractRand at the sizes we use). All randomness in core code comes from an `Rng`
 * that the caller passes in; `fork(label)` derives an independent stream so that adding a
 * draw in one place never shifts the draws of another.
 */
export type RngState = readonly [number, number, number, number];

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number | string | RngState) {
    if (Array.isArray(seed)) {
      const st = seed as RngState;
      this.a = st[0] >>> 0;
      this.b = st[1] >>> 0;
      this.c = st[2] >>> 0;
      this.d = st[3] >>> 0;
      return;
    }
    const h = hash32x4(String(seed));
    [this.a, this.b, this.c, this.d] = h;
    for (let i = 0; i < 12; i++) this.nextU32(); // warm up
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
    this.a = fmix(a ^ 0x9e3779b9);
    this.b = fmix(b ^ 0x85ebca6b);
    this.c = fmix(c ^ 0xc2b2ae35);
    this.d = (fmix(d ^ 0x27d4eb2f) | 1) >>> 0;
    for (let i = 0; i < 8; i++) this.nextU32();
    return this;
  }

  /** A new generator whose stream depends on this one's seed state and `label` only. */
  fork(label: string | number): Rng {
    return new Rng(`${this.a},${this.b},${this.c},${this.d}/${label}`);
  }

  state(): RngState {
    return [this.a, this.b, this.c, this.d];
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
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
