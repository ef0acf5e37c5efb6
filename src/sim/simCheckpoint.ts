/**
 * The virtual clock's checkpoints: the whole engine state (queue, actors, accounting, counters, log
 * offsets) plus the compute's weights, committed like the real clock's (runtime/checkpointer.ts).
 */
import { liftTopology } from '../core/topology.js';
import fs from 'node:fs';
import path from 'node:path';
import { commitCheckpoint, latestCheckpointDir } from '../runtime/checkpointer.js';
import { writeFileSynced } from '../util/atomic.js';
import type { EventQueue } from './queue.js';
import { type SimState, SIM_STATE_FILE } from './state.js';
import type { SimEngine } from './engine.js';
import type { DenseLedger } from '../core/ledger.js';

/** The engine's part of a checkpoint (sim-state.json), as a JSON string. */
export function simStateBody(sim: SimEngine): string {
  return JSON.stringify({
    format: 'e3sim-sim-checkpoint',
    formatVersion: 1,
    state: sim.s,
    queue: sim.q.toJSON(),
    ledger: sim.ledger.toDense(),
  });
}

export function writeSimCheckpoint(sim: SimEngine): void {
  sim.metrics?.flush();
  sim.transitions?.flush();
  const v = sim.s.topo.learnerVersion;
  const body = simStateBody(sim);
  commitCheckpoint(sim.o.dir!, v, sim.o.config.checkpoint.keep, sim.o.config, (tmp) => {
    sim.o.compute.save(tmp);
    writeFileSynced(path.join(tmp, SIM_STATE_FILE), body);
  });
  sim.o.onLog?.(`checkpoint step-${v} (t=${sim.s.t.toFixed(3)} s)`);
}

/** Reads the checkpoint `DIR/checkpoints/latest` names; null when there is none. */
export function readSimCheckpoint(dir: string): {
  ckDir: string;
  state: SimState;
  queue: ReturnType<EventQueue['toJSON']>;
  ledger?: DenseLedger;
  accounting?: string;
} | null {
  const ckDir = latestCheckpointDir(dir);
  if (!ckDir) return null;
  const file = path.join(ckDir, SIM_STATE_FILE);
  if (!fs.existsSync(file)) return null;
  const body = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    format: string;
    state: SimState;
    queue: ReturnType<EventQueue['toJSON']>;
    ledger?: DenseLedger;
    accounting?: string;
  };
  if (body.format !== 'e3sim-sim-checkpoint') return null;
  // Written before the topology's state was one object: its fields were loose on the state
  // (and before issue #19's KV policies: no recomputes or aborts yet).
  const loose = body.state as unknown as Parameters<typeof liftTopology>[0];
  if (!loose.topo) Object.assign(loose, { inflightRecomputes: 0, inflightAborts: 0, ...loose });
  liftTopology(loose, body.state.counts.trained);
  // Written before the topology kept the last step formed: the learner's record of it.
  body.state.topo.formedThrough ??= body.state.learner.batch?.step ?? body.state.topo.learnerVersion;
  // Written before issue #19's KV policies: a generation decodes from its start, no aborts yet.
  for (const sm of body.state.samplers) {
    sm.decodeFrom ??= sm.genStart;
    sm.aborts ??= 0;
  }
  // Written before idle samplers were taken by index: the whole list waits.
  body.state.idleHead ??= 0;
  // Written before dynamic sampling: nothing filtered yet.
  body.state.counts.droppedFiltered ??= 0;
  // Written before a batch entry named its slot
  for (const g of body.state.learner.batch?.groups ?? []) g.slot ??= g.group.slot;
  return { ckDir, state: body.state, queue: body.queue, ledger: body.ledger, accounting: body.accounting };
}
