import type { Command } from 'commander';
import { registerEvaluate } from './evaluate.js';
import { registerBench } from './bench.js';

export function registerAll(program: Command): void {
  registerEvaluate(program);
  registerBench(program);
}
