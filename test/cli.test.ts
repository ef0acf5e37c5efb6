import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/tensor/backend.js';
import { Gpt } from '../src/policy/transformer/model.js';
import { saveCheckpoint } from '../src/policy/checkpoint.js';
import { VOCAB_SIZE } from '../src/tasks/countdown/tokenizer.js';
import { Rng } from '../src/util/rng.js';

import { runCli as run, spawnCli } from './helpers/cli.js';
import { NODE_FLAGS } from '../src/cli/self.js';

/**
 * In-process (helpers/cli.ts) but for these, which go through the executable: one per exit code
 * (2 here, 0 in 'pk prints the documented summary JSON'), and a backend that must fail to start
 * in a process that has none yet (this file's process runs on cpu).
 */
const SPAWNED = new Set(['frobnicate', 'bench --backend webgpu']);

let ck = '';
beforeAll(async () => {
  await initBackend('cpu');
  ck = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-cli-')), 'tiny');
  const config = { vocabSize: VOCAB_SIZE, dModel: 16, nHeads: 2, nLayers: 1, contextLength: 72 };
  const m = Gpt.create(config, new Rng(1));
  saveCheckpoint(
    ck,
    {
      kind: 'gpt',
      config,
      tokenizer: { name: 'countdown', vocabSize: VOCAB_SIZE, maxValue: 99 },
      seed: 1,
      command: 'test',
      versions: {},
      step: 0,
    },
    m.pack(),
  );
  m.dispose();
});

