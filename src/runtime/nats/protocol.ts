/**
 * What crosses NATS for one run, and under which names (DESIGN: the same message schemas as the
 * worker threads use; only the carrier changes).
 *
 *   stream  E3SIM_<run>          subjects e3sim.<run>.work.{generate,verify,grade}   work queue, file storage
 *   durable consumers generate | verify | grade on it (pull; explicit ack; ack wait = redelivery deadline)
 *   stream  E3SIM_<run>_RESULTS  subjects e3sim.<run>.result.<kind>.<worker>      results, read by the coordinator
 *   object store e3sim_<run>_weights   one object per policy version, v<N> (chunked: no message-size limit)
 *   core    e3sim.<run>.hb.<worker>    heartbeats (role, pid, version) every HEARTBEAT_MS
 *   core    e3sim.<run>.info / e3sim.runs   request/reply: the run's model shape and settings
 */
import { z } from 'zod';
import { OverlongSchema } from '../../rl/overlong.js';
import { GenerateSchema, RolloutsSchema, VerdictSchema, type Generate } from '../messages.js';
import type { PackedWeights } from '../../tensor/pack.js';
import { GptConfigSchema } from '../../policy/transformer/config.js';

import { REMOTE_ROLES, type RemoteRole } from '../../core/roles.js';
export const KIND_OF_ROLE: Record<RemoteRole, WorkKind> = { sampler: 'generate', verifier: 'verify', grader: 'grade' };
export const WORK_KINDS = ['generate', 'verify', 'grade'] as const;
export type WorkKind = (typeof WORK_KINDS)[number];

export const HEARTBEAT_MS = 1_000;

/** A name made safe as one subject token and in stream names: letters, digits, '-' and '_' only. */
export function subjectToken(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
}

/** A run's id on NATS: its run directory's name, as a subject token. */
export const natsRunId = subjectToken;

export const names = (run: string) => ({
  stream: `E3SIM_${run}`,
  resultsStream: `E3SIM_${run}_RESULTS`,
  work: (k: WorkKind) => `e3sim.${run}.work.${k}`,
  result: (k: WorkKind, worker: string) => `e3sim.${run}.result.${k}.${subjectToken(worker)}`,
  results: `e3sim.${run}.result.>`,
  weights: `e3sim_${run}_weights`,
  heartbeat: (worker: string) => `e3sim.${run}.hb.${subjectToken(worker)}`,
  heartbeats: `e3sim.${run}.hb.*`,
  info: `e3sim.${run}.info`,
});
export const RUNS_SUBJECT = 'e3sim.runs';

export const RunInfoSchema = z.object({
  run: z.string(),
  gptConfig: GptConfigSchema,
  /** Roles the coordinator sends over NATS. */
  remote: z.array(z.enum(REMOTE_ROLES)),
  /** Redelivery deadline of work a worker took and did not ack (limits.natsAckWaitMs). */
  ackWaitMs: z.number().int().positive(),
  /**
   * How long one item may take before the coordinator gives up on it (its role's limits.*TimeoutMs):
   * a worker says "in progress" for at most this long, so a hung worker cannot hold an item longer.
   */
  itemTimeoutMs: z.record(z.string(), z.number().int().positive()).default({}),
});
export type RunInfo = z.infer<typeof RunInfoSchema>;

export const GenerateWorkSchema = GenerateSchema.extend({ weightsVersion: z.number().int().min(0) });
export type GenerateWork = Generate & { weightsVersion: number };

export const VerifyWorkSchema = z.object({
  numbers: z.array(z.number().int()),
  target: z.number().int(),
  completions: z.array(z.array(z.number().int())),
  fault: z.enum(['crash', 'hang']).nullable(),
  slowFactor: z.number().min(1),
  slowMs: z.number().int().min(0).max(600_000).default(0),
});

export const GradeWorkSchema = z.object({
  job: z
    .object({ jobId: z.string(), step: z.number().int(), problemId: z.string(), rollouts: z.array(z.unknown()) })
    .passthrough(),
  verdicts: z.array(VerdictSchema).nullable(),
  shaping: z.object({ budgetTokens: z.number().int().min(1), overlong: OverlongSchema }).optional(),
});

export const WorkSchema = z.object({
  kind: z.enum(['generate', 'verify', 'grade']),
  /** Identifies the work across re-issues: results are matched (and de-duplicated) by it. */
  id: z.string(),
  attempt: z.number().int().min(1),
  payload: z.unknown(),
});
export type Work = z.infer<typeof WorkSchema>;

export const ResultSchema = z.object({
  kind: z.enum(['generate', 'verify', 'grade']),
  id: z.string(),
  worker: z.string(),
  /** JetStream's delivery count of the work item (> 1: redelivered after a worker failed to ack it). */
  delivery: z.number().int().min(1),
  ok: z.boolean(),
  value: z.unknown().optional(),
  error: z.string().optional(),
});
export type WorkResult = z.infer<typeof ResultSchema>;

export const resultValueSchemas = {
  generate: RolloutsSchema,
  verify: VerdictSchema.array(),
  grade: z.unknown(),
} as const;

export const HeartbeatSchema = z.object({
  worker: z.string(),
  role: z.enum(REMOTE_ROLES),
  pid: z.number().int(),
  host: z.string(),
  version: z.number().int(),
  busy: z.boolean(),
});
export type Heartbeat = z.infer<typeof HeartbeatSchema>;

/** Weights as one blob: u32 manifest length, manifest JSON, then the float32 data (little endian). */
export function encodeWeights(w: PackedWeights): Uint8Array {
  const manifest = new TextEncoder().encode(JSON.stringify(w.manifest));
  const pad = (4 - ((4 + manifest.length) % 4)) % 4;
  const out = new Uint8Array(4 + manifest.length + pad + w.data.byteLength);
  new DataView(out.buffer).setUint32(0, manifest.length, true);
  out.set(manifest, 4);
  out.set(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength), 4 + manifest.length + pad);
  return out;
}

export function decodeWeights(b: Uint8Array, source: string): PackedWeights {
  if (b.length < 4) throw new Error(`${source}: weights blob of ${b.length} bytes`);
  const n = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
  const pad = (4 - ((4 + n) % 4)) % 4;
  const manifest = JSON.parse(new TextDecoder().decode(b.subarray(4, 4 + n)));
  const bytes = b.slice(4 + n + pad); // own, aligned buffer
  const data = new Float32Array(bytes.buffer, 0, bytes.byteLength / 4);
  // the manifest is checked against the data when the model loads it (unpackArrays)
  return { manifest, data };
}

/** A message body as JSON, or null when it is not JSON (the caller's schema check then rejects it). */
export function parseJsonBytes(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return null;
  }
}

/**
 * Runs `f` until it succeeds, up to `tries` times `delayMs` apart, through a server outage (the
 * client reconnects meanwhile); gives up early once `stop()` says so. `onRetry` hears the first
 * failure.
 */
export async function retrying<T>(
  f: () => Promise<T>,
  o: { tries: number; delayMs: number; stop?: () => boolean; onRetry?: (e: Error) => void },
): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await f();
    } catch (e) {
      if (i >= o.tries || o.stop?.()) throw e;
      if (i === 1) o.onRetry?.(e as Error);
      await new Promise((r) => setTimeout(r, o.delayMs));
    }
  }
}
