/** `e3sim train --clock virtual`: the same config on the discrete-event clock (src/sim). */
import fs from 'node:fs';
import path from 'node:path';
import { totalSteps, type TrainConfig } from '../../runtime/config.js';
import { faultsFromSpecs } from '../../core/faults.js';
import { printJson } from '../common.js';
import { progress } from '../progress.js';
import { InputError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import type { TrainFlags } from './train.js';
import { filteredNote, runDirLines } from './trainEnd.js';
import { signalExitCode } from '../../runtime/runLock.js';

export async function trainVirtual(
  f: TrainFlags,
  cfg: TrainConfig,
  out: string,
  injected: string[],
  maxSteps: number | undefined,
  startup: { off(): void },
): Promise<void> {
  const [
    { loadProfile },
    { defaultSettings, readVirtualSettings },
    { checkVirtualCurriculum },
    { runVirtualWithSignals },
  ] = await Promise.all([
    import('../../sim/profile.js'),
    import('../../sim/run.js'),
    import('../../sim/curriculum.js'),
    import('../../sim/runThread.js'),
  ]);
  let settings: ReturnType<typeof readVirtualSettings>;
  if (f.resume) {
    if (f.profile !== undefined || f.compute !== undefined) {
      throw new InputError('--profile/--compute: a resumed virtual-clock run keeps the settings in its virtual.json');
    }
    // --max-steps sets a new step to stop at (checked against the checkpoint: runFlags.ts), written at the run's start
    const kept = readVirtualSettings(out);
    settings = maxSteps === undefined ? kept : { ...kept, maxSteps };
  } else {
    if (f.compute !== undefined && f.compute !== 'real' && f.compute !== 'none')
      throw new InputError(`--compute: expected real or none, got '${f.compute}'`);
    checkVirtualCurriculum(cfg, (f.compute ?? 'real') as 'real' | 'none', f.config ?? 'config');
    const profile = loadProfile(f.profile ?? 'cpu-tiny', '--profile');
    settings = defaultSettings(profile, maxSteps ?? totalSteps(cfg), {
      compute: (f.compute ?? 'real') as 'real' | 'none',
      faults: faultsFromSpecs([...cfg.faults, ...injected]),
    });
    fs.mkdirSync(out, { recursive: true });
    writeFileAtomic(path.join(out, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  }
  const quiet = Boolean(f.quiet || f.json);
  const bar = progress(`train ${cfg.name} (virtual clock)`, settings.maxSteps, quiet);
  const onLog = quiet ? undefined : (s: string) => process.stderr.write(`${s}\n`);
  const onStep = (m: Record<string, unknown>) =>
    bar.update(m.step as number, {
      t: `${(m.t as number).toFixed(1)}s`,
      pass: (m.passRate as number).toFixed(3),
      len: (m.lengthMean as number).toFixed(1),
      stale: `${(m.stalenessMean as number).toFixed(2)}/${m.stalenessMax}`,
    });
  let result: Awaited<ReturnType<typeof runVirtualWithSignals>>;
  try {
    // the run's own handlers from here: runVirtualWithSignals takes the start-up guard off once they are on
    result = await runVirtualWithSignals({
      config: cfg,
      settings,
      dir: out,
      resume: Boolean(f.resume),
      onStep,
      onLog,
      resumeHint: `e3sim train --resume ${out}`,
      startup,
    });
  } finally {
    bar.stop();
  }
  reportEnd(f, out, result);
}

/** What a virtual-clock run prints at its end (or at an interrupt): the summary, the run directory, the exit code. */
function reportEnd(
  f: TrainFlags,
  out: string,
  result: { summary: Record<string, unknown>; status: string; stopSignal?: NodeJS.Signals | null | undefined },
): void {
  const s = result.summary as Record<string, number | string | Record<string, number>>;
  const halted = result.status === 'halted';
  if (f.json) printJson({ ...s, runDir: out });
  else {
    const st = s.staleness as Record<string, number>;
    process.stdout.write(
      `${halted ? 'interrupted' : 'finished'} at step ${s.steps} (simulated ${(s.simSeconds as number).toFixed(1)} s, ${s.events} events): ${s.rolloutsTrained} rollouts trained, ` +
        (`${s.rolloutsDroppedStale} dropped stale, ${s.rolloutsDroppedInvalid} invalid, ${filteredNote(s)}${s.rolloutsLost}` +
          ` lost; staleness mean ${st.mean!.toFixed(2)} max ${st.max} (bound ${s.stalenessBound}` +
          `); ${s.restarts} restarts\n`),
    );
    process.stdout.write(runDirLines(out, halted));
  }
  if (halted) process.exitCode = signalExitCode(result.stopSignal ?? 'SIGINT');
}
