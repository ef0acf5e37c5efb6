/**
 * The role table (issue #30): every role of the topology once — its machine (machines/, by the same
 * name), the module that gives the machine its effects on the real clock, which clocks can inject
 * faults into it, whether an `e3sim worker` can serve it over NATS, and how it comes back from a
 * failure. The lists the rest of the code needs (fault targets per clock, remote roles) are read
 * from this table; adding a role is one machine, one effects module and one row here.
 * test/machines.test.ts checks the table against `MACHINES`.
 */

export interface RoleRow {
  /** The real clock's effects module (src/runtime/roles/…). */
  effects: string;
  /** Faults `--inject` / `faults:` may name on the real clock (crash, hang, slow). */
  realFaults: boolean;
  /** Faults a scenario may aim at on the virtual clock (its own grammar, core/faults SimFaultSchema). */
  simFaults: boolean;
  /** Servable by `e3sim worker --role` over NATS JetStream. */
  remote: boolean;
  /**
   * After a failure: `restart` (the supervisor sends the machine RESTART, within limits.restartsMax),
   * `retry` (the machine retries its own work, then hands on), or `none` (a failure aborts the run).
   */
  recovery: 'restart' | 'retry' | 'none';
  /**
   * What this role sends to whom on the real clock (events to a machine, or weights on a port):
   * the picture of docs/ARCHITECTURE.md is generated from these rows (topologyMarkdown), and the
   * message flows of a run's trace.json are checked against them (test/report.browser.test.ts).
   */
  sends: readonly { to: string; what: string }[];
}

export const ROLE_TABLE = {
  coordinator: {
    effects: 'lifecycle.ts',
    realFaults: false,
    simFaults: false,
    remote: false,
    recovery: 'none',
    sends: [
      { to: 'sampler', what: 'GENERATE {step, problems, budget, minVersion} (admission: roles/planning.ts pump)' },
      { to: 'learner', what: 'SNAPSHOT (a checkpoint)' },
      { to: 'batcher', what: 'POKE (the checkpoint is written)' },
    ],
  },
  sampler: {
    effects: 'samplers.ts',
    realFaults: true,
    simFaults: true,
    remote: true,
    recovery: 'restart',
    sends: [
      { to: 'verifier', what: "VERIFY (one problem's rollouts: tokens, μ log-probs, versions)" },
      { to: 'supervisor', what: 'FAILED' },
    ],
  },
  verifier: {
    effects: 'verifiers.ts',
    realFaults: true,
    simFaults: true,
    remote: true,
    recovery: 'retry',
    sends: [
      { to: 'grader', what: 'GRADE (verdicts)' },
      { to: 'supervisor', what: 'FAILED' },
    ],
  },
  grader: {
    effects: 'grader.ts',
    realFaults: true,
    simFaults: false,
    remote: true,
    recovery: 'restart',
    sends: [
      { to: 'batcher', what: 'GROUP (rewards, group-normalised advantages)' },
      { to: 'supervisor', what: 'FAILED' },
    ],
  },
  batcher: {
    effects: 'batcher.ts',
    realFaults: false,
    simFaults: false,
    remote: false,
    recovery: 'none',
    sends: [{ to: 'learner', what: "TRAIN (the step's batch, every rollout disposed once)" }],
  },
  learner: {
    effects: 'learner.ts',
    realFaults: true,
    simFaults: true,
    remote: false,
    recovery: 'restart',
    sends: [
      { to: 'weightStore', what: 'PUBLISHED {v}' },
      { to: 'batcher', what: 'LEARNER_READY' },
      { to: 'curriculum', what: "STEP_DONE (the batch's pass rate)" },
      { to: 'coordinator', what: 'STEP_DONE {step, checkpoint} (core/topology stepDone)' },
      { to: 'evaluator', what: 'EVALUATE {v}' },
      { to: 'supervisor', what: 'FAILED' },
    ],
  },
  weightStore: {
    effects: 'weightStore.ts',
    realFaults: false,
    simFaults: false,
    remote: false,
    recovery: 'none',
    sends: [
      { to: 'sampler', what: "weights v (on a request's start; every version at once when in-flight)" },
      { to: 'learner', what: 'v is out (the learner waits in publishing until then: core/topology published)' },
    ],
  },
  curriculum: {
    effects: 'curriculum.ts',
    realFaults: false,
    simFaults: false,
    remote: false,
    recovery: 'none',
    sends: [{ to: 'coordinator', what: 'the stage and its budget (what admission may plan)' }],
  },
  evaluator: {
    effects: 'evaluation.ts',
    realFaults: false,
    simFaults: false,
    remote: false,
    recovery: 'none',
    sends: [],
  },
  supervisor: {
    effects: 'supervisor.ts',
    realFaults: false,
    simFaults: false,
    remote: false,
    recovery: 'none',
    sends: [
      { to: 'sampler', what: 'RESTART' },
      { to: 'grader', what: 'RESTART' },
      { to: 'learner', what: 'RESTART' },
    ],
  },
} as const satisfies Record<string, RoleRow>;

type Table = typeof ROLE_TABLE;
export type TopologyRole = keyof Table;
type RolesWhere<F extends 'realFaults' | 'simFaults' | 'remote'> = {
  [K in TopologyRole]: Table[K][F] extends true ? K : never;
}[TopologyRole];

export type FaultRole = RolesWhere<'realFaults'>;
export type SimRole = RolesWhere<'simFaults'>;
export type RemoteRole = RolesWhere<'remote'>;

function rolesWhere<F extends 'realFaults' | 'simFaults' | 'remote'>(f: F): [RolesWhere<F>, ...RolesWhere<F>[]] {
  const out = (Object.keys(ROLE_TABLE) as TopologyRole[]).filter((r) => ROLE_TABLE[r][f]);
  return out as [RolesWhere<F>, ...RolesWhere<F>[]];
}

/** Roles the real clock's fault specs may name, in table order. */
export const FAULT_ROLES = rolesWhere('realFaults');
/** Roles a virtual-clock scenario's faults may name. */
export const SIM_FAULT_ROLES = rolesWhere('simFaults');
/** Roles `e3sim worker` serves over NATS (and `topology.remote` may list). */
export const REMOTE_ROLES = rolesWhere('remote');

/** Who sends what to whom, from the table: the generated section of docs/ARCHITECTURE.md. */
export function topologyMarkdown(): string {
  const lines = ['| from | to | what |', '|---|---|---|'];
  for (const [from, row] of Object.entries(ROLE_TABLE) as [TopologyRole, RoleRow][])
    for (const m of row.sends) lines.push(`| ${from} | ${m.to} | ${m.what} |`);
  return lines.join('\n') + '\n';
}

/** The (from, to) pairs of the table, as `from→to`. */
export function topologyEdges(): Set<string> {
  const out = new Set<string>();
  for (const [from, row] of Object.entries(ROLE_TABLE) as [TopologyRole, RoleRow][])
    for (const m of row.sends) out.add(`${from}→${m.to}`);
  return out;
}
