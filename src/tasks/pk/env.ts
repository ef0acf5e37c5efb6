/**
 * The p^k environment of E3.md (didactic, exact): 100 tokens plus `stop`; one token is the
 * answer a*. An episode is a sequence of actions; reward 1 as soon as an action equals a*
 * (verification is perfect), reward 0 on `stop` or when the sequence passes the budget.
 */
export interface PkEnvConfig {
  /** Number of non-stop tokens (the paper: 100). */
  tokens: number;
  /** Index of the answer token a* in 0..tokens-1. */
  answer: number;
  /** Maximum episode length B_tr (the paper: 100). */
  budget: number;
}

export const PK_PAPER: PkEnvConfig = { tokens: 100, answer: 0, budget: 100 };

/** The stop action's index. */
export function stopAction(c: PkEnvConfig): number {
  return c.tokens;
}

export type PkOutcome = 'hit' | 'stop' | 'budget';

export interface PkEpisode {
  actions: number[];
  reward: 0 | 1;
  outcome: PkOutcome;
}

/** Outcome of a finished action sequence (the sampler stops at the first hit, stop, or budget). */
export function scoreEpisode(c: PkEnvConfig, actions: readonly number[]): PkEpisode {
  for (let t = 0; t < actions.length && t < c.budget; t++) {
    if (actions[t] === c.answer) return { actions: actions.slice(0, t + 1), reward: 1, outcome: 'hit' };
    if (actions[t] === stopAction(c)) return { actions: actions.slice(0, t + 1), reward: 0, outcome: 'stop' };
  }
  return { actions: actions.slice(0, c.budget), reward: 0, outcome: 'budget' };
}
