/**
 * The one fault grammar. Specs (`--inject`, config `faults:`), understood by both clocks:
 *   crash:ROLE@step=N    the role's first piece of work for learner step N fails once
 *   hang:ROLE@step=N     it never answers (the role's timeout fires, then as a crash)
 *   slow:ROLE=Kx         every piece of work of the role takes K times as long
 *   slow:ROLE=+MSms      every piece of work of the role takes MS ms longer
 *   delay:publication@version=N=MSms   weights version N reach the samplers MS ms late
 *   drop:publication@version=N         the publication of version N is lost once and sent
 *                                      again after PUBLICATION_RETRY_MS
 * ROLE is sampler, verifier, grader or learner. Scenarios on the virtual clock can also write
 * richer plans (SimFaultSchema below: simulated times, actor indices, grader stalls, seeded fault
 * storms); `faultsFromSpecs` maps the spec grammar onto them.
 */
import { z } from 'zod';
import { InputError } from '../util/errors.js';

import { FAULT_ROLES, SIM_FAULT_ROLES, type FaultRole, type SimRole } from './roles.js';

/** How long a dropped weight publication takes to be sent again. */
export const PUBLICATION_RETRY_MS = 1000;

export const FaultSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.enum(['crash', 'hang']),
    role: z.enum(FAULT_ROLES),
    step: z.number().int().min(1).max(1_000_000),
  }),
  z.object({
    kind: z.literal('slow'),
    role: z.enum(FAULT_ROLES),
    factor: z.number().min(1).max(100),
    /** Milliseconds added to each piece of work (`slow:ROLE=+MSms`): the same on any machine, where a factor is not. */
    addMs: z.number().int().min(0).max(600_000).default(0),
  }),
  z.object({
    kind: z.literal('delay-publication'),
    version: z.number().int().min(1).max(1_000_000),
    ms: z.number().int().min(1).max(3_600_000),
  }),
  z.object({ kind: z.literal('drop-publication'), version: z.number().int().min(1).max(1_000_000) }),
  /**
   * An invariant breaks inside step N's batch forming (the rule every clock runs in core): the run
   * must abort the same way on both clocks — last checkpoint kept, exit 1, a message naming it.
   */
  z.object({ kind: z.literal('break-invariant'), step: z.number().int().min(1).max(1_000_000) }),
]);
export type Fault = z.infer<typeof FaultSchema>;

const ROLE = FAULT_ROLES.join('|');
const SPEC = new RegExp(
  `^(crash|hang):(${ROLE})@step=(\\d+)$|^slow:(${ROLE})=(?:(\\d+(?:\\.\\d+)?)x|\\+(\\d+)ms)$|^delay:publication@version=(\\d+)=(\\d+)ms$|^drop:publication@version=(\\d+)$|^break:batch@step=(\\d+)$`,
);

export function parseFault(spec: string): Fault {
  const m = SPEC.exec(spec.trim());
  if (!m)
    throw new Error(
      `'${spec}': expected crash:ROLE@step=N, hang:ROLE@step=N, slow:ROLE=Kx, slow:ROLE=+MSms (ROLE one of ${FAULT_ROLES.join(', ')}), delay:publication@version=N=MSms, drop:publication@version=N or break:batch@step=N`,
    );
  if (m[1]) return checked(spec, { kind: m[1], role: m[2], step: Number(m[3]) });
  if (m[4])
    return checked(spec, {
      kind: 'slow',
      role: m[4],
      ...(m[5] === undefined ? { factor: 1, addMs: Number(m[6]) } : { factor: Number(m[5]) }),
    });
  if (m[7]) return checked(spec, { kind: 'delay-publication', version: Number(m[7]), ms: Number(m[8]) });
  if (m[9]) return checked(spec, { kind: 'drop-publication', version: Number(m[9]) });
  return checked(spec, { kind: 'break-invariant', step: Number(m[10]) });
}

/** A parsed spec's values in their ranges, or an error naming the spec, the value and its range (not zod's JSON). */
function checked(spec: string, f: Record<string, unknown>): Fault {
  const r = FaultSchema.safeParse(f);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new Error(`'${spec}': ${i.path.join('.')}: ${i.message.replace(/^Too (big|small): /, '')}`);
}

/** The message of an injected invariant break (the same on both clocks). */
export function brokenInvariantMessage(step: number): string {
  return `invariant broken in batch forming of step ${step} (injected: break:batch@step=${step})`;
}

/** The steps whose batch forming an injected `break-invariant` fault breaks (either clock's fault list). */
export function brokenSteps(faults: readonly { kind: string; step?: unknown }[]): number[] {
  return faults.flatMap((f) => (f.kind === 'break-invariant' ? [f.step as number] : []));
}

