/**
 * Optimisers for parameters that live on the host (the p^k bigram's table): plain SGD and Adam
 * (Kingma & Ba, with bias correction; β1 0.9, β2 0.999, ε 1e-8 as in PyTorch). Parameters are a
 * row-major table; a step names the rows whose gradient may be non-zero and returns the rows it
 * changed, so the caller refreshes only those. Adam also moves rows with no gradient in this step
 * (their moments are not zero); it tracks them exactly: a row never touched has m = v = 0 and
 * does not move.
 */
export interface HostOptimizer {
  readonly kind: 'sgd' | 'adam';
  /** Parameters per row. */
  readonly rowLength: number;
  /** params ← step(params, grad); `rows` may carry a non-zero gradient. Returns the rows changed. */
  step(params: Float64Array, grad: Float64Array, rows: Iterable<number>): number[];
}

export class HostSgd implements HostOptimizer {
  readonly kind = 'sgd';
  constructor(
    readonly lr: number,
    readonly rowLength: number,
  ) {}

  step(params: Float64Array, grad: Float64Array, rows: Iterable<number>): number[] {
    const out = [...rows];
    const L = this.rowLength;
    for (const r of out) for (let j = r * L; j < (r + 1) * L; j++) params[j]! -= this.lr * grad[j]!;
    return out;
  }
}

export class HostAdam implements HostOptimizer {
  readonly kind = 'adam';
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  /** Rows with a non-zero moment (they keep moving). */
  private readonly active = new Set<number>();
  private t = 0;

  constructor(
    readonly lr: number,
    readonly rowLength: number,
    size: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly eps = 1e-8,
  ) {
    if (size % rowLength !== 0)
      throw new RangeError(`HostAdam: ${size} parameters do not split into rows of ${rowLength}`);
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }

  /** Steps taken. */
  get steps(): number {
    return this.t;
  }

  step(params: Float64Array, grad: Float64Array, rows: Iterable<number>): number[] {
    for (const r of rows) this.active.add(r);
    this.t++;
    const { beta1: b1, beta2: b2, eps, lr, m, v } = this;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    const L = this.rowLength;
    for (const r of this.active) {
      for (let j = r * L; j < (r + 1) * L; j++) {
        const g = grad[j]!;
        const mj = (m[j] = b1 * m[j]! + (1 - b1) * g);
        const vj = (v[j] = b2 * v[j]! + (1 - b2) * g * g);
        params[j]! -= (lr * (mj / c1)) / (Math.sqrt(vj / c2) + eps);
      }
    }
    return [...this.active];
  }
}
