/**
 * Run checkpoints: `checkpoints/step-N/` (weights, optimizer, and the run state — version,
 * accounting, batcher queue, curriculum, fired faults, restart counts) written whole by
 * commitCheckpoint (temp dir + rename), then `checkpoints/latest` switched atomically. A reader
 * follows `latest` only, so a half-written step-N is never loaded. The layout is core/runDir.ts;
 * the virtual clock commits its checkpoints with the same function.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { loadCheckpoint, writeCheckpointFiles } from '../policy/checkpoint.js';
import { RUN_FILES, checkpointsToRemove, stepDirName, stepOfDirName } from '../core/runDir.js';
import type { GptConfig } from '../policy/transformer/config.js';
import type { PackedWeights } from '../tensor/pack.js';
import { MAX_VALUE, VOCAB_SIZE } from '../tasks/countdown/tokenizer.js';
import { InputError } from '../util/errors.js';
import type { SettledCounts } from '../core/ledger.js';
import type { Disposition } from '../core/staleness.js';
import { noFilterTotals, type FilterTotals } from '../core/dynamicSampling.js';
import type { LearnState } from '../core/topology.js';
import type { UpdateTotals } from '../core/update.js';
import { BUCKETS, type TrainConfig } from './config.js';
import { ProblemSchema, type ScoredGroup } from './messages.js';
import type { StepPlan } from '../curriculum/controller.js';
import type { Bucket } from '../curriculum/buckets.js';
import { sweepTemporaries, writeDirAtomic, writeFileAtomic } from '../util/atomic.js';

export interface RunState {
  version: number;
  accounting: [string, Disposition | 'generated'][];
  /** The ledger's folded steps (absent in checkpoints from before folding: every entry is in `accounting`). */
  accountingSettled?: SettledCounts;
  queue: ScoredGroup[];
  curriculum: { stage: number; stepsInStage: number; budgets: Record<string, number>; passRates: number[] };
  /**
   * A dynamic curriculum's plans of the steps planned and not yet trained, by step: a resume trains
   * them as they were planned (as the virtual clock's checkpoint keeps them), not as the stage now
   * would. Absent for a fixed list (a pure function of seed and step) and in earlier checkpoints.
   */
  plans?: Record<string, StepPlan>;
  /**
   * The difficulty buckets by problem id, when a stage uses them: as measured before the checkpoint,
   * or null when the checkpoint came first (the resume measures them again, writing buckets.json
   * and its metrics line again: the log was cut back to before it). Absent in earlier checkpoints,
   * whose resume reads buckets.json.
   */
  buckets?: Record<string, Bucket> | null;
  faultsFired: string[];
  restarts: Record<string, number>;
  /**
   * The topology's versions and the update's totals (core/topology TopologyState, less the planner's
   * queues: a resume plans again from the step after `version`). Absent in checkpoints of earlier
   * versions, which held `stalenessMax`, `tokensTrained` and `filterTotals` loose (topologyTotals).
   */
  topology?: Omit<LearnState, 'formedThrough'>;
  /** Earlier versions' loose totals (now in `topology`). */
  stalenessMax?: number;
  tokensTrained?: number;
  filterTotals?: FilterTotals;
  tokensGenerated: number;
  /**
   * The run's logs at the moment this state was taken: byte lengths of metrics.jsonl,
   * transitions.jsonl and trace.json, and the run clock (ms). A resume truncates each log to its
   * length here, so what was written after the checkpoint (and is redone) appears once.
   * Absent in checkpoints of earlier versions (their logs are appended to as before).
   */
  logs?: { metrics: number; transitions: number; trace: number; tMs: number };
  /** Evaluations requested at this version and not yet written: a resume runs them again. */
  evalsPending?: number[];
  /** Wall time of the run so far, all pieces to this checkpoint (ms; absent in earlier checkpoints: 0). */
  wallMs?: number;
}

const FilterTotalsSchema = z.object({
  groupsFiltered: z.number().int().min(0),
  backfillGroups: z.number().int().min(0),
  stepsStarved: z.number().int().min(0),
});

