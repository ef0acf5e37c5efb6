/**
 * Supervision decisions, once for both clocks: a failed actor is restarted while its restart
 * budget lasts and the run fails past it; a verification that fails is retried while attempts
 * last and the group is then handed on as invalid (its rollouts dropped-invalid, never lost).
 * The supervisor machine (machines/supervisor.ts) takes the restart decision with `afterFailure`
 * on both clocks: the real clock runs it as an actor, the virtual clock steps it as data on each
 * failure (steps/restarts.ts superviseFailure); a give-up ends the run with `giveUpMessage` on both.
 */

/** After an actor's failure number `failures` (1 = its first): restart it, or give the run up. */
export function afterFailure(failures: number, restartsMax: number): 'restart' | 'give-up' {
  return failures <= restartsMax ? 'restart' : 'give-up';
}

/** After `attempts` failed verification attempts of a group: try again, or hand it on unverified. */
export function afterVerifyFailure(attempts: number, attemptsMax: number): 'retry' | 'hand-on-invalid' {
  return attempts < attemptsMax ? 'retry' : 'hand-on-invalid';
}

/** The run's failure when `actor`, restarted `restarts` times already, fails once more past the budget. */
export function giveUpMessage(f: { actor: string; restarts: number; error: string }, restartsMax: number): string {
  return `${f.actor} failed ${f.restarts + 1} times, over limits.restartsMax = ${restartsMax}; last error: ${f.error}`;
}