describe('e3sim command line', () => {
  it("starts with the V8 flags of src/cli/self.ts: bin/e3sim.js's shebang and package.json's node scripts spell the same", () => {
    const want = NODE_FLAGS.join(' ');
    const shebang = fs.readFileSync('bin/e3sim.js', 'utf8').split('\n')[0]!;
    expect(shebang).toBe(`#!/usr/bin/env -S node ${want}`);
    const scripts = (JSON.parse(fs.readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> })
      .scripts;
    const nodeScripts = Object.values(scripts).filter((c) => c.includes('bin/e3sim.js'));
    expect(nodeScripts.length).toBeGreaterThan(0);
    for (const c of nodeScripts) expect(c).toContain(`node ${want} bin/e3sim.js`);
  });

  it.each([
    [['frobnicate'], /unknown command/],
    [['vg-gap', '--checkpoint', 'x', '--task', 'countdown', '--bogus'], /unknown option '--bogus'/],
    [
      ['vg-gap', '--checkpoint', '/nonexistent', '--task', 'countdown', '--backend', 'cpu'],
      /--checkpoint: '\/nonexistent' is not a directory/,
    ],
    [['vg-gap', '--checkpoint', 'x', '--task', 'chess'], /--task: unknown or unsupported task 'chess'/],
    [
      ['eval', '--checkpoint', 'x', '--task', 'countdown', '--difficulty', '9'],
      /--difficulty: expected an integer number count in 3\.\.6, got 9/,
    ],
    [
      ['eval', '--checkpoint', 'x', '--task', 'countdown', '--budgets', '32,abc'],
      /--budgets: expected an integer, got 'abc'/,
    ],
    [
      ['bench', '--backend', 'tpu'],
      /--backend: unknown backend 'tpu'; expected one of auto, tensorflow, webgpu, wasm, cpu/,
    ],
    [['bench', '--backend', 'webgpu'], /--backend webgpu: cannot start/],
    [['bench', '--sim', '--row', '9'], /--row: expected an integer in 1\.\.4, got 9/],
    [['bench', '--row', '1'], /--row: only with --sim/],
    [['pretrain', '--task', 'countdown', '--out', '/tmp/x', '--steps', '0'], /--steps: expected an integer in 1\.\./],
    [
      ['pretrain', '--task', 'countdown', '--out', '/tmp/x', '--variant', 'weird'],
      /--variant: expected base or noverify/,
    ],
    [
      ['pretrain', '--task', 'countdown', '--out', 'examples'],
      /--out: 'examples' already exists and is not empty; pass --resume/,
    ],
    [
      ['pretrain', '--task', 'countdown', '--out', '/nonexistent/run', '--resume'],
      /--resume: '\/nonexistent\/run' does not exist/,
    ],
    [['pk', '--negatives', 'maybe'], /--negatives: expected one of keep \| mask \| both, got 'maybe'/],
    [['pk', '--steps', '-5'], /--steps: expected an integer in 1\.\./],
    [['pk', '--lr', 'fast'], /--lr: expected a number in 0\.\.1000000, got 'fast'/],
    [['pk', '--group', '0'], /--group: expected an integer in 1\.\./],
    [
      ['pk', '--preset', 'paper-text', '--group', '1'],
      /--group: 1 trajectory per iteration with group-normalised advantages gives every advantage 0/,
    ],
    [['pk', '--reduce', 'max'], /--reduce: expected one of sum \| mean, got 'max'/],
    [['pk', '--preset', 'paper-fig8'], /--preset: expected one of paper-text \| paper-fig7, got 'paper-fig8'/],
    [['pk', '--actions', '1'], /--actions: expected an integer in 2\.\./],
    [['pk', '--actions', '5000'], /--actions: a table of 5000 × 5001 is over the limit/],
    [['pk', '--advantage', 'baseline:x'], /--advantage: expected group \| baseline \| baseline:B .* got 'baseline:x'/],
    [['pk', '--advantage', 'median'], /--advantage: expected group .* got 'median'/],
    [['pk', '--optimizer', 'rmsprop'], /--optimizer: expected one of sgd \| adam, got 'rmsprop'/],
    [['pk', '--trajectory-loss', 'max'], /--trajectory-loss: expected one of mean \| sum, got 'max'/],
    [['pk', '--length-from', 'third'], /--length-from: expected one of first \| second, got 'third'/],
    [['pk', '--html', '/nonexistent/dir/pk.html'], /--html: directory '\/nonexistent\/dir' does not exist/],
  ])('exits 2 with a message naming the input: %s', async (args, message) => {
    const r = SPAWNED.has(args.join(' ')) ? spawnCli(...args) : await run(...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('exits 2 on a checkpoint whose weights were modified', async () => {
    const bad = ck + '-tampered';
    fs.cpSync(ck, bad, { recursive: true });
    const f = path.join(bad, 'weights.bin');
    const bytes = fs.readFileSync(f);
    bytes[8] = bytes[8]! ^ 1;
    fs.writeFileSync(f, bytes);
    const r = await run('vg-gap', '--checkpoint', bad, '--task', 'countdown', '--backend', 'cpu');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/weights\.bin sha256 .* manifest expects/);
  });

  it('exits 2 when a budget does not fit the model context', async () => {
    const r = await run(
      'eval',
      '--checkpoint',
      ck,
      '--task',
      'countdown',
      '--budgets',
      '32,500',
      '--backend',
      'cpu',
      '--problems',
      '2',
      '--samples',
      '4',
    );
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--budgets: budget 500 plus the 7-token prompt exceeds the model's context of 72/);
  });

  it('vg-gap and eval print the documented JSON', async () => {
    const g = await run(
      'vg-gap',
      '--checkpoint',
      ck,
      '--task',
      'countdown',
      '--problems',
      '3',
      '--samples',
      '2',
      '--chains',
      '1,2',
      '--backend',
      'cpu',
      '--json',
    );
    expect(g.code).toBe(0);
    const gj = JSON.parse(g.out);
    for (const k of [
      'arithmeticAccuracy',
      'verificationAccuracy',
      'attemptSuccess',
      'meanAttempts',
      'meanLengthTokens',
    ])
      expect(typeof gj[k]).toBe('number');
    expect(Object.keys(gj.passAtChains)).toEqual(['1', '2']);
    // the verdict's two sides recompose its accuracy: right = ✓ on hits + ✗ on misses
    const { verdicts, hits } = gj.counts;
    const right = hits * gj.checkWhenHit + (verdicts - hits) * (1 - gj.checkWhenMiss);
    expect(gj.verificationAccuracy * verdicts).toBeCloseTo(right, 6);
    const e = await run(
      'eval',
      '--checkpoint',
      ck,
      '--task',
      'countdown',
      '--difficulty',
      '3',
      '--budgets',
      '16,32',
      '--samples',
      '4',
      '--k',
      '1,4',
      '--problems',
      '2',
      '--backend',
      'cpu',
      '--json',
    );
    expect(e.code).toBe(0);
    const ej = JSON.parse(e.out);
    expect(ej.budgets.map((b: { budget: number }) => b.budget)).toEqual([16, 32]);
    expect(Object.keys(ej.budgets[0].passAt)).toEqual(['1', '4']);
    for (const k of ['meanLength', 'meanAttempts', 'entropy']) expect(typeof ej.budgets[0][k]).toBe('number');
  });

  it('pk prints the documented summary JSON', () => {
    const r = spawnCli('pk', '--negatives', 'keep', '--steps', '200', '--log-every', '100', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    for (const k of [
      'negatives',
      'lengthStart',
      'lengthPeak',
      'lengthPeakStep',
      'lengthEnd',
      'rewardEnd',
      'iterationOfTransition',
      'pStopStart',
      'pStopEnd',
      'entropyStart',
      'entropyPeak',
      'entropyEnd',
      'negativeStepsEntropyUpFraction',
    ])
      expect(j).toHaveProperty(k);
    expect(j.negatives).toBe('keep');
    expect(j.preset).toBe('paper-fig7');
    expect(j.config).toMatchObject({
      actions: 200,
      groupSize: 1,
      advantage: 'baseline:0.5',
      optimizer: 'adam',
      lengthFrom: 'second',
    });
    expect(j.runs[0].log).toHaveLength(2);
    expect(j.runs[0].log[1]).toMatchObject({ step: 200, episodes: 200 });
  });

  it('pk: a flag overrides its preset; both arms by default, with an HTML plot written whole', async () => {
    const html = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'e3sim-pk-')), 'pk.html');
    const r = await run(
      'pk',
      '--preset',
      'paper-text',
      '--group',
      '8',
      '--steps',
      '50',
      '--log-every',
      '25',
      '--html',
      html,
      '--json',
    );
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.config).toMatchObject({
      actions: 100,
      groupSize: 8,
      advantage: 'group',
      optimizer: 'sgd',
      lengthFrom: 'first',
      negatives: ['keep', 'mask'],
    });
    expect(j.runs.map((x: { summary: { negatives: string } }) => x.summary.negatives)).toEqual(['keep', 'mask']);
    expect(j.runs[1].log[1]).toMatchObject({ step: 50, episodes: 400 });
    expect(Object.keys(j.spread)).toEqual(['keep', 'mask']);
    expect(fs.readFileSync(html, 'utf8')).toMatch(/<\/html>\n$/);
    expect(fs.readdirSync(path.dirname(html))).toEqual(['pk.html']);
  });
});
