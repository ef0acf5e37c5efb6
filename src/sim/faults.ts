/**
 * Fault plans of the virtual clock: crash, hang or slow any actor at a simulated time or at the
 * first piece of work for a learner step; delay or drop a weight publication; stall the grader
 * pool; random fault storms (a Poisson process with a rate per simulated second, drawn from the
 * seeded stream `storm/SEED/i`). The `--inject` grammar of `e3sim train` maps onto these.
 */
import { z } from 'zod';
import { InputError } from '../util/errors.js';
import { PUBLICATION_RETRY_MS, parseFault } from '../runtime/faults.js';

const ROLES = ['sampler', 'verifier', 'learner'] as const;
export type SimRole = (typeof ROLES)[number];

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
      roles: z.array(z.enum(ROLES)).min(1).default(['sampler']),
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

export function parseSimFaults(raw: unknown, source: string): SimFault[] {
  const r = z.array(SimFaultSchema).safeParse(raw ?? []);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new InputError(`${source}: faults.${i.path.join('.')}: ${i.message}`);
  }
  return r.data;
}

/** The train config's `--inject` / `faults:` strings as virtual-clock faults. */
export function faultsFromSpecs(specs: readonly string[]): SimFault[] {
  return specs.map((s): SimFault => {
    const f = parseFault(s);
    if (f.kind === 'delay-publication') return { kind: 'delay-publication', version: f.version, by: f.ms / 1000 };
    if (f.kind === 'drop-publication')
      return { kind: 'drop-publication', version: f.version, retryAfter: PUBLICATION_RETRY_MS / 1000 };
    if (f.role === 'grader') {
      throw new InputError(
        `'${s}': the virtual clock models the graders as a pool that can stall; write {kind: stall, actor: graders, at: {time: T}, for: S} in a scenario's faults instead`,
      );
    }
    if (f.kind === 'slow') return { kind: 'slow', actor: f.role, factor: f.factor, at: { time: 0 } };
    return { kind: f.kind, actor: f.role, at: { step: f.step } };
  });
}

/** Role and index (null = any) of an actor name. */
export function actorOf(name: string): { role: SimRole; index: number | null } {
  const m = /^(sampler|verifier|learner)(?:-(\d+))?$/.exec(name)!;
  return { role: m[1] as SimRole, index: m[2] === undefined ? null : Number(m[2]) };
}