const RunStateSchema = z.object({
  version: z.number().int().min(0),
  accounting: z.array(
    z.tuple([
      // step/slot/sample, or step/slot:problem/sample (a rollout id, in checkpoints before the dense ledger)
      z.string().regex(/^\d+\/\d+(:.*)?\/\d+$/, 'expected a rollout step/slot/sample'),
      z.enum(['generated', 'trained', 'dropped-stale', 'dropped-invalid', 'dropped-filtered']),
    ]),
  ),
  accountingSettled: z
    .object({
      through: z.number().int().min(0),
      trained: z.number().int().min(0),
      droppedStale: z.number().int().min(0),
      droppedInvalid: z.number().int().min(0),
      droppedFiltered: z.number().int().min(0),
    })
    .strict()
    .optional(),
  queue: z.array(
    z.object({ type: z.literal('ScoredGroup'), step: z.number().int(), problemId: z.string() }).passthrough(),
  ),
  curriculum: z.object({
    stage: z.number().int().min(0),
    stepsInStage: z.number().int().min(0),
    budgets: z.record(z.string(), z.number().int()).default({}),
    passRates: z.array(z.number()).default([]),
  }),
  plans: z
    .record(
      z.string().regex(/^\d+$/, 'expected a step number'),
      z
        .object({
          stage: z.number().int().min(0),
          budgetTokens: z.number().int().min(1),
          problems: z.array(ProblemSchema.strict()),
        })
        .strict(),
    )
    .optional(),
  buckets: z.record(z.string(), z.enum(BUCKETS)).nullable().optional(),
  faultsFired: z.array(z.string()),
  restarts: z.record(z.string(), z.number().int().min(0)),
  topology: z
    .object({
      learnerVersion: z.number().int().min(0),
      published: z.number().int().min(0),
      stalenessMax: z.number().int().min(0),
      tokensTrained: z.number().int().min(0),
      filterTotals: FilterTotalsSchema,
      learnerTrained: z.number().int().min(0),
    })
    .strict()
    .optional(),
  stalenessMax: z.number().int().min(0).optional(),
  tokensGenerated: z.number().int().min(0),
  tokensTrained: z.number().int().min(0).optional(),
  wallMs: z.number().min(0).optional(),
  filterTotals: FilterTotalsSchema.optional(),
  logs: z
    .object({
      metrics: z.number().int().min(0),
      transitions: z.number().int().min(0),
      trace: z.number().int().min(0),
      tMs: z.number().min(0),
    })
    .optional(),
  evalsPending: z.array(z.number().int().min(0)).optional(),
});

export function checkpointsDir(runDir: string): string {
  return path.join(runDir, RUN_FILES.checkpoints);
}

/**
 * Both clocks' checkpoint commit (core/runDir.ts): `fill` writes checkpoints/step-N's files into a
 * temporary directory that is renamed into place whole, then `latest` is switched to it, then all
 * but the newest `keep` step directories are removed. Returns the step directory.
 */
export function commitCheckpoint(
  runDir: string,
  step: number,
  keep: number,
  config: TrainConfig,
  fill: (tmp: string) => void,
): string {
  const root = checkpointsDir(runDir);
  fs.mkdirSync(root, { recursive: true });
  const name = stepDirName(step);
  writeDirAtomic(path.join(root, name), (tmp) => {
    fill(tmp);
    // The resolved config the run was started with: a resume compares config.json with it.
    fs.writeFileSync(path.join(tmp, RUN_CONFIG_FILE), JSON.stringify(config) + '\n');
  });
  writeFileAtomic(path.join(root, RUN_FILES.latest), name + '\n');
  for (const d of checkpointsToRemove(fs.readdirSync(root), keep, name))
    fs.rmSync(path.join(root, d), { recursive: true, force: true });
  return path.join(root, name);
}

/**
 * Before a resume, under the run lock: the temporaries an interrupted run left (a checkpoint
 * half-written when the disk filled, a file rename cut by SIGKILL) are removed from the run
 * directory and checkpoints/. Returns a line per thing done.
 */
export function sweepRunDir(runDir: string): string[] {
  return [...sweepTemporaries(runDir), ...sweepTemporaries(checkpointsDir(runDir))];
}

/** The directory `checkpoints/latest` names, or null when there is no checkpoint yet. */
export function latestCheckpointDir(runDir: string): string | null {
  const latest = path.join(checkpointsDir(runDir), RUN_FILES.latest);
  if (!fs.existsSync(latest)) return null;
  const name = fs.readFileSync(latest, 'utf8').trim();
  if (stepOfDirName(name) === null) throw new InputError(`${latest}: expected 'step-N', found '${name.slice(0, 40)}'`);
  return path.join(checkpointsDir(runDir), name);
}

