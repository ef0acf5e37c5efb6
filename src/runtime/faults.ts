/**
 * Fault injection: `crash:ROLE@step=N`, `hang:ROLE@step=N`, `slow:ROLE=Kx`. A crash or hang
 * fires once, on the first piece of work of that role for learner step N (a sampler request
 * for step N, a verification of a step-N rollout, the learner's step N); `slow` multiplies the
 * role's compute time for the whole run.
 */
import { z } from 'zod';

export const FAULT_ROLES = ['sampler', 'verifier', 'learner'] as const;
export type FaultRole = (typeof FAULT_ROLES)[number];

export const FaultSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.enum(['crash', 'hang']), role: z.enum(FAULT_ROLES), step: z.number().int().min(1).max(1_000_000) }),
  z.object({ kind: z.literal('slow'), role: z.enum(FAULT_ROLES), factor: z.number().min(1).max(100) }),
]);
export type Fault = z.infer<typeof FaultSchema>;

const SPEC = /^(crash|hang):(sampler|verifier|learner)@step=(\d+)$|^slow:(sampler|verifier|learner)=(\d+(?:\.\d+)?)x$/;

export function parseFault(spec: string): Fault {
  const m = SPEC.exec(spec.trim());
  if (!m) throw new Error(`'${spec}': expected crash:ROLE@step=N, hang:ROLE@step=N or slow:ROLE=Kx with ROLE one of ${FAULT_ROLES.join(', ')}`);
  if (m[1]) return FaultSchema.parse({ kind: m[1], role: m[2], step: Number(m[3]) });
  return FaultSchema.parse({ kind: 'slow', role: m[4], factor: Number(m[5]) });
}

/** One-shot faults: `take` returns the fault for (role, step) once, then never again. */
export class FaultPlan {
  private readonly fired = new Set<string>();
  constructor(readonly faults: readonly Fault[]) {}

  take(role: FaultRole, step: number): 'crash' | 'hang' | null {
    for (const f of this.faults) {
      if (f.kind === 'slow' || f.role !== role || f.step !== step) continue;
      const key = `${f.kind}:${role}@${step}`;
      if (this.fired.has(key)) continue;
      this.fired.add(key);
      return f.kind;
    }
    return null;
  }

  slowFactor(role: FaultRole): number {
    return this.faults.reduce((x, f) => (f.kind === 'slow' && f.role === role ? x * f.factor : x), 1);
  }

  firedKeys(): string[] {
    return [...this.fired];
  }

  restoreFired(keys: readonly string[]): void {
    for (const k of keys) this.fired.add(k);
  }
}
