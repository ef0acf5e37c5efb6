/**
 * An actor's failure, its supervision and what it does when restarted, read from the machines
 * (machines/) on both clocks: the real clock runs the machines as actors; the virtual clock steps
 * them as data here, with xstate's pure `transition()` — the supervisor on each failure
 * (`superviseFailure`), a busy actor's way into it when it crashes or times out (`intoFailure`,
 * from sim/faultDriver.ts crash), and its next move when its restart (or a verifier's pause
 * before its next attempt) is over (`afterRestart`, from sim/faultDriver.ts restarted). Failures
 * are rare: a step's ≈ 0.1–0.3 ms costs the simulator nothing it notices, and the dense state
 * stays what its checkpoints hold.
 */
import { transition, type AnyStateMachine } from 'xstate';
import { learnerMachine } from '../../machines/learner.js';
import { type Failure, supervisorMachine } from '../../machines/supervisor.js';
import { giveUpMessage } from '../core/supervision.js';
import { samplerMachine } from '../../machines/sampler.js';
import { verifierMachine } from '../../machines/verifier.js';
import type { SimRole } from '../core/roles.js';

/** A machine's step as data: the state it goes to, its context then, and the actions it names on the way. */
interface MachineStep {
  state: string;
  context: Record<string, unknown>;
  actions: { type: string; params?: unknown }[];
}

/** Where a machine goes from state `value` with `context` on `event` (xstate's pure `transition()`). */
function machineStep(
  machine: AnyStateMachine,
  value: string,
  context: Record<string, unknown>,
  event: { type: string },
): MachineStep {
  const [next, actions] = transition(machine, machine.resolveState({ value, context }), event);
  return { state: String(next.value), context: next.context, actions };
}

/** A step's state and the names of its actions. */
const named = (s: MachineStep): { state: string; actions: string[] } => ({
  state: s.state,
  actions: s.actions.map((a) => a.type),
});

type StateNodeLike = { invoke: { id: string }[]; after: { eventType: string }[] };

function node(machine: AnyStateMachine, value: string): StateNodeLike {
  const n = (machine.root.states as Record<string, StateNodeLike | undefined>)[value];
  if (!n) throw new Error(`${machine.id}: no state '${value}'`);
  return n;
}

/** The id of the effect a machine invokes in state `value` (its done and error events carry it). */
function invokeId(machine: AnyStateMachine, value: string): string {
  const inv = node(machine, value).invoke[0];
  if (!inv) throw new Error(`${machine.id}: state '${value}' invokes nothing`);
  return inv.id;
}

/** The event a machine in state `value` gets when the effect it invokes there is done. */
export function invokeDone(machine: AnyStateMachine, value: string): { type: string } {
  return { type: `xstate.done.actor.${invokeId(machine, value)}` };
}

/** The event a machine in state `value` gets when the effect it invokes there fails with `error`. */
export function invokeFailed(machine: AnyStateMachine, value: string, error: string): { type: string; error: Error } {
  return { type: `xstate.error.actor.${invokeId(machine, value)}`, error: new Error(error) };
}

/** The event a machine in state `value` gets when its delayed transition's time is over. */
export function delayOver(machine: AnyStateMachine, value: string): { type: string } {
  const after = node(machine, value).after[0];
  if (!after) throw new Error(`${machine.id}: state '${value}' has no delayed transition`);
  return { type: after.eventType };
}

const MACHINES = { sampler: samplerMachine, verifier: verifierMachine, learner: learnerMachine } as const;

/** The machine's context as this module steps it: what its guards read, nothing of the work itself. */
function contextOf(role: SimRole, id: string, attempts = 0, attemptsMax = 1): Record<string, unknown> {
  if (role === 'sampler') return { id, request: null, result: null, error: null };
  if (role === 'verifier') return { id, job: null, attempts, attemptsMax, verdicts: null, error: null };
  return { batch: null, output: null, error: null };
}

/**
 * The way into a failure: the work a busy actor invoked in `state` fails (a crash, or a hang's
 * timeout), and its machine goes to `failed`, naming `reportFailure` (the supervisor hears of it);
 * a sampler and the learner then take the supervisor's RESTART (a verifier's machine waits out its
 * pause in `failed` itself). The states, in order, and whether the failure is reported.
 */
