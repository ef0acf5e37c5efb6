/**
 * The flags a run keeps, one rule on both clocks: a run records the learner step it stops at
 * (`--max-steps`, else the curriculum's every step) and the faults it was started with (`--inject`)
 * beside config.json — the real clock in run.json, the virtual clock in virtual.json with its
 * other settings — so that `--resume DIR` continues the run it was, a resumed piece firing the
 * faults its checkpoint has not seen fire. `--resume DIR --max-steps N` sets a new step to stop at,
 * which must come after the checkpoint the resume starts from (a step at or before it would train
 * nothing); `--inject` on a resume is refused. The record is rewritten only once the resume's
 * inputs have been checked, so a refused resume changes nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { parseFault } from '../../core/faults.js';
import { RUN_FILES, stepOfDirName } from '../../core/runDir.js';
import { latestCheckpointDir } from '../../runtime/checkpointer.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { InputError } from '../../util/errors.js';
import { zodIssues } from '../../util/zodIssues.js';

/** The flags checked with `--resume`: a new step to stop at after the checkpoint's, no new faults. */
export function checkResumeFlags(out: string, maxSteps: number | undefined, inject: readonly string[]): void {
  if (inject.length)
    throw new InputError(
      `a resumed run keeps the faults it was started with (${RUN_FILES.run} on the real clock, ${RUN_FILES.virtual} on the virtual clock); start a new run to inject others`,
      '--inject',
    );
  if (maxSteps === undefined) return;
  const ck = latestCheckpointDir(out);
  const step = ck === null ? null : stepOfDirName(path.basename(ck));
  if (step !== null && maxSteps <= step)
    throw new InputError(
      `${maxSteps} is not after step ${step}, where the run's checkpoint ${path.relative(out, ck!)} resumes it (expected a step after ${step}, or no --max-steps to keep the run's own)`,
      '--max-steps',
    );
}

/** What a real-clock run records in run.json. */
export interface RealRunFlags {
  maxSteps: number;
  /** The `--inject` specs (the config's own faults are in config.json). */
  inject: string[];
}

const RunFileSchema = z
  .object({
    maxSteps: z.number().int().min(1),
    // written before the faults were recorded: none
    inject: z.array(z.string().max(200)).max(64).default([]),
  })
  .strict();

/** run.json of a real-clock run; null for a run from before the record (it trains every stage, without --inject faults). */
export function readRealRunFlags(out: string): RealRunFlags | null {
  const file = path.join(out, RUN_FILES.run);
  if (!fs.existsSync(file)) return null;
  let body: unknown;
  try {
    body = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`${file}: not JSON (${(e as Error).message}); expected {"maxSteps": N, "inject": [...]}`);
  }
  const r = RunFileSchema.safeParse(body);
  if (!r.success) throw new InputError(`${file}: ${zodIssues(r.error, 1)}`);
  r.data.inject.forEach((spec, i) => {
    try {
      parseFault(spec);
    } catch (e) {
      throw new InputError(`${file}: inject.${i}: ${(e as Error).message}`);
    }
  });
  return r.data;
}

/** Records a real-clock run's flags (at its start, and at a resume that sets a new step to stop at). */
export function writeRealRunFlags(out: string, flags: RealRunFlags): void {
  writeFileAtomic(path.join(out, RUN_FILES.run), JSON.stringify(flags, null, 2) + '\n');
}
