import { describe, expect, it } from 'vitest';
import { runDirLines } from '../src/cli/commands/trainEnd.js';

describe("what `e3sim train` prints at a run's end (src/cli/commands/trainEnd.ts)", () => {
  it('an interrupted run cut by --max-steps is resumed with it: without it the resume trains every stage', () => {
    expect(runDirLines('/r', true, 3)).toBe(
      'run directory: /r\nnext: e3sim train --resume /r --max-steps 3   (continues from the checkpoint)\n',
    );
    expect(runDirLines('/r', true)).toBe(
      'run directory: /r\nnext: e3sim train --resume /r   (continues from the checkpoint)\n',
    );
    expect(runDirLines('/r', false, 3)).toBe(
      'run directory: /r\nnext: e3sim report /r   (an offline HTML report of the run)\n',
    );
  });
});
