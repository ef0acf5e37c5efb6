/**
 * Run checkpoints: `checkpoints/step-N/` (weights, optimizer, and the run state — version,
 * accounting, batcher queue, curriculum, fired faults, restart counts) written atomically by
 * saveCheckpoint (temp dir + rename), then `checkpoints/latest` switched atomically
 * (temp file + rename). A reader follows `latest` only, so a half-written step-N is never loaded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { loadCheckpoint, saveCheckpoint } from '../policy/checkpoint.js';
import type { GptConfig } from '../policy/transformer/config.js';
import type { PackedWeights } from '../tensor/pack.js';
import { MAX_VALUE, VOCAB_SIZE } from '../tasks/countdown/tokenizer.js';
import { InputError } from '../util/errors.js';
import type { Disposition } from './batcher.js';
import type { ScoredGroup } from './messages.js';
import { writeFileAtomic } from '../util/atomic.js';

export interface RunState {
  version: number;
  accounting: [string, Disposition | 'generated'][];
  queue: ScoredGroup[];
  curriculum: { stage: number; stepsInStage: number; budgets: Record<string, number>; passRates: number[] };
  faultsFired: string[];
  restarts: Record<string, number>;
  stalenessMax: number;
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
}

const RunStateSchema = z.object({
  version: z.number().int().min(0),
  accounting: z.array(z.tuple([z.string(), z.enum(['generated', 'trained', 'dropped-stale', 'dropped-invalid'])])),
  queue: z.array(
    z.object({ type: z.literal('ScoredGroup'), step: z.number().int(), problemId: z.string() }).passthrough(),
  ),
  curriculum: z.object({
    stage: z.number().int().min(0),
    stepsInStage: z.number().int().min(0),
    budgets: z.record(z.string(), z.number().int()).default({}),
    passRates: z.array(z.number()).default([]),
  }),
  faultsFired: z.array(z.string()),
  restarts: z.record(z.string(), z.number().int().min(0)),
  stalenessMax: z.number().int().min(0),
  tokensGenerated: z.number().int().min(0),
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
  return path.join(runDir, 'checkpoints');
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
  },
): string {
  const root = checkpointsDir(runDir);
  fs.mkdirSync(root, { recursive: true });
  const name = `step-${o.state.version}`;
  saveCheckpoint(
    path.join(root, name),
    {
      kind: 'gpt',
      config: o.gptConfig,
      tokenizer: { name: 'countdown', vocabSize: VOCAB_SIZE, maxValue: MAX_VALUE },
      seed: o.seed,
      command: o.command,
      versions: o.versions,
      step: o.state.version,
      trainState: { run: o.state },
    },
    o.weights,
    o.optimizer,
  );
  writeFileAtomic(path.join(root, 'latest'), name + '\n');
  // Keep the newest `keep` checkpoints (never the one `latest` names).
  const steps = fs
    .readdirSync(root)
    .filter((d) => /^step-\d+$/.test(d))
    .sort((a, b) => Number(b.slice(5)) - Number(a.slice(5)));
  for (const d of steps.slice(o.keep)) if (d !== name) fs.rmSync(path.join(root, d), { recursive: true, force: true });
  return path.join(root, name);
}

export function readRunCheckpoint(
  runDir: string,
): { dir: string; weights: PackedWeights; optimizer?: { state: PackedWeights; step: number }; state: RunState } | null {
  const latest = path.join(checkpointsDir(runDir), 'latest');
  if (!fs.existsSync(latest)) return null;
  const name = fs.readFileSync(latest, 'utf8').trim();
  if (!/^step-\d+$/.test(name)) throw new InputError(`${latest}: expected 'step-N', found '${name.slice(0, 40)}'`);
  const dir = path.join(checkpointsDir(runDir), name);
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
