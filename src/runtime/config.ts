/**
 * The `e3sim train` config: YAML (or JSON) validated by zod. Every error names the file, the
 * field path and what was expected (exit 2). Defaults make a small config short.
 */
import { readYaml } from '../util/yaml.js';
import { z } from 'zod';
import { CorrectionSchema, type LossConfig } from '../rl/lossConfig.js';
import { MismatchSchema, mismatchActive } from '../policy/mismatch.js';
import { OverlongSchema } from '../rl/overlong.js';
import { DynamicSamplingSchema } from '../core/dynamicSampling.js';
import { KvPolicySchema } from '../policy/kvPolicy.js';
import { zodIssues } from '../util/zodIssues.js';
import { BACKENDS } from '../tensor/backendNames.js';
import { InputError } from '../util/errors.js';
import { FaultSchema, parseFault } from '../core/faults.js';
import { STALENESS_POLICIES, etaOf } from '../core/staleness.js';
import { REMOTE_ROLES } from '../core/roles.js';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);

/** Learner steps in a run, and in any one stage: at most a million. */
export const MAX_STEPS = 1_000_000;
/** Any one timeout: at most a day. */
const TIMEOUT_MAX_MS = 86_400_000;

export const BUCKETS = ['easy', 'medium', 'hard'] as const;

export const StageSchema = z
  .object({
    /** The stage's data: a number count, or difficulty buckets measured on the starting policy (curriculum.pool). */
    difficulty: int(3, 6).optional(),
    buckets: z.array(z.enum(BUCKETS)).min(1).optional(),
    /**
     * Fixed budget (required unless curriculum.kind is coupled, which picks it); the real model clamps it to its
     * context.
     */
    budgetTokens: int(1, 65_536).optional(),
    /** Learner steps in this stage (the most, when passThreshold or plateau can end it earlier). */
    steps: int(1, MAX_STEPS),
    /** Move on once the mean pass rate of the last plateau.window steps reaches this. */
    passThreshold: z.number().min(0).max(1).optional(),
    /** Move on once the mean pass rate over a window gains less than minGain over the window before it. */
    plateau: z
      .object({ window: int(1, 1000), minGain: z.number().min(0) })
      .strict()
      .optional(),
  })
  .strict();

export const CurriculumSchema = z
  .object({
    /** fixed: the stage list as written; coupled: each stage's budget by E3.md's rule, measured at its start. */
    kind: z.enum(['fixed', 'coupled']).default('fixed'),
    stages: z.array(StageSchema).min(1),
    /** Budget ladder for the coupled rule (doubling). */
    ladder: z.array(int(1, 4096)).min(2).optional(),
    kappa: z.number().min(1).max(100).default(1.2),
    /** J = pass@k. */
    k: int(1, 1024).default(4),
    /** Problems and samples of each stage-start measurement. */
    measure: z
      .object({ problems: int(1, 10_000).default(16), samples: int(1, 1024).default(8) })
      .strict()
      .prefault({}),
    /** The problem pool bucketed by the starting policy's pass rate (for stages with buckets). */
    pool: z
      .object({
        difficulties: z.array(int(3, 6)).min(1).default([3, 4, 5]),
        perDifficulty: int(3, 10_000).default(32),
        samples: int(1, 1024).default(8),
        k: int(1, 1024).default(8),
        budgetTokens: int(1, 4096).default(128),
      })
      .strict()
      .optional(),
  })
  .strict();