/** An actor's name on either clock: `sampler-1`, `verifier-0`, and the one `learner` and `grader`. */
export function actorName(role: FaultRole, index: number): string {
  return role === 'learner' || role === 'grader' ? role : `${role}-${index}`;
}

/** How many actors a role has in a topology: its samplers, its verifier threads, the one learner and grader. */
export function roleSize(role: FaultRole, topology: { samplers: number; verifierThreads: number }): number {
  return role === 'sampler' ? topology.samplers : role === 'verifier' ? topology.verifierThreads : 1;
}

/**
 * The name a fired fault is recorded under on both clocks (summary.json `faultsFired`, the `fault`
 * line of metrics.jsonl): the spec with the actor that took it, `crash:sampler-1@step=3`, or the
 * publication's, `delay:publication@version=4`; a fault at a moment by its time in seconds (to the
 * µs), `slow:sampler-0@t=0` (a slowdown in force from the start), a scenario's `crash:verifier-0@t=12.5`.
 */
export function firedName(
  f:
    | { kind: 'crash' | 'hang'; actor: string; step: number }
    | { kind: string; actor: string; time: number }
    | { kind: PublicationFault; version: number },
): string {
  if ('step' in f) return `${f.kind}:${f.actor}@step=${f.step}`;
  if ('time' in f) return `${f.kind}:${f.actor}@t=${Math.round(f.time * 1e6) / 1e6}`;
  return `${f.kind === 'delay-publication' ? 'delay' : 'drop'}:publication@version=${f.version}`;
}
type PublicationFault = 'delay-publication' | 'drop-publication';

/** The one-shot key of a fired fault's name (a checkpoint's `faultsFired`; an older checkpoint's are keys already). */
function oneShotKey(name: string): string {
  const step = /^(crash|hang):([a-z]+?)(?:-\d+)?@step=(\d+)$/.exec(name);
  if (step) return `${step[1]}:${step[2]}@${step[3]}`;
  const pub = /^(delay|drop):publication@version=(\d+)$/.exec(name);
  return pub ? `${pub[1]}-publication@${pub[2]}` : name;
}

/**
 * One-shot faults: `take` returns the fault for (role, step) once, then never again, whichever
 * actor asks; each fired fault is named (`firedName`) and told to `onFired` (the run's line).
 */
export class FaultPlan {
  /** One-shot keys: `crash:sampler@3`, `delay-publication@2` (the actor left out). */
  private readonly fired = new Set<string>();
  private readonly names: string[] = [];
  onFired?: (name: string) => void;
  constructor(readonly faults: readonly Fault[]) {}

  /** The crash or hang planned for `role`'s first work of `step`, once; `actor` is who took it. */
  take(role: FaultRole, step: number, actor: string): 'crash' | 'hang' | null {
    for (const f of this.faults) {
      if ((f.kind !== 'crash' && f.kind !== 'hang') || f.role !== role || f.step !== step) continue;
      if (!this.fire(`${f.kind}:${role}@${step}`, firedName({ kind: f.kind, actor, step }))) continue;
      return f.kind;
    }
    return null;
  }

  private fire(key: string, name: string): boolean {
    if (this.fired.has(key)) return false;
    this.fired.add(key);
    this.names.push(name);
    this.onFired?.(name);
    return true;
  }

  /**
   * A new run's slowdowns, in force from its start: each recorded as fired for every actor of its
   * role, `slow:sampler-0@t=0`, as the virtual clock records its slowdowns at time 0.
   */
  startSlowdowns(actors: (role: FaultRole) => readonly string[]): void {
    this.faults.forEach((f, i) => {
      if (f.kind !== 'slow') return;
      for (const actor of actors(f.role)) this.fire(`slow#${i}:${actor}`, firedName({ kind: 'slow', actor, time: 0 }));
    });
  }

  /** The role's slowdown, as its work messages carry it: factors multiply, added milliseconds add up. */
  slowness(role: FaultRole): { slowFactor: number; slowMs: number } {
    let slowFactor = 1,
      slowMs = 0;
    for (const f of this.faults)
      if (f.kind === 'slow' && f.role === role) {
        slowFactor *= f.factor;
        slowMs += f.addMs;
      }
    return { slowFactor, slowMs };
  }

  /** How late the publication of `version` goes out (0: on time), and whether it was dropped first; once. */
  publication(version: number): { delayMs: number; dropped: boolean } {
    let delayMs = 0,
      dropped = false;
    for (const f of this.faults) {
      if ((f.kind !== 'delay-publication' && f.kind !== 'drop-publication') || f.version !== version) continue;
      if (!this.fire(`${f.kind}@${version}`, firedName({ kind: f.kind, version }))) continue;
      if (f.kind === 'delay-publication') delayMs += f.ms;
      else {
        dropped = true;
        delayMs += PUBLICATION_RETRY_MS;
      }
    }
    return { delayMs, dropped };
  }

