import type { Command } from 'commander';
import { MACHINES, type Role } from '../../../machines/index.js';
import { machineDiagram, toMermaid } from '../../report/diagram.js';
import { printJson } from '../common.js';
import { InputError } from '../../util/errors.js';

export function registerDiagram(program: Command): void {
  program
    .command('diagram')
    .description('state diagram of a machine, generated from its definition')
    .argument('<role>', `${Object.keys(MACHINES).join(' | ')} | all`)
    .option('--format <f>', 'mermaid | json', 'mermaid')
    .option('--json', 'same as --format json')
    .action((role: string, o: { format: string; json?: boolean }) => {
      const format = o.json ? 'json' : o.format;
      if (format !== 'mermaid' && format !== 'json')
        throw new InputError(`--format: expected mermaid or json, got '${format}'`);
      const roles = role === 'all' ? (Object.keys(MACHINES) as Role[]) : [role as Role];
      for (const r of roles)
        if (!(r in MACHINES))
          throw new InputError(`role: expected one of ${Object.keys(MACHINES).join(', ')} or all, got '${r}'`);
      if (format === 'json')
        return printJson(
          roles.length === 1 ? machineDiagram(MACHINES[roles[0]!]) : roles.map((r) => machineDiagram(MACHINES[r])),
        );
      process.stdout.write(roles.map((r) => (roles.length > 1 ? `%% ${r}\n` : '') + toMermaid(MACHINES[r])).join('\n'));
    });
}
