/**
 * Fault injection on the real clock (`--inject`, config `faults:`):
 *   crash:ROLE@step=N    the role's first piece of work for learner step N fails once
 *   hang:ROLE@step=N     it never answers (the role's timeout fires, then as a crash)
 *   slow:ROLE=Kx         every piece of work of the role takes K times as long
 *   delay:publication@version=N=MSms   weights version N reach the samplers MS ms late
 *   drop:publication@version=N         the publication of version N is lost once and sent
 *                                      again after PUBLICATION_RETRY_MS
 * ROLE is sampler, verifier, grader or learner. The virtual clock's richer plans (times, actor
 * indices, storms) are in src/sim/faults.ts; this grammar maps onto them.
 */
import { z } from 'zod';

export const FAULT_ROLES = ['sampler', 'verifier', 'grader', 'learner'] as const;
export type FaultRole = (typeof FAULT_ROLES)[number];

/** How long a dropped weight publication takes to be sent again. */
export const PUBLICATION_RETRY_MS = 1000;

export const FaultSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.enum(['crash', 'hang']),
    role: z.enum(FAULT_ROLES),
    step: z.number().int().min(1).max(1_000_000),
  }),
  z.object({ kind: z.literal('slow'), role: z.enum(FAULT_ROLES), factor: z.number().min(1).max(100) }),
  z.object({
    kind: z.literal('delay-publication'),
    version: z.number().int().min(1).max(1_000_000),
    ms: z.number().int().min(1).max(3_600_000),
  }),
  z.object({ kind: z.literal('drop-publication'), version: z.number().int().min(1).max(1_000_000) }),
]);
export type Fault = z.infer<typeof FaultSchema>;

const ROLE = FAULT_ROLES.join('|');
const SPEC = new RegExp(
  `^(crash|hang):(${ROLE})@step=(\\d+)$|^slow:(${ROLE})=(\\d+(?:\\.\\d+)?)x$|^delay:publication@version=(\\d+)=(\\d+)ms$|^drop:publication@version=(\\d+)$`,
);

export function parseFault(spec: string): Fault {
  const m = SPEC.exec(spec.trim());
  if (!m)
    throw new Error(
      `'${spec}': expected crash:ROLE@step=N, hang:ROLE@step=N, slow:ROLE=Kx (ROLE one of ${FAULT_ROLES.join(', ')}), delay:publication@version=N=MSms or drop:publication@version=N`,
    );
  if (m[1]) return FaultSchema.parse({ kind: m[1], role: m[2], step: Number(m[3]) });
  if (m[4]) return FaultSchema.parse({ kind: 'slow', role: m[4], factor: Number(m[5]) });
  if (m[6]) return FaultSchema.parse({ kind: 'delay-publication', version: Number(m[6]), ms: Number(m[7]) });
  return FaultSchema.parse({ kind: 'drop-publication', version: Number(m[8]) });
}

/** One-shot faults: `take` returns the fault for (role, step) once, then never again. */
export class FaultPlan {
  private readonly fired = new Set<string>();
  constructor(readonly faults: readonly Fault[]) {}

  take(role: FaultRole, step: number): 'crash' | 'hang' | null {
    for (const f of this.faults) {
      if ((f.kind !== 'crash' && f.kind !== 'hang') || f.role !== role || f.step !== step) continue;
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

  /** How late the publication of `version` goes out (0: on time), and whether it was dropped first; once. */
  publication(version: number): { delayMs: number; dropped: boolean } {
    let delayMs = 0,
      dropped = false;
    for (const f of this.faults) {
      if ((f.kind !== 'delay-publication' && f.kind !== 'drop-publication') || f.version !== version) continue;
      const key = `${f.kind}@${version}`;
      if (this.fired.has(key)) continue;
      this.fired.add(key);
      if (f.kind === 'delay-publication') delayMs += f.ms;
      else {
        dropped = true;
        delayMs += PUBLICATION_RETRY_MS;
      }
    }
    return { delayMs, dropped };
  }

  firedKeys(): string[] {
    return [...this.fired];
  }

  restoreFired(keys: readonly string[]): void {
    for (const k of keys) this.fired.add(k);
  }
}
