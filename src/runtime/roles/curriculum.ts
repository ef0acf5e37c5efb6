/**
 * The curriculum on the real clock: the curriculum core's effects (steps/curriculum.ts, its machine
 * deciding) — measurements on the evaluation thread, lines, buckets.json, transitions, the pump.
 */
import fs from 'node:fs';
import path from 'node:path';
import { errorText } from '../../../machines/util.js';
import type { ProblemSpec } from '../../curriculum/controller.js';
import type { Bucket } from '../../curriculum/buckets.js';
import type { CurriculumEffect, CurriculumEvent } from '../../steps/curriculum.js';
import type { LadderMeasurement } from '../../eval/countdown.js';
import { writeFileAtomic } from '../../util/atomic.js';
import type { TrainingRun } from '../run.js';
import { pump } from './planning.js';
import { onEvalThread } from './evaluation.js';

/** J over `ladder` measured on sampler-0's thread (or the local eval thread) at the published version. */
export function measureOnSampler(
  run: TrainingRun,
  problems: ProblemSpec[],
  ladder: number[],
  samples: number,
  k: number,
  label: string,
): Promise<LadderMeasurement> {
  return onEvalThread(
    run,
    `measure ${label}`,
    run.topo.published,
    (api, weights) =>
      api.measure({
        version: run.topo.published,
        weights,
        problems,
        ladder,
        samples,
        k,
        temperature: run.cfg.rollout.temperature,
        seed: run.cfg.seed,
      }),
    run.cfg.limits.samplerTimeoutMs,
  );
}

/** One event into the core's curriculum step (steps/curriculum.ts), its effects carried out on this clock. */
export function stepCurriculum(run: TrainingRun, ev: CurriculumEvent): void {
  for (const e of run.curriculum.step(ev)) carryOutCurriculum(run, e);
}

/**
 * The run's start: a resumed run's difficulty buckets back from its checkpoint (from buckets.json
 * for a checkpoint from before they were kept), then the curriculum starts (what it has not
 * measured yet first: a new run's buckets, or those of a run whose checkpoint came before them).
 */
export function startCurriculum(run: TrainingRun): void {
  if (run.cur.usesBuckets()) {
    const ck = run.resumed?.state;
    const kept = ck === undefined ? null : 'buckets' in ck ? ck.buckets : bucketsFile(run);
    if (kept) run.cur.restoreBuckets(kept);
  }
  stepCurriculum(run, { type: 'start' });
}

/** The assignment in buckets.json, or null without the file. */
function bucketsFile(run: TrainingRun): Record<string, Bucket> | null {
  const file = path.join(run.dir, 'buckets.json');
  if (!fs.existsSync(file)) return null;
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { assignment: Record<string, Bucket> }).assignment;
}

function carryOutCurriculum(run: TrainingRun, e: CurriculumEffect): void {
  switch (e.type) {
    case 'measure':
      // on sampler-0's thread (or the local eval thread) at the published version; the answer is the next event
      measureOnSampler(run, e.problems, e.ladder, e.samples, e.k, e.label).then(
        (m) => stepCurriculum(run, { type: 'measured', m }),
        (err: unknown) => stepCurriculum(run, { type: 'measureFailed', error: errorText(err) }),
      );
      break;
    case 'line':
      run.writeLine(e.line);
      break;
    case 'log':
      run.log(e.text);
      break;
    case 'bucketsFile':
      writeFileAtomic(path.join(run.dir, 'buckets.json'), JSON.stringify(e.file, null, 2) + '\n');
      break;
    case 'pump':
      setImmediate(() => pump(run));
      break;
    case 'transition':
      run.transitions.record('curriculum', 'curriculum', e.from, e.to, e.event);
      break;
    case 'fail':
      run.abort(e.message);
      break;
  }
}
