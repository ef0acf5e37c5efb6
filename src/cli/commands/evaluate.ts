import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { initBackend, parseBackend } from '../../tensor/backend.js';
import { loadCountdownPolicy } from '../../policy/load.js';
import { evalBudgets, vgGap } from '../../eval/countdown.js';
import { checkDifficulty } from '../../tasks/countdown/problems.js';
import type { Gpt } from '../../policy/transformer/model.js';
import { parseFloatFlag, parseIntFlag, parseIntList, parseSeed, printJson } from '../common.js';
import { checkTask } from './tasks.js';

const fmt = (x: number) => x.toFixed(3);
type Opts = Record<string, string | boolean | undefined>;

/** The options vg-gap and eval share: which checkpoint, which problems, how to sample. */
function sharedOptions(cmd: Command, defaults: { problems: number; samples: number }): Command {
  return cmd
    .requiredOption('--checkpoint <dir>', 'checkpoint directory')
    .requiredOption('--task <task>', 'task (countdown)')
    .option('--difficulty <d>', 'numbers per problem (3..6)', '3')
    .option('--problems <n>', 'held-out problems', String(defaults.problems))
    .option('--samples <n>', 'samples per problem', String(defaults.samples))
    .option('--temperature <t>', 'sampling temperature', '1')
    .option('--seed <s>', 'eval-set and sampling seed', '0')
    .option('--batch <n>', 'sequences per sampling batch', '256')
    .option('--backend <b>', 'auto|tensorflow|webgpu|wasm|cpu', 'auto')
    .option('--json', 'print JSON');
}

interface Shared {
  model: Gpt;
  difficulty: number;
  problems: number;
  samples: number;
  temperature: number;
  seed: number;
  batchSize: number;
  onProgress?: (s: string) => void;
}

/** Validates the shared flags (all before any work), starts the backend, loads the checkpoint. */
async function parseShared(o: Opts): Promise<Shared> {
  checkTask(String(o.task), ['countdown']);
  const parsed = {
    difficulty: checkDifficulty(parseIntFlag(String(o.difficulty), '--difficulty', -1e9)),
    problems: parseIntFlag(String(o.problems), '--problems', 1, 100_000),
    samples: parseIntFlag(String(o.samples), '--samples', 1, 10_000),
    temperature: parseFloatFlag(String(o.temperature), '--temperature', 1e-3, 10),
    seed: parseSeed(String(o.seed)),
    batchSize: parseIntFlag(String(o.batch), '--batch', 1, 65_536),
  };
  const backend = await initBackend(parseBackend(String(o.backend)));
  if (!o.json) process.stderr.write(`backend: ${backend.name} (${backend.detail})\n`);
  const { model } = loadCountdownPolicy(String(o.checkpoint));
  return { ...parsed, model, onProgress: o.json ? undefined : (s) => process.stderr.write(`  ${s}\n`) };
}

export function registerEvaluate(program: Command): void {
  sharedOptions(program.command('vg-gap'), { problems: 128, samples: 4 })
    .description('measure the verification–generation gap of a countdown checkpoint')
    .option('--chains <list>', 'forced chain counts for passAtChains', '1,2,4,8')
    .action(async (o: Opts) => {
      const chains = parseIntList(String(o.chains), '--chains', 1, 64);
      const s = await parseShared(o);
      const r = vgGap(s.model, { ...s, chains });
      if (o.json) return printJson({ checkpoint: o.checkpoint, ...r });
      const lines = [
        `vg-gap of ${o.checkpoint} on ${r.problems} held-out ${s.difficulty}-number problems × ${s.samples} samples (T=${s.temperature})`,
        `  arithmeticAccuracy    ${fmt(r.arithmeticAccuracy)}   (${r.counts.steps} written steps)`,
        `  verificationAccuracy  ${fmt(r.verificationAccuracy)}   (${r.counts.verdicts} verdicts)`,
        `  attemptSuccess        ${fmt(r.attemptSuccess)}   (${r.counts.attempts} attempts)`,
        `  meanAttempts          ${r.meanAttempts.toFixed(2)}`,
        `  meanLengthTokens      ${r.meanLengthTokens.toFixed(1)}`,
        `  pass@1 (natural)      ${fmt(r.passAt1)}`,
        ...Object.entries(r.passAtChains).map(([c, v]) => `  passAtChains[${c}]`.padEnd(24) + fmt(v)),
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });

  sharedOptions(program.command('eval'), { problems: 64, samples: 8 })
    .description('pass@k and trace statistics of a checkpoint at several test budgets (truncation)')
    .option('--budgets <list>', 'test budgets in tokens', '32,64,128,256')
    .option('--k <list>', 'k values for pass@k', '1,4')
    .option('--out <file>', 'also write the JSON result (with per-problem counts) to this file')
    .action(async (o: Opts) => {
      const budgets = parseIntList(String(o.budgets), '--budgets', 1, 1_000_000);
      const ks = parseIntList(String(o.k), '--k', 1, 10_000);
      if (o.out !== undefined && !fs.existsSync(path.dirname(String(o.out))))
        throw new InputError(`--out: the directory of '${o.out}' does not exist`);
      const s = await parseShared(o);
      const r = evalBudgets(s.model, { ...s, budgets, ks });
      if (o.out !== undefined)
        writeFileAtomic(String(o.out), JSON.stringify({ checkpoint: o.checkpoint, ...r }) + '\n');
      if (o.json) return printJson({ checkpoint: o.checkpoint, ...r });
      const head = ['budget', ...ks.map((k) => `pass@${k}`), 'len', 'lenCorrect', 'lenWrong', 'attempts', 'entropy'];
      const rows = r.budgets.map((b) => [
        String(b.budget),
        ...ks.map((k) => fmt(b.passAt[String(k)]!)),
        b.meanLength.toFixed(1),
        b.meanLengthCorrect?.toFixed(1) ?? '-',
        b.meanLengthIncorrect?.toFixed(1) ?? '-',
        b.meanAttempts.toFixed(2),
        b.entropy.toFixed(3),
      ]);
      process.stdout.write(
        `${o.checkpoint}: ${r.problems} held-out ${s.difficulty}-number problems × ${s.samples} samples (T=${s.temperature})\n`,
      );
      process.stdout.write([head, ...rows].map((row) => row.map((c) => c.padStart(12)).join('')).join('\n') + '\n');
    });
}