/**
 * The update's totals a resume starts from: the checkpoint's `topology`, checked against the ledger
 * (`trainedInLedger`, the trained rollouts its entries and folded steps count — the learner's own
 * count must equal it) and its `version` (taken between steps: learner and weight store both at
 * it); or an earlier version's loose fields, the learner's count then taken from the ledger.
 */
export function topologyTotals(ck: { dir: string; state: RunState }, trainedInLedger: number): UpdateTotals {
  const s = ck.state;
  const t = s.topology;
  if (!t)
    return {
      stalenessMax: s.stalenessMax ?? 0,
      tokensTrained: s.tokensTrained ?? 0,
      filterTotals: s.filterTotals ?? noFilterTotals(),
      learnerTrained: trainedInLedger,
    };
  const bad = (field: string, got: number, want: number, what: string) =>
    new InputError(`checkpoint ${ck.dir}: run state topology.${field}: expected ${want} (${what}), got ${got}`);
  if (t.learnerVersion !== s.version) throw bad('learnerVersion', t.learnerVersion, s.version, 'the version');
  if (t.published !== s.version) throw bad('published', t.published, s.version, 'the version');
  if (t.learnerTrained !== trainedInLedger)
    throw bad('learnerTrained', t.learnerTrained, trainedInLedger, "the ledger's trained rollouts");
  const { stalenessMax, tokensTrained, filterTotals, learnerTrained } = t;
  return { stalenessMax, tokensTrained, filterTotals, learnerTrained };
}

export function writeRunCheckpoint(
  runDir: string,
  o: {
    gptConfig: GptConfig;
    seed: number;
    command: string;
    versions: Record<string, string>;
    weights: PackedWeights;
    optimizer?: { state: PackedWeights; step: number };
    state: RunState;
    keep: number;
    trainConfig: TrainConfig;
  },
): string {
  const manifest = {
    kind: 'gpt' as const,
    config: o.gptConfig,
    tokenizer: { name: 'countdown', vocabSize: VOCAB_SIZE, maxValue: MAX_VALUE },
    seed: o.seed,
    command: o.command,
    versions: o.versions,
    step: o.state.version,
    trainState: { run: o.state },
  };
  return commitCheckpoint(runDir, o.state.version, o.keep, o.trainConfig, (tmp) =>
    writeCheckpointFiles(tmp, manifest, o.weights, o.optimizer),
  );
}

export function readRunCheckpoint(
  runDir: string,
): { dir: string; weights: PackedWeights; optimizer?: { state: PackedWeights; step: number }; state: RunState } | null {
  const dir = latestCheckpointDir(runDir);
  if (!dir) return null;
  const ck = loadCheckpoint(dir, { optimizer: true });
  const raw = (ck.manifest.trainState as { run?: unknown } | undefined)?.run;
  const r = RunStateSchema.safeParse(raw);
  if (!r.success)
    throw new InputError(
      `checkpoint ${dir}: run state ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`,
    );
  return {
    dir,
    weights: ck.weights,
    optimizer: ck.optimizer ? { state: ck.optimizer, step: ck.manifest.optimizer!.step } : undefined,
    state: r.data as unknown as RunState,
  };
}

/** The resolved config recorded in each checkpoint (both clocks). */
export const RUN_CONFIG_FILE = 'run-config.json';

/**
 * `--resume`: the run's config.json must be the config its last checkpoint recorded — a
 * hand-edited seed, learning rate or group size would be mixed into the resumed run. Exit 2
 * naming the fields that differ. Checkpoints written before this check record nothing: accepted.
 */
export function checkResumeConfig(runDir: string, cfg: TrainConfig): void {
  const dir = latestCheckpointDir(runDir);
  const file = dir ? path.join(dir, RUN_CONFIG_FILE) : null;
  if (!file || !fs.existsSync(file)) return;
  const recorded = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  const fields = differingFields(recorded, JSON.parse(JSON.stringify(cfg)) as unknown);
  if (fields.length === 0) return;
  throw new InputError(
    `--resume: ${path.join(runDir, 'config.json')} differs from the config the run's checkpoint ${dir} recorded, in ${fields.slice(0, 8).join(', ')}${fields.length > 8 ? ` and ${fields.length - 8} more` : ''}; a run resumes with the config it was started with (restore config.json, or start a new run with the new settings)`,
  );
}

/** Dotted paths of the leaves where `a` and `b` differ. */
function differingFields(a: unknown, b: unknown, at = ''): string[] {
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => differingFields(a[k], b[k], at ? `${at}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [at || '(the whole config)'];
}