export function intoFailure(role: SimRole, state: string, id: string): { states: string[]; reported: boolean } {
  const m = MACHINES[role];
  const ctx = contextOf(role, id);
  const failed = machineStep(m, state, ctx, invokeFailed(m, state, `${id} failed`));
  const states = [failed.state];
  if (role !== 'verifier') states.push(machineStep(m, failed.state, ctx, { type: 'RESTART' }).state);
  return { states, reported: failed.actions.some((a) => a.type === 'reportFailure') };
}

/**
 * The next move of an actor whose restart is over: a sampler's and the learner's `restarting`
 * ends (their machines' restart effect is done); a verifier's `failed` pause ends, with the
 * attempts its job has had. The state it goes to and the actions it names (`becameIdle`: it takes
 * work again; `ready`: the learner takes the batch it held, or the next; a verifier's `verifying`
 * or `delivering`: another attempt, or the group handed on unverified).
 */
export function afterRestart(
  role: SimRole,
  o: { id: string; attempts?: number; attemptsMax?: number },
): { state: string; actions: string[] } {
  const m = MACHINES[role];
  const ctx = contextOf(role, o.id, o.attempts, o.attemptsMax);
  const done = role === 'verifier' ? delayOver(m, 'failed') : invokeDone(m, 'restarting');
  return named(machineStep(m, role === 'verifier' ? 'failed' : 'restarting', ctx, done));
}

/**
 * The supervisor machine (machines/supervisor.ts), stepped as data with xstate's pure `transition()`
 * on one failure of `actor`, restarted `restarts` times so far (the virtual clock keeps the counts
 * in its actors' dense state, so a checkpoint holds them as before): the machine's restart with the
 * new count, or its give-up with the run's message (core/supervision giveUpMessage, as the real
 * clock's abort). Failures are rare: the machine's ≈ 80 µs a step costs the simulator nothing it notices.
 */
export function superviseFailure(
  f: { actor: string; role: SimRole; error: string },
  restarts: number,
  restartsMax: number,
): { restarts: number } | { giveUp: string } {
  const context = { restarts: { [f.actor]: restarts }, restartsMax, last: null };
  const next = machineStep(supervisorMachine, 'watching', context, { type: 'FAILED', ...f });
  const giveUp = next.actions.find((a) => a.type === 'giveUp');
  if (giveUp) return { giveUp: giveUpMessage(giveUp.params as Failure & { restarts: number }, restartsMax) };
  return { restarts: (next.context.restarts as Record<string, number>)[f.actor]! };
}

/** The machines' own events, kept as the virtual clock names them. */
const NAMED = new Set(['GENERATE', 'VERIFY', 'RESTART', 'TRAIN']);
/** role → from → what happened → the machine's event type (no string built per line). */
const eventTypes: Record<string, Record<string, Record<string, string>>> = {};

/**
 * The event a role's machine takes from state `from` for what the virtual clock calls `happened`,
 * as the real clock's transitions.jsonl names it (both clocks write the machine's events): the
 * start is xstate's init; GENERATE, VERIFY and RESTART are the machines' own, the learner's batch
 * (BATCH, REPLAY) is its TRAIN; a crash or a hang's timeout is the failure of the state's effect; a
 * verifier's retry or giving up is the end of its pause; anything else is the state's effect done.
 */
export function machineEventType(role: SimRole, from: string | null, happened: string): string {
  const byHappened = ((eventTypes[role] ??= {})[from ?? ''] ??= {});
  let type = byHappened[happened];
  if (type === undefined) {
    const m = MACHINES[role];
    const named = happened === 'BATCH' || happened === 'REPLAY' ? 'TRAIN' : happened;
    if (from === null) type = 'xstate.init';
    else if (NAMED.has(named)) type = named;
    else if (happened === 'CRASH' || happened === 'TIMEOUT') type = invokeFailed(m, from, '').type;
    else if (happened === 'RETRY' || happened === 'GIVE_UP') type = delayOver(m, from).type;
    else type = invokeDone(m, from).type;
    byHappened[happened] = type;
  }
  return type;
}
