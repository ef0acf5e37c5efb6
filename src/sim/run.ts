/**
 * One run on the virtual clock, with its run directory: config.json, virtual.json (profile,
 * compute, faults), metrics.jsonl, transitions.jsonl, checkpoints/, summary.json. Used by
 * `e3sim train --clock virtual` and by every cell of `e3sim scenario`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { TrainConfig } from '../runtime/config.js';
import { initBackend } from '../tensor/backend.js';
import { InputError } from '../util/errors.js';
import { zodIssues } from '../util/zodIssues.js';
import { SimEngine, type SimResult } from './engine.js';
import { simSummary } from './simSummary.js';
import { ProfileSchema, type Profile } from './profile.js';
import { SimFaultSchema, type SimFault, type SimFaultInput } from '../core/faults.js';
import { SurrogateCompute, SurrogateSchema, type Compute, type Surrogate } from './compute.js';
import { PolicyCompute } from './policyCompute.js';
import { writeFileAtomic } from '../util/atomic.js';

export const VirtualSettingsSchema = z.object({
  profile: ProfileSchema,
  compute: z.enum(['real', 'none']),
  surrogate: SurrogateSchema,
  faults: z.array(SimFaultSchema),
  maxSteps: z.number().int().min(1),
  transitions: z.boolean(),
  maxEvents: z.number().int().min(1),
});
export type VirtualSettings = Omit<z.infer<typeof VirtualSettingsSchema>, 'faults'> & { faults: SimFaultInput[] };

export interface VirtualRunOptions {
  config: TrainConfig;
  settings: VirtualSettings;
  /** Run directory (created by the caller for a new run), or null to keep nothing on disk. */
  dir: string | null;
  resume?: boolean;
  onStep?: (line: Record<string, unknown>) => void;
  onLog?: (s: string) => void;
  /** Called with the engine once it exists (signal handlers call requestHalt on it). */
  onEngine?: (e: SimEngine) => void;
  /** Test hook, see SimOptions. */
  plantDuplicateAtEvent?: number;
  now?: () => number;
  /** Shared halt flag (SimOptions.halt). */
  halt?: Int32Array;
  /** Test hook: wraps the compute the config asks for (e.g. to raise the halt flag inside a call). */
  wrapCompute?: (c: Compute) => Compute;
}

export interface VirtualRunResult {
  status: SimResult['status'];
  summary: Record<string, unknown>;
}

/**
 * What `weights.bytes: model` means without a model (compute: none): a nominal 1 MB; set bytes in the profile for a
 * real size.
 */
const SURROGATE_MODEL_BYTES = 1_000_000;

export async function makeCompute(config: TrainConfig, s: VirtualSettings, halt?: Int32Array): Promise<Compute> {
  if (s.compute === 'none') return new SurrogateCompute(s.surrogate, config.seed, SURROGATE_MODEL_BYTES);
  await initBackend(config.backend); // once per process; a different backend later is a clear error
  return new PolicyCompute(config, halt);
}

export async function runVirtual(o: VirtualRunOptions): Promise<VirtualRunResult> {
  const s = { ...o.settings, faults: z.array(SimFaultSchema).parse(o.settings.faults) }; // defaults filled in
  const made = await makeCompute(o.config, s, o.halt);
  const compute = o.wrapCompute ? o.wrapCompute(made) : made;
  let resume: ReturnType<typeof SimEngine.readCheckpoint> = null;
  if (o.resume) {
    if (!o.dir) throw new InputError('--resume: a run kept on disk (a run directory) is needed to resume');
    resume = SimEngine.readCheckpoint(o.dir);
    if (resume) {
      compute.restore(resume.ckDir);
      o.onLog?.(
        `resuming from ${path.relative(o.dir, resume.ckDir)} (t=${resume.state.t.toFixed(3)} s, event #${resume.state.events})`,
      );
    } else o.onLog?.(`${o.dir} has no checkpoint yet: starting from step 0`); // as the real clock does (its logs start over)
  }
  // At every start, once a resume's checkpoint has been read: a resume may set a new step to stop at.
  if (o.dir) writeFileAtomic(path.join(o.dir, 'virtual.json'), JSON.stringify(s, null, 2) + '\n');
  const engine = new SimEngine(
    {
      config: o.config,
      profile: s.profile,
      compute,
      faults: s.faults as SimFault[],
      maxSteps: s.maxSteps,
      dir: o.dir,
      transitions: s.transitions,
      maxEvents: s.maxEvents,
      onStep: o.onStep,
      onLog: o.onLog,
      plantDuplicateAtEvent: o.plantDuplicateAtEvent,
      halt: o.halt,
    },
    resume ?? undefined,
  );
  o.onEngine?.(engine);
  const t0 = o.now?.() ?? 0;
  let r: SimResult;
  try {
    r = await engine.run();
  } finally {
    engine.close();
  }
  const weightsSha256 = compute.weightsSha256();
  compute.dispose();
  const wallSeconds = ((o.now?.() ?? 0) - t0) / 1000;
  const summary = {
    ...simSummary(engine),
    weightsSha256,
    status: r.status,
    wallSeconds,
    eventsPerWallSecond: wallSeconds > 0 ? r.state.events / wallSeconds : null,
  };
  if (r.status === 'event-budget')
    throw new Error(
      `run stopped at its event budget (${s.maxEvents} events, t=${r.state.t.toFixed(3)} s, step ${r.state.topo.learnerVersion} of ${s.maxSteps}); raise maxEvents`,
    );
  if (o.dir) writeFileAtomic(path.join(o.dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return { status: r.status, summary };
}

/** The settings of a run directory (virtual.json), for --resume. */
export function readVirtualSettings(dir: string): VirtualSettings {
  const file = path.join(dir, 'virtual.json');
  if (!fs.existsSync(file)) throw new InputError(`--resume: '${dir}' has no virtual.json (not a --clock virtual run)`);
  const r = VirtualSettingsSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!r.success) throw new InputError(`${file}: ${zodIssues(r.error, 1)}`);
  return r.data;
}

export function defaultSettings(
  profile: Profile,
  maxSteps: number,
  over: Partial<VirtualSettings> = {},
): VirtualSettings {
  return {
    profile,
    compute: 'real',
    surrogate: SurrogateSchema.parse({}) as Surrogate,
    faults: [],
    maxSteps,
    transitions: true,
    maxEvents: 100_000_000,
    ...over,
  };
}
