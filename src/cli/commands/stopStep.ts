/**
 * `--max-steps`, one rule on both clocks: a run records the learner step it stops at (the real
 * clock in run.json, the virtual clock in virtual.json, beside config.json); `--resume` keeps it,
 * and `--resume DIR --max-steps N` sets a new one, which must come after the checkpoint the resume
 * starts from (a step at or before it would train nothing). The record is rewritten only once the
 * resume's inputs have been checked, so a refused resume changes nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { RUN_FILES, stepOfDirName } from '../../core/runDir.js';
import { latestCheckpointDir } from '../../runtime/checkpointer.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { InputError } from '../../util/errors.js';
import { zodIssues } from '../../util/zodIssues.js';

/** A `--max-steps` given with `--resume`, checked against the checkpoint the resume starts from. */
export function checkResumedMaxSteps(out: string, maxSteps: number): void {
  const ck = latestCheckpointDir(out);
  const step = ck === null ? null : stepOfDirName(path.basename(ck));
  if (step !== null && maxSteps <= step)
    throw new InputError(
      `${maxSteps} is not after step ${step}, where the run's checkpoint ${path.relative(out, ck!)} resumes it (expected a step after ${step}, or no --max-steps to keep the run's own)`,
      '--max-steps',
    );
}

const RunFileSchema = z.object({ maxSteps: z.number().int().min(1) }).strict();

/** The step a real-clock run records in run.json; undefined for a run from before the record (it trains every stage). */
export function readRealMaxSteps(out: string): number | undefined {
  const file = path.join(out, RUN_FILES.run);
  if (!fs.existsSync(file)) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`${file}: not JSON (${(e as Error).message}); expected {"maxSteps": N}`);
  }
  const r = RunFileSchema.safeParse(body);
  if (!r.success) throw new InputError(`${file}: ${zodIssues(r.error, 1)}`);
  return r.data.maxSteps;
}

/** Records the step a real-clock run stops at (at its start, and at a resume that sets a new one). */
export function writeRealMaxSteps(out: string, maxSteps: number): void {
  writeFileAtomic(path.join(out, RUN_FILES.run), JSON.stringify({ maxSteps }, null, 2) + '\n');
}