const TrainConfigBase = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ - only')
      .default('run'),
    seed: int(0, 2 ** 31 - 1).default(0),
    backend: z.enum(BACKENDS).default('auto'),
    model: z
      .object({
        /** Initial policy (also the frozen KL reference). */
        checkpoint: z.string().min(1),
      })
      .strict(),
    task: z
      .object({ name: z.literal('countdown').default('countdown') })
      .strict()
      .prefault({}),
    rollout: z
      .object({
        /** Problems (GRPO groups) per learner step. */
        problemsPerStep: int(1, 4096).default(4),
        /** Samples per problem (group size G). */
        groupSize: int(2, 1024).default(8),
        temperature: z.number().positive().max(10).default(1),
        /** Problems per sampler request (the sampling batch is problemsPerRequest × groupSize). */
        problemsPerRequest: int(1, 4096).optional(),
        /** Controlled train/inference mismatch of the samplers (policy/mismatch.ts); absent = exact. */
        mismatch: MismatchSchema.optional(),
        /** Rollouts cut at the token budget: none | mask | soft punishment (rl/overlong.ts); absent = none. */
        overlong: OverlongSchema.optional(),
        /** In-flight weight swaps: keep | recompute | abort the KV cache, mask the stale prefix (policy/kvPolicy.ts). */
        kv: KvPolicySchema.optional(),
        /** DAPO's dynamic sampling (core/dynamicSampling.ts): filter zero-advantage groups, backfill; absent = off. */
        dynamicSampling: DynamicSamplingSchema.optional(),
      })
      .strict()
      .prefault({}),
    curriculum: CurriculumSchema,
    learner: z
      .object({
        lr: z.number().positive().max(1).default(1e-5),
        clipNorm: z.number().min(0).max(1e6).default(1),
        clipLow: z.number().min(0).max(1).default(0.2),
        clipHigh: z.number().min(0).max(10).default(0.35),
        klCoef: z.number().min(0).max(100).default(0.001),
        entropyCoef: z.number().min(0).max(100).default(0.001),
        negatives: z.enum(['keep', 'mask']).default('keep'),
        aggregation: z.enum(['token-mean', 'seq-mean-token-mean']).default('token-mean'),
        correction: CorrectionSchema.default({ kind: 'none' }),
        /**
         * Disjoint slices of each rollout batch, one Adam step each (π_prox of decoupled PPO = the policy at the
         * batch's start).
         */
        minibatches: int(1, 256).default(1),
        /** Passes over the slices per batch. */
        epochs: int(1, 4).default(1),
      })
      .strict()
      .prefault({}),
    staleness: z
      .object({
        policy: z.enum(STALENESS_POLICIES).default('sync'),
        /** Bound η on (learner version at training) − (version that sampled); async and inflight only. */
        eta: z.union([int(0, 1_000_000), z.literal('inf')]).optional(),
      })
      .strict()
      .prefault({}),
    topology: z
      .object({
        /**
         * Sampler actors: worker threads on the real clock (at most REAL_CLOCK_THREADS_MAX), any number on the
         * virtual one.
         */
        samplers: int(1, 100_000).default(1),
        verifierThreads: int(1, 100_000).default(1),
        /**
         * With `e3sim train --transport nats`: the roles served by separate `e3sim worker` processes
         * over NATS JetStream (the rest stay local). `samplers` is then the number of generate
         * requests in flight at once, whichever processes take them.
         */
        remote: z
          .array(z.enum(REMOTE_ROLES))
          .refine((r) => new Set(r).size === r.length, 'roles listed twice')
          .default(['sampler', 'verifier']),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        /**
         * Groups the topology's queues may hold: planned and not yet batched (at least one step), waiting
         * for a verifier, waiting for the grader; four times it in NATS work items (core/admission queueBounds).
         */
        queueGroupsMax: int(1, 100_000).default(256),
        samplerTimeoutMs: int(100, TIMEOUT_MAX_MS).default(300_000),
        verifierTimeoutMs: int(100, TIMEOUT_MAX_MS).default(10_000),
        learnerTimeoutMs: int(100, TIMEOUT_MAX_MS).default(600_000),
        /** Restarts per actor before the run fails. */
        restartsMax: int(0, 100).default(3),
        /** Attempts per verification before its rollouts count as dropped-invalid. */
        verifyAttemptsMax: int(1, 10).default(3),
        /** NATS transport: work a worker took but did not ack within this time is redelivered to another worker. */
        natsAckWaitMs: int(500, 3_600_000).default(30_000),
      })
      .strict()
      .prefault({}),
    checkpoint: z
      .object({
        every: int(1, MAX_STEPS).default(10),
        keep: int(1, 1000).default(2),
      })
      .strict()
      .prefault({}),
    /** Held-out evaluation by the evaluator actor (on sampler-0's thread), every N steps and at the end. */
    eval: z
      .object({
        every: int(1, MAX_STEPS).optional(),
        difficulty: int(3, 6).default(3),
        problems: int(1, 10_000).default(16),
        samples: int(1, 1024).default(4),
        budgets: z.array(int(1, 4096)).min(1).default([64, 128]),
        /** pass@k reported (unbiased); samples must be ≥ the largest k. */
        ks: z.array(int(1, 1024)).min(1).default([1, 4]),
      })
      .strict()
      .optional(),
    faults: z.array(z.string()).default([]),
  })
  .strict();

