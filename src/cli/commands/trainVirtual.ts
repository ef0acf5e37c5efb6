/** `e3sim train --clock virtual`: the same config on the discrete-event clock (src/sim). */
import fs from 'node:fs';
import path from 'node:path';
import { totalSteps, type TrainConfig } from '../../runtime/config.js';
import { faultsFromSpecs } from '../../core/faults.js';
import type { SimEngine } from '../../sim/engine.js';
import { wallNow } from '../../runtime/clock.js';
import { printJson } from '../common.js';
import { progress } from '../progress.js';
import { InputError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { signalExitCode, type TrainFlags } from './train.js';
import { latestCheckpointDir } from '../../runtime/checkpointer.js';
import { filteredNote, runDirLines } from './trainEnd.js';

export async function trainVirtual(
  f: TrainFlags,
  cfg: TrainConfig,
  out: string,
  injected: string[],
  maxSteps: number | undefined,
): Promise<void> {
  const [
    { loadProfile },
    { defaultSettings, readVirtualSettings, runVirtual },
    { checkVirtualCurriculum },
    { runVirtualThread },
  ] = await Promise.all([
    import('../../sim/profile.js'),
    import('../../sim/run.js'),
    import('../../sim/policyCompute.js'),
    import('../../sim/runThread.js'),
  ]);
  let settings: ReturnType<typeof readVirtualSettings>;
  if (f.resume) {
    if (f.profile !== undefined || f.compute !== undefined || injected.length || maxSteps !== undefined) {
      throw new InputError(
        '--profile/--compute/--inject/--max-steps: a resumed virtual-clock run keeps the settings in its virtual.json',
      );
    }
    settings = readVirtualSettings(out);
  } else {
    if (f.compute !== undefined && f.compute !== 'real' && f.compute !== 'none')
      throw new InputError(`--compute: expected real or none, got '${f.compute}'`);
    checkVirtualCurriculum(cfg, f.config ?? 'config');
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
  // Real compute runs in its own thread (its events can take minutes; this thread takes the
  // signals and sets the halt flag the run reads between work items). The surrogate runs here and
  // yields to the event loop every 20,000 events.
  const thread =
    settings.compute === 'real'
      ? runVirtualThread({ config: cfg, settings, dir: out, resume: Boolean(f.resume), onStep, onLog })
      : null;
  let engine: SimEngine | null = null;
  let signals = 0;
  let stopSignal: NodeJS.Signals = 'SIGINT';
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1 || (!engine && !thread)) {
      const kept = latestCheckpointDir(out);
      process.stderr.write(
        `\n${sig} again: exiting now; kept: ${kept ? `${path.relative(out, kept)} (continue with e3sim train --resume ${out})` : 'no checkpoint yet'}\n`,
      );
      process.exit(signalExitCode(sig));
    }
    stopSignal = sig;
    if (thread) {
      process.stderr.write(`\n${sig}: stopping at the next work item and writing a checkpoint (again to exit now)\n`);
      thread.halt();
    } else {
      process.stderr.write(
        `\n${sig}: stopping at the next checkpoint (every ${cfg.checkpoint.every} steps; again to exit now)\n`,
      );
      engine!.requestHalt();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let result: Awaited<ReturnType<typeof runVirtual>>;
  try {
    result = thread
      ? await thread.result
      : await runVirtual({
          config: cfg,
          settings,
          dir: out,
          resume: Boolean(f.resume),
          now: wallNow,
          onEngine: (e) => (engine = e),
          onLog,
          onStep,
        });
  } finally {
    bar.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
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
  if (halted) process.exitCode = signalExitCode(stopSignal);
}
