import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { initBackend, parseBackend } from '../../tensor/backend.js';
import { loadCountdownPolicy } from '../../policy/load.js';
import { evalBudgets } from '../../eval/countdown.js';
import { vgGap } from '../../eval/vgGap.js';
import { byAttempt, checkAttemptsFit, evalCutAfter } from '../../eval/byAttempt.js';
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
    .option(
      '--by-attempt [K]',
      'instead: per attempt index up to K (default 16) under forced chains: hazard, repeats, malformed, solved by k',
    )
    .action(async (o: Opts) => {
      const chains = parseIntList(String(o.chains), '--chains', 1, 64);
      const maxK =
        o.byAttempt === undefined
          ? null
          : parseIntFlag(o.byAttempt === true ? '16' : String(o.byAttempt), '--by-attempt', 1, 64);
      const s = await parseShared(o);
      if (maxK !== null) return printByAttempt(o, s, maxK);
      const r = vgGap(s.model, { ...s, chains });
      if (o.json) return printJson({ checkpoint: o.checkpoint, ...r });
      const lines = [
        `vg-gap of ${o.checkpoint} on ${r.problems} held-out ${s.difficulty}-number problems × ${s.samples} samples (T=${s.temperature})`,
        `  arithmeticAccuracy    ${fmt(r.arithmeticAccuracy)}   (${r.counts.steps} written steps)`,
        `  verificationAccuracy  ${fmt(r.verificationAccuracy)}   (${r.counts.verdicts} verdicts)`,
        `  P(✓ | value = target) ${fmt(r.checkWhenHit)}   P(✓ | value ≠ target) ${fmt(r.checkWhenMiss)}`,
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
    .option(
      '--cut-after <list>',
      "instead of budgets: the e3 authors' protocol, each trace cut after C attempts and the answer forced (e.g. 2,4,8,16)",
    )
    .action(async (o: Opts) => {
      const budgets = parseIntList(String(o.budgets), '--budgets', 1, 1_000_000);
      const ks = parseIntList(String(o.k), '--k', 1, 10_000);
      const cuts = o.cutAfter === undefined ? null : parseIntList(String(o.cutAfter), '--cut-after', 1, 64);
      if (o.out !== undefined && !fs.existsSync(path.dirname(String(o.out))))
        throw new InputError(`--out: the directory of '${o.out}' does not exist`);
      const s = await parseShared(o);
      if (cuts !== null) return printCutAfter(o, s, cuts);
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

function printByAttempt(o: Opts, s: Shared, maxK: number): void {
  checkAttemptsFit(s.model, s.difficulty, maxK, '--by-attempt');
  const r = byAttempt(s.model, { ...s, maxK });
  if (o.json) return printJson({ checkpoint: o.checkpoint, ...r });
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const head = [
    'k',
    'written',
    'hazard',
    'uniform',
    'repeats',
    'malformed',
    'wrong nums',
    'arith err',
    '✓ | target',
    'false ✓',
    'solved by k',
  ];
  const rows = r.rows.map((x) => [
    String(x.k),
    String(x.written),
    pct(x.hazard),
    pct(x.uniformHazard),
    pct(x.repeats),
    pct(x.malformed),
    pct(x.wrongNumbers),
    pct(x.arithmetic),
    x.checkWhenHit === null ? '-' : pct(x.checkWhenHit),
    pct(x.falseCheck),
    pct(x.solvedBy),
  ]);
  process.stdout.write(
    `${o.checkpoint}: forced chains of ${maxK} attempts, ${r.problems} held-out ${s.difficulty}-number problems × ${s.samples} samples (T=${s.temperature})\n` +
      '  hazard: share of the k-th attempts that solve the problem, among traces not solved before k\n' +
      '  uniform: the hazard of a random legal chain the trace has not tried (a searcher with no preference)\n' +
      '  wrong nums: a number the problem does not have (or one twice); arith err: right numbers, a step miscomputed\n' +
      '  ✓ | target: P(✓ | final value = target); false ✓: P(✓ | final value ≠ target)\n',
  );
  process.stdout.write([head, ...rows].map((row) => row.map((c) => c.padStart(12)).join('')).join('\n') + '\n');
}

function printCutAfter(o: Opts, s: Shared, cuts: number[]): void {
  checkAttemptsFit(s.model, s.difficulty, Math.max(...cuts), '--cut-after');
  const r = evalCutAfter(s.model, { ...s, cuts });
  if (o.out !== undefined) writeFileAtomic(String(o.out), JSON.stringify({ checkpoint: o.checkpoint, ...r }) + '\n');
  if (o.json) return printJson({ checkpoint: o.checkpoint, ...r });
  const head = ['cut after', 'pass@1', 'attempts', 'len', 'forced'];
  const rows = r.rows.map((x) => [
    String(x.cut),
    fmt(x.passAt1),
    x.meanAttempts.toFixed(2),
    x.meanLength.toFixed(1),
    fmt(x.forcedShare),
  ]);
  process.stdout.write(
    `${o.checkpoint}: each trace cut after C attempts, the answer forced; ${r.problems} held-out ${s.difficulty}-number problems × ${s.samples} samples (T=${s.temperature})\n`,
  );
  process.stdout.write([head, ...rows].map((row) => row.map((c) => c.padStart(12)).join('')).join('\n') + '\n');
}
