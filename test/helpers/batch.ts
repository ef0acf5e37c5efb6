/** A formed batch's dispositions by rollout, `step/slot/sample` → name (tests read them this way). */
import type { FormedBatch } from '../../src/core/batch.js';
import { DISPOSITION_BY_CODE } from '../../src/core/staleness.js';

export function dispositionsOf(b: FormedBatch, step: number): [string, string][] {
  return b.groups.flatMap((g) =>
    g.codes.map((c, j): [string, string] => [`${step}/${g.slot}/${j}`, DISPOSITION_BY_CODE[c as 2 | 3 | 4 | 5]]),
  );
}
