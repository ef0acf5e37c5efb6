/**
 * The staleness policy, once for both clocks (issue #30): the bound η a policy implies, the
 * version a step's work is admitted at, the weights a request is handed, whether published weights
 * reach a sampler mid-generation, a rollout's lag, the bound check and the disposition rule. The
 * real clock (src/runtime/roles) and the virtual clock (src/sim) call these and nothing else; each
 * definition is written in docs/ARCHITECTURE.md "One definition each" with its reason.
 */
import type { Correction } from '../rl/loss.js';

export const STALENESS_POLICIES = ['sync', 'one-step-off', 'async', 'inflight'] as const;
export type StalenessPolicy = (typeof STALENESS_POLICIES)[number];

/** The staleness bound η a policy implies: sync 0, one-step-off 1, async / inflight their `eta` (default 2). */
export function etaOf(policy: StalenessPolicy, eta: number | 'inf' | undefined): number {
  switch (policy) {
    case 'sync':
      return 0;
    case 'one-step-off':
      return 1;
    default:
      return eta === 'inf' ? Infinity : (eta ?? 2);
  }
}

/** AReaL-style admission: work for learner step `step` may start at policy version ≥ step − 1 − η. */
export function minVersionFor(step: number, eta: number): number {
  return Math.max(0, step - 1 - eta);
}

export function admissible(step: number, publishedVersion: number, eta: number): boolean {
  return publishedVersion >= minVersionFor(step, eta);
}

/**
 * The weights version a request of `step` runs at: the newest published (out to the samplers) when
 * it starts. Both clocks hand a sampler its weights at this moment and no other (in-flight updates
 * aside), so which weights sampled a step follows from the order of events, never from how fast a
 * message travels. Admission plans a step only once the published version reaches its minimum, and
 * a version counts as published only when the weight store has it out (the learner waits for that:
 * core/topology `published`), so a request below its minimum is a bug: both clocks fail the run with
 * `violation`.
 */
export function requestVersion(
  published: number,
  step: number,
  eta: number,
): { version: number; violation: string | null } {
  const min = minVersionFor(step, eta);
  return {
    version: published,
    violation: published >= min ? null : `step ${step} started at v${published}, below its admitted v${min}`,
  };
}

/**
 * Whether a publication reaches samplers in the middle of a generation (`inflight`: every sampler
 * gets every version at once and swaps between tokens) or only at a request's start (the rest).
 */
export function swapsInFlight(policy: StalenessPolicy): boolean {
  return policy === 'inflight';
}

/**
 * A rollout's lag when its batch forms: the learner's version less the oldest version among its
 * tokens (an in-flight rollout's tokens can come from several versions; its oldest is what the
 * bound limits). Both clocks measure it per rollout — on the virtual clock a group's rows start and
 * swap together, so each rollout's oldest version is its group's.
 */
export function lagOf(learnerVersion: number, oldestTokenVersion: number): number {
  return learnerVersion - oldestTokenVersion;
}

/** The oldest version among a rollout's tokens (its first token's weights at the latest). */
export function oldestVersion(versions: ArrayLike<number>): number {
  let m = Infinity;
  for (let i = 0; i < versions.length; i++) if (versions[i]! < m) m = versions[i]!;
  return m;
}

/**
 * The bound check, on every rollout that is not dropped-invalid (an unverified or empty rollout
 * trains nothing, so its weights do not matter; a filtered or a dropped-stale one was still
 * sampled by weights admission allowed, so it is checked): null when 0 ≤ lag ≤ η, else what broke.
 */
export function stalenessViolation(id: string, lag: number, eta: number): string | null {
  if (lag < 0) return `rollout ${id} was sampled by a version newer than the learner's (staleness ${lag})`;
  if (lag > eta) return `rollout ${id} has staleness ${lag} above the bound ${eta}`;
  return null;
}

export type Disposition = 'trained' | 'dropped-stale' | 'dropped-invalid' | 'dropped-filtered';

/** The ledger's states as bytes (the virtual clock's dense ledger): 0 = not generated yet. */
export const DISPOSITION_CODE = {
  generated: 1,
  trained: 2,
  'dropped-stale': 3,
  'dropped-invalid': 4,
  'dropped-filtered': 5,
} as const;

/**
 * What becomes of a generated rollout when its step's batch forms: an invalid (unverified) or empty
 * one is dropped-invalid; one of a group dynamic sampling filtered (core/dynamicSampling) is
 * dropped-filtered; with the `drop` correction one staler than `maxLag` is dropped-stale; the rest is
 * trained. As a DISPOSITION_CODE (the virtual clock's hot loop) and as a name.
 */
export function dispositionCodeOf(
  invalid: boolean,
  completionTokens: number,
  lag: number,
  correction: Correction,
  filtered: boolean,
): 2 | 3 | 4 | 5 {
  if (invalid || completionTokens === 0) return DISPOSITION_CODE['dropped-invalid'];
  if (filtered) return DISPOSITION_CODE['dropped-filtered'];
  if (correction.kind === 'drop' && lag > correction.maxLag) return DISPOSITION_CODE['dropped-stale'];
  return DISPOSITION_CODE.trained;
}

/** A disposition's name by its DISPOSITION_CODE. */
export const DISPOSITION_BY_CODE = {
  2: 'trained',
  3: 'dropped-stale',
  4: 'dropped-invalid',
  5: 'dropped-filtered',
} as const;
