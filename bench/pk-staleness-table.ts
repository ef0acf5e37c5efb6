/**
 * The p^k staleness tables (issue #31) from `e3sim pk --staleness … --json` files, one per
 * correction: length peak and transition iteration by η and arm, mean [min, max] over seeds.
 *   npx tsx bench/pk-staleness-table.ts bench/results/pk-staleness-*.json
 */
import fs from 'node:fs';
import { stalenessTable } from '../src/cli/commands/pk.js';
import type { PkRun } from '../src/report/pkHtml.js';

for (const file of process.argv.slice(2)) {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    runs: PkRun[];
    config: { negatives: string[]; staleness: number[]; correction: string };
  };
  process.stdout.write(
    `${stalenessTable(doc.runs, doc.config.negatives, doc.config.staleness, doc.config.correction)}\n`,
  );
}
