/**
 * Supervision decisions, once for both clocks: a failed actor is restarted while its restart
 * budget lasts and the run fails past it; a verification that fails is retried while attempts
 * last and the group is then handed on as invalid (its rollouts dropped-invalid, never lost).
 */

/** After an actor's failure number `failures` (1 = its first): restart it, or give the run up. */
export function afterFailure(failures: number, restartsMax: number): 'restart' | 'give-up' {
  return failures <= restartsMax ? 'restart' : 'give-up';
}

/** After `attempts` failed verification attempts of a group: try again, or hand it on unverified. */
export function afterVerifyFailure(attempts: number, attemptsMax: number): 'retry' | 'hand-on-invalid' {
  return attempts < attemptsMax ? 'retry' : 'hand-on-invalid';
}
