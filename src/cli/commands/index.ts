import type { Command } from 'commander';

/**
 * Each command's module, loaded on demand: `e3sim train …` loads the training code only (each
 * module imports its whole graph through tsx, ≈ 1 s for all of them), `--help` or an unknown
 * command loads them all. The order is the order of `e3sim --help`.
 */
export const COMMANDS: Record<string, () => Promise<(program: Command) => void>> = {
  pretrain: async () => (await import('./pretrain.js')).registerPretrain,
  'vg-gap': async () => (await import('./evaluate.js')).registerEvaluate,
  eval: async () => (await import('./evaluate.js')).registerEvaluate,
  bench: async () => (await import('./bench.js')).registerBench,
  pk: async () => (await import('./pk.js')).registerPk,
  train: async () => (await import('./train.js')).registerTrain,
  diagram: async () => (await import('./diagram.js')).registerDiagram,
  report: async () => (await import('./report.js')).registerReport,
  experiment: async () => (await import('./experiment.js')).registerExperiment,
  scenario: async () => (await import('./scenario.js')).registerScenario,
  worker: async () => (await import('./worker.js')).registerWorker,
};

/** Registers the command named first in `args` (the arguments after `e3sim`), else every command. */
export async function registerFor(program: Command, args: readonly string[]): Promise<void> {
  const name = args[0];
  const only = name !== undefined && Object.hasOwn(COMMANDS, name) && !args.includes('--help') && !args.includes('-h');
  const loaders = only ? [COMMANDS[name]!] : [...new Set(Object.values(COMMANDS))];
  const registered = new Set<(program: Command) => void>();
  for (const load of loaders) {
    const register = await load();
    if (registered.has(register)) continue; // evaluate.ts registers both vg-gap and eval
    registered.add(register);
    register(program);
  }
}
