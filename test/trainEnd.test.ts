import { describe, expect, it } from 'vitest';
import { runDirLines } from '../src/cli/commands/trainEnd.js';

describe("what `e3sim train` prints at a run's end (src/cli/commands/trainEnd.ts)", () => {
  it('an interrupted run is resumed by its directory alone (it records its own --max-steps); a finished one is reported', () => {
    expect(runDirLines('/r', true)).toBe(
      'run directory: /r\nnext: e3sim train --resume /r   (continues from the checkpoint)\n',
    );
    expect(runDirLines('/r', false)).toBe(
      'run directory: /r\nnext: e3sim report /r   (an offline HTML report of the run)\n',
    );
  });
});
