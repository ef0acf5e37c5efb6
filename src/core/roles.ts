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
}

export const ROLE_TABLE = {
  coordinator: { effects: 'lifecycle.ts', realFaults: false, simFaults: false, remote: false, recovery: 'none' },
  sampler: { effects: 'samplers.ts', realFaults: true, simFaults: true, remote: true, recovery: 'restart' },
  verifier: { effects: 'verifiers.ts', realFaults: true, simFaults: true, remote: true, recovery: 'retry' },
  grader: { effects: 'verifiers.ts', realFaults: true, simFaults: false, remote: true, recovery: 'restart' },
  batcher: { effects: 'verifiers.ts', realFaults: false, simFaults: false, remote: false, recovery: 'none' },
  learner: { effects: 'learner.ts', realFaults: true, simFaults: true, remote: false, recovery: 'restart' },
  weightStore: { effects: 'learner.ts', realFaults: false, simFaults: false, remote: false, recovery: 'none' },
  curriculum: { effects: 'evaluation.ts', realFaults: false, simFaults: false, remote: false, recovery: 'none' },
  evaluator: { effects: 'evaluation.ts', realFaults: false, simFaults: false, remote: false, recovery: 'none' },
  supervisor: { effects: 'evaluation.ts', realFaults: false, simFaults: false, remote: false, recovery: 'none' },
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
