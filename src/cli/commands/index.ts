import type { Command } from 'commander';

export function registerAll(_program: Command): void {}
