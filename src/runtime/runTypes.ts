import type { MessagePort } from 'node:worker_threads';
import type { ActorRefFrom, InspectionEvent } from 'xstate';
import type { samplerMachine } from '../../machines/index.js';
import type { SamplerApi } from '../../actors/sampler.worker.js';
import type { Now } from './clock.js';
import type { TrainConfig } from './config.js';
import type { WorkerHandle } from './workers.js';
import type { CommonSummary } from '../core/summary.js';

export interface StepProgress {
  step: number;
  maxSteps: number;
  stage: number;
  /** Number count, or the stage's buckets joined by '+'. */
  difficulty: number | string;
  budgetTokens: number;
  passRate: number;
  rewardMean: number;
  lengthMean: number;
  stalenessMean: number;
  stalenessMax: number;
  tokensPerSec: number;
  etaSeconds: number;
  loss: number;
}

/** summary.json of a real-clock run: the part both clocks write (core/summary.ts), and this clock's figures. */
export interface Summary extends CommonSummary {
  /** `threads`, or `nats` with the work items published (re-issues included) and the duplicate results dropped. */
  transport:
    | { kind: 'threads' }
    | { kind: 'nats'; remote: string[]; published: number; redelivered: number; duplicatesDropped: number };
  weightsSha256: string;
  policy: TrainConfig['staleness']['policy'];
  interrupted: boolean;
  /** Learner replays after a restart whose weights matched the published ones. */
  replayMismatches: number;
  /** The whole run across resumes (each earlier piece to its last checkpoint, then this one). */
  wallMs: number;
  tokensPerSec: number;
  /** This process's piece of a resumed run (the whole run when it was not resumed). */
  lastPiece?: { wallMs: number; tokensGenerated: number; tokensPerSec: number };
  samplerComputeMs: number;
  learnerComputeMs: number;
  transferMs: number;
  /** Share of (samplers + learner) × wall time spent neither computing nor moving weights (this piece). */
  overheadFraction: number;
  transitions: number;
  /** The last held-out evaluation (config `eval`), or null. */
  eval: { step: number; rows: unknown[] } | null;
}

export interface TrainOptions {
  config: TrainConfig;
  out: string;
  resume: boolean;
  /** Stop after this learner step (default: the curriculum's total). */
  maxSteps?: number;
  extraFaults?: string[];
  command: string;
  versions: Record<string, string>;
  now: Now;
  onStep?: (p: StepProgress) => void;
  onLog?: (line: string) => void;
  /** Receives every xstate inspection event of every actor (`--inspect`). */
  inspect?: (ev: InspectionEvent) => void;
  /** Run the config's remote roles (`topology.remote`) as separate processes over NATS JetStream. */
  nats?: { url: string; credsFile?: string };
}

/**
 * What a sampler slot talks to: a worker thread, or (NATS transport) whichever remote sampler process takes the work.
 */
export type SamplerEndpoint = Pick<WorkerHandle<SamplerApi>, 'call' | 'terminate'>;

/** A sampler's link: its endpoint, the port its weights arrive on, the newest version posted there. */
export type SamplerConnection = Pick<SamplerSlot, 'handle' | 'port' | 'posted'>;

export interface SamplerSlot {
  id: string;
  handle: SamplerEndpoint;
  port: MessagePort;
  actor: ActorRefFrom<typeof samplerMachine>;
  /** The newest weights version posted to this sampler's port (its thread starts at one). */
  posted: number;
}