/**
 * The config's cross-field rules, as zod issues with the path of the field they name (so an error
 * reads like any other: `source: path: message`).
 */
function crossFieldIssues(c: z.infer<typeof TrainConfigBase>, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  if ((c.staleness.policy === 'sync' || c.staleness.policy === 'one-step-off') && c.staleness.eta !== undefined)
    issue(
      ['staleness', 'eta'],
      `only async and inflight take a bound; ${c.staleness.policy} fixes it at ${c.staleness.policy === 'sync' ? 0 : 1}`,
    );
  const cur = c.curriculum;
  const steps = cur.stages.reduce((n, st) => n + st.steps, 0);
  if (steps > MAX_STEPS)
    issue(['curriculum', 'stages'], `${steps} learner steps in all, expected at most ${MAX_STEPS}`);
  cur.stages.forEach((st, i) => {
    if ((st.difficulty === undefined) === (st.buckets === undefined))
      issue(['curriculum', 'stages', i], 'give exactly one of difficulty or buckets');
    if (cur.kind === 'fixed' && st.budgetTokens === undefined)
      issue(['curriculum', 'stages', i, 'budgetTokens'], 'required when curriculum.kind is fixed');
    if (st.buckets && !cur.pool)
      issue(['curriculum', 'pool'], `required when a stage uses buckets (curriculum.stages.${i}.buckets)`);
  });
  if (cur.kind === 'coupled' && !cur.ladder)
    issue(['curriculum', 'ladder'], 'required when curriculum.kind is coupled');
  if (cur.kind === 'coupled' && cur.measure.samples < cur.k)
    issue(
      ['curriculum', 'measure', 'samples'],
      `pass@${cur.k} (curriculum.k) needs at least ${cur.k} samples, got ${cur.measure.samples}`,
    );
  if (cur.pool && cur.pool.samples < cur.pool.k)
    issue(
      ['curriculum', 'pool', 'samples'],
      `pass@${cur.pool.k} needs at least ${cur.pool.k} samples, got ${cur.pool.samples}`,
    );
  const perStep = c.rollout.problemsPerStep * c.rollout.groupSize;
  if (c.learner.minibatches > perStep)
    issue(
      ['learner', 'minibatches'],
      `at most the rollouts per step (problemsPerStep × groupSize = ${perStep}), got ${c.learner.minibatches}`,
    );
  if (c.eval && c.eval.samples < Math.max(...c.eval.ks)) {
    const k = Math.max(...c.eval.ks);
    issue(['eval', 'samples'], `pass@${k} (eval.ks) needs at least ${k} samples per problem, got ${c.eval.samples}`);
  }
}

export const TrainConfigSchema = TrainConfigBase.superRefine(crossFieldIssues);

export type TrainConfig = z.infer<typeof TrainConfigSchema>;

/** Worker threads per role that the real clock starts (the virtual clock simulates any number). */
export const REAL_CLOCK_THREADS_MAX = 64;

/** The real clock runs each sampler and verifier as a thread: refuse topologies it cannot start. */
export function checkRealClockTopology(c: TrainConfig, source: string): void {
  for (const k of ['samplers', 'verifierThreads'] as const) {
    if (c.topology[k] > REAL_CLOCK_THREADS_MAX)
      throw new InputError(
        `${source}: topology.${k}: at most ${REAL_CLOCK_THREADS_MAX} threads on the real clock, got ${c.topology[k]} (simulate larger topologies with --clock virtual)`,
      );
  }
}

/** The staleness bound η implied by the policy (sync 0, one-step-off 1, async/inflight: eta). */
export function stalenessBound(c: TrainConfig): number {
  return etaOf(c.staleness.policy, c.staleness.eta);
}

