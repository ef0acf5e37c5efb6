/**
 * The cost model of the virtual clock: a hardware profile per actor kind (YAML) that turns a
 * unit of work — a sampling request, a verification, a training step, a weight transfer — into
 * a simulated duration in seconds. Durations are linear in the work's size, which is how the
 * throughput of these systems is usually described (a fixed launch cost per decode step plus a
 * cost per active sequence; a cost per trained token; latency plus bytes / bandwidth). Jitter is
 * a lognormal factor drawn from a seeded stream per work item, so a schedule is a pure function
 * of (seed, config, profile).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readYaml } from '../util/yaml.js';
import { z } from 'zod';
import { InputError } from '../util/errors.js';
import { zodIssues } from '../util/zodIssues.js';
import { Rng } from '../util/rng.js';
import { BUNDLE_DIR } from '../runtime/bundle.js';

const sec = z.number().min(0).max(1e6);

export const ProfileSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().default(''),
    /** Where the numbers come from (papers, datasheets, measurements with their command). */
    sources: z.array(z.string()).default([]),
    sampler: z
      .object({
        /** One prefill: fixed cost plus a cost per prompt token in the batch. */
        prefillFixedS: sec,
        prefillPerTokenS: sec,
        /** One decode step: fixed cost (launches, weight reads) plus a cost per active sequence. */
        decodeStepFixedS: sec,
        decodeStepPerRowS: sec,
        /** Speed multipliers per sampler, cycled over sampler-0, sampler-1, … (2 = twice as slow). */
        speeds: z.array(z.number().positive().max(1000)).min(1).default([1]),
        /** Lognormal sigma of a per-request duration factor (0 = none). */
        jitter: z.number().min(0).max(3).default(0),
        /** Seconds for a crashed or hung sampler to come back (process start, model load). */
        restartS: sec.default(1),
      })
      .strict(),
    verifier: z
      .object({
        perRolloutS: sec,
        jitter: z.number().min(0).max(3).default(0),
        restartS: sec.default(0.1),
      })
      .strict(),
    learner: z
      .object({
        /** One optimizer step: fixed cost plus a cost per trained token. */
        fixedS: sec,
        perTokenS: sec,
        jitter: z.number().min(0).max(3).default(0),
        restartS: sec.default(2),
      })
      .strict(),
    weights: z
      .object({
        /** Bytes moved per weight publication; 'model' = the trained model's packed size (4 bytes per parameter). */
        bytes: z.union([z.literal('model'), z.number().int().positive()]).default('model'),
        latencyS: sec,
        bandwidthBytesPerS: z.number().positive(),
      })
      .strict(),
    /** One hop of a control message (a delivery, an ack). */
    messageLatencyS: sec.default(0),
  })
  .strict();

export type Profile = z.infer<typeof ProfileSchema>;

/** examples/profiles, or `profiles/` beside the single-file build (scripts/bundle.mjs copies them). */
const BUILTIN_DIR = BUNDLE_DIR
  ? path.join(BUNDLE_DIR, 'profiles')
  : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/profiles');

export function builtinProfiles(): string[] {
  return fs
    .readdirSync(BUILTIN_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** A built-in profile by name (examples/profiles/NAME.yaml) or a YAML file path; `field` names the input in errors. */
export function loadProfile(nameOrFile: string, field: string, relativeTo = process.cwd()): Profile {
  const builtin = path.join(BUILTIN_DIR, `${nameOrFile}.yaml`);
  const file =
    /^[A-Za-z0-9._-]+$/.test(nameOrFile) && fs.existsSync(builtin) ? builtin : path.resolve(relativeTo, nameOrFile);
  if (!fs.existsSync(file))
    throw new InputError(
      `${field}: '${nameOrFile}' is neither a built-in profile (${builtinProfiles().join(', ')}) nor a file`,
    );
  return parseProfile(readYaml(file, field), `${field} (${file})`);
}

export function parseProfile(raw: unknown, source: string): Profile {
  const r = ProfileSchema.safeParse(raw);
  if (!r.success) throw new InputError(`${source}: ${zodIssues(r.error)}`);
  return r.data;
}

/**
 * exp(σ·Z), Z ~ N(0,1), from a stream keyed by the work item — (actor kind, attempt, step, index) — or 1
 * when σ = 0 (no draw at all).
 */
export function jitterFactor(
  sigma: number,
  seed: number,
  kind: number,
  attempt: number,
  step: number,
  index: number,
): number {
  if (sigma === 0) return 1;
  return Math.exp(sigma * scratch.reseed(seed, (kind << 24) ^ attempt, step, index).normal());
}

const scratch = Rng.fromInts(0, 0, 0, 0);

export class CostModel {
  constructor(
    readonly profile: Profile,
    readonly weightBytes: number,
    readonly seed: number,
  ) {}

  samplerSpeed(index: number): number {
    const s = this.profile.sampler.speeds;
    return s[index % s.length]!;
  }

  /**
   * Seconds from the start of a generation until completion position `position` has its logits,
   * for a batch whose rows generate `lengths` tokens (a finished row stops costing).
   */
  decodeOffset(promptTokens: number, lengths: ArrayLike<number>, position: number): number {
    const s = this.profile.sampler;
    let rowsTokens = 0;
    for (let i = 0; i < lengths.length; i++) rowsTokens += Math.min(lengths[i]!, position);
    return (
      s.prefillFixedS +
      s.prefillPerTokenS * promptTokens +
      position * s.decodeStepFixedS +
      rowsTokens * s.decodeStepPerRowS
    );
  }

  /** A whole generation: prefill, then decode steps until the longest row stops. */
  generateSeconds(promptTokens: number, maxLength: number, totalTokens: number): number {
    const s = this.profile.sampler;
    return (
      s.prefillFixedS +
      s.prefillPerTokenS * promptTokens +
      maxLength * s.decodeStepFixedS +
      totalTokens * s.decodeStepPerRowS
    );
  }

  verifySeconds(rollouts: number): number {
    return this.profile.verifier.perRolloutS * rollouts;
  }

  trainSeconds(tokens: number): number {
    return this.profile.learner.fixedS + this.profile.learner.perTokenS * tokens;
  }

  transferSeconds(): number {
    const w = this.profile.weights;
    return w.latencyS + this.weightBytes / w.bandwidthBytesPerS;
  }
}
