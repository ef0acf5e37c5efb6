import type { Command } from 'commander';
import { initBackend, parseBackend } from '../../tensor/backend.js';
import { loadCountdownPolicy } from '../../policy/load.js';
import { evalBudgets, vgGap } from '../../eval/countdown.js';
import { checkDifficulty } from '../../tasks/countdown/problems.js';
import { parseFloatFlag, parseIntFlag, parseIntList, parseSeed, printJson } from '../common.js';
import { checkTask } from './tasks.js';

const pct = (x: number) => x.toFixed(3);

export function registerEvaluate(program: Command): void {
  program.command('vg-gap')
    .description('measure the verification–generation gap of a countdown checkpoint')
    .requiredOption('--checkpoint <dir>', 'checkpoint directory')
    .requiredOption('--task <task>', 'task (countdown)')
    .option('--difficulty <d>', 'numbers per problem (3..6)', '3')
    .option('--problems <n>', 'held-out problems', '128')
    .option('--samples <n>', 'samples per problem', '4')
    .option('--chains <list>', 'forced chain counts for passAtChains', '1,2,4,8')
    .option('--temperature <t>', 'sampling temperature', '1')
    .option('--seed <s>', 'eval-set and sampling seed', '0')
    .option('--batch <n>', 'sequences per sampling batch', '256')
    .option('--backend <b>', 'auto|tensorflow|webgpu|wasm|cpu', 'auto')
    .option('--json', 'print JSON')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      checkTask(String(o.task), ['countdown']);
      const difficulty = checkDifficulty(parseIntFlag(String(o.difficulty), '--difficulty', -1e9));
      const problems = parseIntFlag(String(o.problems), '--problems', 1, 100_000);
      const samples = parseIntFlag(String(o.samples), '--samples', 1, 10_000);
      const chains = parseIntList(String(o.chains), '--chains', 1, 64);
      const temperature = parseFloatFlag(String(o.temperature), '--temperature', 1e-3, 10);
      const seed = parseSeed(String(o.seed));
      const batchSize = parseIntFlag(String(o.batch), '--batch', 1, 65_536);
      const backend = await initBackend(parseBackend(String(o.backend)));
      const { model } = loadCountdownPolicy(String(o.checkpoint));
      if (!o.json) process.stderr.write(`backend: ${backend.name} (${backend.detail})\n`);
      const r = vgGap(model, { difficulty, problems, samples, chains, seed, temperature, batchSize, onProgress: o.json ? undefined : (s) => process.stderr.write(`  ${s}\n`) });
      if (o.json) return printJson({ checkpoint: o.checkpoint, ...r });
      const lines = [
        `vg-gap of ${o.checkpoint} on ${r.problems} held-out ${difficulty}-number problems × ${samples} samples (T=${temperature})`,
        `  arithmeticAccuracy    ${pct(r.arithmeticAccuracy)}   (${r.counts.steps} written steps)`,
        `  verificationAccuracy  ${pct(r.verificationAccuracy)}   (${r.counts.verdicts} verdicts)`,
        `  attemptSuccess        ${pct(r.attemptSuccess)}   (${r.counts.attempts} attempts)`,
        `  meanAttempts          ${r.meanAttempts.toFixed(2)}`,
        `  meanLengthTokens      ${r.meanLengthTokens.toFixed(1)}`,
        `  pass@1 (natural)      ${pct(r.passAt1)}`,
        ...Object.entries(r.passAtChains).map(([c, v]) => `  passAtChains[${c}]`.padEnd(24) + pct(v)),
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });

  program.command('eval')
    .description('pass@k and trace statistics of a checkpoint at several test budgets (truncation)')
    .requiredOption('--checkpoint <dir>', 'checkpoint directory')
    .requiredOption('--task <task>', 'task (countdown)')
    .option('--difficulty <d>', 'numbers per problem (3..6)', '3')
    .option('--budgets <list>', 'test budgets in tokens', '32,64,128,256')
    .option('--samples <n>', 'samples per problem', '8')
    .option('--k <list>', 'k values for pass@k', '1,4')
    .option('--problems <n>', 'held-out problems', '64')
    .option('--temperature <t>', 'sampling temperature', '1')
    .option('--seed <s>', 'eval-set and sampling seed', '0')
    .option('--batch <n>', 'sequences per sampling batch', '256')
    .option('--backend <b>', 'auto|tensorflow|webgpu|wasm|cpu', 'auto')
    .option('--json', 'print JSON')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      checkTask(String(o.task), ['countdown']);
      const difficulty = checkDifficulty(parseIntFlag(String(o.difficulty), '--difficulty', -1e9));
      const budgets = parseIntList(String(o.budgets), '--budgets', 1, 1_000_000);
      const samples = parseIntFlag(String(o.samples), '--samples', 1, 10_000);
      const ks = parseIntList(String(o.k), '--k', 1, 10_000);
      const problems = parseIntFlag(String(o.problems), '--problems', 1, 100_000);
      const temperature = parseFloatFlag(String(o.temperature), '--temperature', 1e-3, 10);
      const seed = parseSeed(String(o.seed));
      const batchSize = parseIntFlag(String(o.batch), '--batch', 1, 65_536);
      const backend = await initBackend(parseBackend(String(o.backend)));
      const { model } = loadCountdownPolicy(String(o.checkpoint));
      if (!o.json) process.stderr.write(`backend: ${backend.name} (${backend.detail})\n`);
      const r = evalBudgets(model, { difficulty, budgets, samples, ks, problems, seed, temperature, batchSize, onProgress: o.json ? undefined : (s) => process.stderr.write(`  ${s}\n`) });
      if (o.json) return printJson({ checkpoint: o.checkpoint, ...r });
      const head = ['budget', ...ks.map((k) => `pass@${k}`), 'len', 'lenCorrect', 'lenWrong', 'attempts', 'entropy'];
      const rows = r.budgets.map((b) => [String(b.budget), ...ks.map((k) => pct(b.passAt[String(k)]!)), b.meanLength.toFixed(1),
        b.meanLengthCorrect?.toFixed(1) ?? '-', b.meanLengthIncorrect?.toFixed(1) ?? '-', b.meanAttempts.toFixed(2), b.entropy.toFixed(3)]);
      process.stdout.write(`${o.checkpoint}: ${r.problems} held-out ${difficulty}-number problems × ${samples} samples (T=${temperature})\n`);
      process.stdout.write([head, ...rows].map((row) => row.map((c) => c.padStart(10)).join('')).join('\n') + '\n');
    });
}
