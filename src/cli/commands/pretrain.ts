import fs from 'node:fs';
import { readYaml } from '../../util/yaml.js';
import type { Command } from 'commander';
import { initBackend, parseBackend } from '../../tensor/backend.js';
import { DEFAULT_PRETRAIN, PretrainConfigSchema, runPretrain, type PretrainConfig } from '../../policy/pretrain.js';
import { BASE_KNOBS, NOVERIFY_KNOBS } from '../../tasks/countdown/synth.js';
import { InputError } from '../../util/errors.js';
import { wallNow } from '../../runtime/clock.js';
import { parseIntFlag, parseSeed, printJson, versions } from '../common.js';
import { progress } from '../progress.js';
import { checkTask } from './tasks.js';

export const VARIANTS = { base: BASE_KNOBS, noverify: NOVERIFY_KNOBS } as const;

export function registerPretrain(program: Command): void {
  program
    .command('pretrain')
    .description('supervised pretraining of the tiny GPT on synthesized base traces')
    .requiredOption('--task <task>', 'task (countdown)')
    .requiredOption('--out <dir>', 'checkpoint directory to write')
    .option('--steps <n>', 'optimizer steps', String(DEFAULT_PRETRAIN.steps))
    .option('--seed <s>', 'seed for data and initialisation', '0')
    .option('--backend <b>', 'auto|tensorflow|webgpu|wasm|cpu', 'auto')
    .option('--variant <v>', 'trace synthesizer knobs: base | noverify', 'base')
    .option('--init <dir>', "start from this checkpoint's weights (fine-tuning)")
    .option('--config <file>', 'YAML/JSON overrides of the pretrain config (model, knobs, lr, …)')
    .option('--resume', 'continue the run whose checkpoint is in --out')
    .option(
      '--stop-at <step>',
      'stop (with a checkpoint) at this step; the schedule still runs to --steps, so --resume continues it',
    )
    .option('--json', 'print the result as JSON')
    .action(pretrainCommand);
}

interface PretrainFlags {
  task: string;
  out: string;
  steps: string;
  seed: string;
  backend: string;
  variant: string;
  init?: string;
  config?: string;
  resume?: boolean;
  stopAt?: string;
  json?: boolean;
}

/** `e3sim pretrain`: the flags checked, the run directory's state checked, the run with a progress bar. */
async function pretrainCommand(o: PretrainFlags): Promise<void> {
  checkTask(o.task, ['countdown']);
  const steps = parseIntFlag(o.steps, '--steps', 1, 10_000_000);
  const seed = parseSeed(o.seed);
  const stopAtStep = o.stopAt === undefined ? undefined : parseIntFlag(o.stopAt, '--stop-at', 1, steps);
  if (!(o.variant in VARIANTS)) throw new InputError(`--variant: expected base or noverify, got '${o.variant}'`);
  let cfg: PretrainConfig = { ...DEFAULT_PRETRAIN, knobs: VARIANTS[o.variant as keyof typeof VARIANTS], steps };
  if (o.config) cfg = mergeConfig(cfg, o.config);
  if (!o.resume && fs.existsSync(o.out) && fs.readdirSync(o.out).length > 0) {
    throw new InputError(
      `--out: '${o.out}' already exists and is not empty; pass --resume to continue the run saved there, or choose a new directory`,
    );
  }
  if (o.resume && !fs.existsSync(o.out))
    throw new InputError(`--resume: '${o.out}' does not exist (expected the --out directory of an unfinished run)`);
  const backend = await initBackend(parseBackend(o.backend));
  const command = [
    'e3sim pretrain --task countdown',
    `--out ${o.out}`,
    `--steps ${steps}`,
    `--seed ${seed}`,
    `--variant ${o.variant}`,
    `--backend ${backend.name}`,
    o.init ? `--init ${o.init}` : '',
    o.config ? `--config ${o.config}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  if (!o.json) process.stderr.write(`backend: ${backend.name} (${backend.detail})\n`);
  const bar = progress('pretrain', steps, !!o.json);
  const res = runPretrain({
    out: o.out,
    seed,
    config: cfg,
    command,
    versions: { ...versions(), backend: backend.name },
    init: o.init,
    resume: o.resume,
    stopAtStep,
    now: wallNow,
    onProgress: (p) =>
      bar.update(p.step, {
        loss: p.loss.toFixed(4),
        lr: p.lr.toExponential(2),
        'tok/s': p.tokensPerSec.toFixed(0),
      }),
  });
  bar.stop();
  if (o.json) printJson({ out: o.out, ...res });
  else
    process.stdout.write(
      `wrote ${o.out}: ${res.steps} steps, loss ${res.finalLoss.toFixed(4)}, ${res.trainedTokens} trained tokens in ${res.seconds.toFixed(0)} s\n`,
    );
}

function mergeConfig(base: PretrainConfig, file: string): PretrainConfig {
  const raw = readYaml(file, '--config');
  const merged = { ...base, ...(raw as object) } as Record<string, unknown>;
  for (const k of ['model', 'knobs'] as const)
    merged[k] = { ...base[k], ...((raw as Record<string, object>)?.[k] ?? {}) };
  const parsed = PretrainConfigSchema.strict().safeParse(merged);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new InputError(`--config ${file}: field '${i.path.join('.')}': ${i.message}`);
  }
  return parsed.data;
}