  /** What fired, in order (`firedName`): summary.json and the checkpoints keep it. */
  firedNames(): string[] {
    return [...this.names];
  }

  /** A checkpoint's `faultsFired`: they do not fire again (an older checkpoint's hold the one-shot keys). */
  restoreFired(names: readonly string[]): void {
    for (const n of names) {
      this.fired.add(oneShotKey(n));
      this.names.push(n);
    }
  }
}

// ── the virtual clock's plans ──────────────────────────────────────────────────────────

/** `sampler` (any / every sampler), `sampler-3`, `verifier`, `verifier-0`, `learner`. */
const ActorName = z
  .string()
  .regex(/^(sampler|verifier)(-\d+)?$|^learner$/, 'expected sampler, sampler-N, verifier, verifier-N or learner');
const At = z.union([
  z.object({ time: z.number().min(0) }).strict(),
  z.object({ step: z.number().int().min(1) }).strict(),
]);

export const SimFaultSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.enum(['crash', 'hang']), actor: ActorName, at: At }).strict(),
  z
    .object({
      kind: z.literal('slow'),
      actor: ActorName,
      factor: z.number().min(1).max(1000),
      at: z
        .object({ time: z.number().min(0) })
        .strict()
        .default({ time: 0 }),
      /** Simulated seconds the slowdown lasts (for ever when absent). */
      for: z.number().positive().optional(),
      /** Simulated seconds added to each piece of the actor's work (the spec's `slow:ROLE=+MSms`). */
      addSeconds: z.number().min(0).max(600).optional(),
    })
    .strict(),
  z
    .object({ kind: z.literal('delay-publication'), version: z.number().int().min(1), by: z.number().positive() })
    .strict(),
  /** The publication of `version` is lost; the learner re-sends it after `retryAfter` simulated seconds. */
  z
    .object({
      kind: z.literal('drop-publication'),
      version: z.number().int().min(1),
      retryAfter: z.number().positive().default(1),
    })
    .strict(),
  z.object({ kind: z.literal('break-invariant'), step: z.number().int().min(1) }).strict(),
  z
    .object({
      kind: z.literal('stall'),
      actor: z.literal('graders'),
      at: z.object({ time: z.number().min(0) }).strict(),
      for: z.number().positive(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('storm'),
      /** Faults per simulated second. */
      rate: z.number().positive().max(1e6),
      kinds: z
        .array(z.enum(['crash', 'hang', 'slow']))
        .min(1)
        .default(['crash']),
      roles: z.array(z.enum(SIM_FAULT_ROLES)).min(1).default(['sampler']),
      from: z.number().min(0).default(0),
      until: z.number().positive(),
      slowFactor: z.number().min(1).max(1000).default(4),
      slowFor: z.number().positive().default(5),
      /** At most this many faults from this storm. */
      max: z.number().int().min(1).max(100_000).default(1000),
    })
    .strict(),
]);
export type SimFault = z.infer<typeof SimFaultSchema>;
/** A fault as written (defaults not yet filled in). */
export type SimFaultInput = z.input<typeof SimFaultSchema>;

/** The train config's `--inject` / `faults:` strings as virtual-clock faults. */
export function faultsFromSpecs(specs: readonly string[]): SimFault[] {
  return specs.map((s): SimFault => {
    const f = parseFault(s);
    if (f.kind === 'delay-publication') return { kind: 'delay-publication', version: f.version, by: f.ms / 1000 };
    if (f.kind === 'drop-publication')
      return { kind: 'drop-publication', version: f.version, retryAfter: PUBLICATION_RETRY_MS / 1000 };
    if (f.kind === 'break-invariant') return f;
    if (f.role === 'grader') {
      throw new InputError(
        `'${s}': the virtual clock models the graders as a pool that can stall; write {kind: stall, actor: graders, at: {time: T}, for: S} in a scenario's faults instead`,
      );
    }
    if (f.kind === 'slow')
      return {
        kind: 'slow',
        actor: f.role,
        factor: f.factor,
        at: { time: 0 },
        ...(f.addMs > 0 ? { addSeconds: f.addMs / 1000 } : {}),
      };
    return { kind: f.kind, actor: f.role, at: { step: f.step } };
  });
}

/** Role and index (null = any) of an actor name. */
export function actorOf(name: string): { role: SimRole; index: number | null } {
  const m = /^(sampler|verifier|learner)(?:-(\d+))?$/.exec(name)!;
  return { role: m[1] as SimRole, index: m[2] === undefined ? null : Number(m[2]) };
}
