/**
 * What a run keeps for its resume (src/cli/commands/runFlags.ts): run.json read back, a damaged
 * one refused naming the file and the field, and the flags a resume may not change.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkResumeFlags, readRealRunFlags, writeRealRunFlags } from '../src/cli/commands/runFlags.js';
import { InputError } from '../src/util/errors.js';

const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-flags-'));

describe("a run's own flags (run.json)", () => {
  it('reads back what was written; a run from before the record has none', () => {
    const d = dir();
    expect(readRealRunFlags(d)).toBe(null);
    writeRealRunFlags(d, { maxSteps: 7, inject: ['crash:learner@step=3'] });
    expect(readRealRunFlags(d)).toEqual({ maxSteps: 7, inject: ['crash:learner@step=3'] });
    // written before the faults were recorded: none
    fs.writeFileSync(path.join(d, 'run.json'), '{"maxSteps": 4}');
    expect(readRealRunFlags(d)).toEqual({ maxSteps: 4, inject: [] });
  });

  it('a damaged run.json is bad input naming the file and the field', () => {
    const d = dir();
    const file = path.join(d, 'run.json');
    const refused = (body: string) => {
      fs.writeFileSync(file, body);
      try {
        readRealRunFlags(d);
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        return (e as Error).message;
      }
      throw new Error(`accepted ${body}`);
    };
    expect(refused('{"maxSteps": 4')).toMatch(/run\.json: not JSON .*expected \{"maxSteps": N/);
    expect(refused('{"maxSteps": 0}')).toMatch(/run\.json: maxSteps: /);
    expect(refused('{"maxSteps": 2, "extra": 1}')).toMatch(/run\.json: .*extra/);
    expect(refused('{"maxSteps": 2, "inject": ["crash:nobody@step=1"]}')).toMatch(/run\.json: inject\.0: /);
  });

  it('a resume may set a later step to stop at, and no new faults', () => {
    const d = dir();
    fs.mkdirSync(path.join(d, 'checkpoints', 'step-4'), { recursive: true });
    fs.writeFileSync(path.join(d, 'checkpoints', 'latest'), 'step-4');
    expect(() => checkResumeFlags(d, 5, [])).not.toThrow();
    expect(() => checkResumeFlags(d, undefined, [])).not.toThrow();
    expect(() => checkResumeFlags(d, 4, [])).toThrow(
      /--max-steps: 4 is not after step 4, where the run's checkpoint checkpoints\/step-4 resumes it/,
    );
    expect(() => checkResumeFlags(d, undefined, ['slow:sampler=2x'])).toThrow(
      /--inject: a resumed run keeps the faults it was started with/,
    );
    // no checkpoint yet: the resume starts over, any step will do
    expect(() => checkResumeFlags(dir(), 1, [])).not.toThrow();
  });
});