/** The learner's loss settings from a config. */
export function lossConfigOf(c: TrainConfig): LossConfig {
  const l = c.learner;
  return {
    clipLow: l.clipLow,
    clipHigh: l.clipHigh,
    klCoef: l.klCoef,
    entropyCoef: l.entropyCoef,
    negatives: l.negatives,
    correction: l.correction,
    aggregation: l.aggregation,
  };
}

/**
 * Settings that are valid but cannot do what they look like they do (printed as warnings by
 * `e3sim train`): a coupled ladder without a budget whose double is also in it gives the rule
 * J(2B) ≤ κ·J(B) nothing to compare, so every stage takes the ladder's top.
 */
export function configWarnings(c: TrainConfig): string[] {
  const out: string[] = [];
  const ladder = c.curriculum.ladder;
  if (c.curriculum.kind === 'coupled' && ladder && !ladder.some((b) => ladder.includes(2 * b))) {
    out.push(
      `curriculum.ladder [${ladder.join(', ')}]: no budget whose double is also in the ladder, so the coupled rule (J(2B) ≤ κ·J(B)) cannot fire and every stage will take ${Math.max(...ladder)} tokens; use a doubling ladder (e.g. [${Math.max(...ladder) / 4}, ${Math.max(...ladder) / 2}, ${Math.max(...ladder)}])`,
    );
  }
  out.push(...correctionWarnings(c));
  return out;
}

/**
 * A loss correction that cannot act (issue #19): decoupled PPO and masked IS take PPO's ratio to
 * π_prox, the learner at the batch's start, which with one optimiser step per batch is the
 * current policy — the ratio is 1 and the clip a no-op (SkyRL#1315); with sync sampling and one
 * step μ = π_θ, so every importance weight is 1; `drop` never fires when the bound η ≤ maxLag.
 */
export function correctionWarnings(c: TrainConfig): string[] {
  const out: string[] = [];
  const k = c.learner.correction;
  const steps = c.learner.minibatches * c.learner.epochs;
  const field = `learner.correction ${k.kind}`;
  if (
    k.kind !== 'none' &&
    k.kind !== 'drop' &&
    c.staleness.policy === 'sync' &&
    steps === 1 &&
    !mismatchActive(c.rollout.mismatch)
  )
    out.push(
      `${field}: sync sampling with one optimiser step per batch (learner.minibatches × epochs = 1) trains every token on the policy that sampled it, so every importance weight is 1 and the correction changes nothing; raise learner.minibatches, sample asynchronously or set rollout.mismatch`,
    );
  else if ((k.kind === 'decoupled' || k.kind === 'masked') && steps === 1)
    out.push(
      `${field}: PPO's ratio is taken to π_prox, the learner at the batch's start, which is the current policy at the only optimiser step of a batch (learner.minibatches × epochs = 1): the ratio is 1 and the clip never acts, only the weight π_prox/μ does; raise learner.minibatches for a trust region`,
    );
  if (k.kind === 'drop' && stalenessBound(c) <= k.maxLag)
    out.push(
      `${field}: maxLag ${k.maxLag} is at least the staleness bound (${c.staleness.policy}${c.staleness.eta !== undefined ? `, η = ${c.staleness.eta}` : ''}), so no rollout is ever stale enough to drop`,
    );
  return out;
}

/** How the learner updates on one batch (both clocks). */
export function updateOf(c: TrainConfig): { minibatches: number; epochs: number } {
  return { minibatches: c.learner.minibatches, epochs: c.learner.epochs };
}

export function totalSteps(c: TrainConfig): number {
  return c.curriculum.stages.reduce((n, s) => n + s.steps, 0);
}

/** Validates a parsed config object; `source` names it in errors. */
export function parseTrainConfig(raw: unknown, source: string): TrainConfig {
  const r = TrainConfigSchema.safeParse(raw);
  if (!r.success) throw new InputError(`${source}: ${zodIssues(r.error)}`);
  const c = r.data;
  c.faults.forEach((f, i) => {
    try {
      FaultSchema.parse(parseFault(f));
    } catch (e) {
      throw new InputError(`${source}: faults.${i}: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  return c;
}

export function loadTrainConfig(file: string): TrainConfig {
  return parseTrainConfig(readYaml(file, '--config'), file);
}
