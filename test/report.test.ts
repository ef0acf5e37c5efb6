import { describe, expect, it } from 'vitest';
import { trainBudget } from '../src/report/html.js';
import { E3SIM } from './helpers/bin.js';

describe('report: the training budget beside the last evaluation', () => {
  const config = {
    curriculum: {
      stages: [
        { budgetTokens: 96, steps: 30 },
        { budgetTokens: 128, steps: 30 },
      ],
    },
  };
  it("is the budget the run trained at before that evaluation, not the config's largest", () => {
    // --max-steps 30: every step at 96; the stage line written as the run was cut does not count
    const metrics = [
      ...Array.from({ length: 30 }, (_, i) => ({ step: i + 1, budgetTokens: 96 })),
      { type: 'stage', step: 30, stage: 1 },
    ];
    expect(trainBudget({ config, metrics, evals: [{ step: 30 }] })).toBe(96);
    const more = [...metrics, ...Array.from({ length: 30 }, (_, i) => ({ step: 31 + i, budgetTokens: 128 }))];
    expect(trainBudget({ config, metrics: more, evals: [{ step: 30 }, { step: 60 }] })).toBe(128);
    expect(trainBudget({ config, metrics: more, evals: [{ step: 30 }] })).toBe(96);
    expect(trainBudget({ config, metrics: [], evals: [] })).toBe(128); // nothing trained yet: the config
  });
});

describe('report reads what a crash leaves (issue #29 item 5)', () => {
  it('skips a cut last log line with a warning, refuses a bad line before it and a garbage summary, naming the file', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { spawnSync } = await import('node:child_process');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-report-cut-'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ name: 'cut' }));
    const rows = [1, 2, 3].map((step) => JSON.stringify({ step, budgetTokens: 48, passRate: 0.5 }));
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), `${rows.join('\n')}\n{"step": 4, "budg`);
    const report = () => spawnSync(process.execPath, [E3SIM, 'report', dir], { encoding: 'utf8' });
    const ok = report();
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/warning: .*metrics\.jsonl: line 4, the last, is cut short/);
    expect(fs.readFileSync(path.join(dir, 'report.html'), 'utf8')).toContain('"step":3');
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), `${rows[0]}\n{"step": 2, "bu\n${rows[2]}\n`);
    const mid = report();
    expect(mid.status).toBe(2);
    expect(mid.stderr).toMatch(/metrics\.jsonl: line 2 is not JSON/);
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), `${rows.join('\n')}\n`);
    fs.writeFileSync(path.join(dir, 'summary.json'), 'garbage');
    const bad = report();
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/summary\.json: not readable as JSON/);
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
