/**
 * `e3sim bench --rl-step`: where one learner step's time goes at the experiment's shape (base
 * checkpoint, problemsPerStep × groupSize rollouts at B_tr, learner.minibatches slices):
 * sampling, verifying and grading, the reference and proximal log-probs, the optimiser steps,
 * and publishing the weights. Medians over repeats, in one process on one core.
 */
import { Gpt } from '../policy/transformer/model.js';
import { loadCountdownPolicy } from '../policy/load.js';
import { Adam } from '../policy/transformer/adam.js';
import { scoreSequences } from '../policy/transformer/logprobs.js';
import { generateRollouts } from '../policy/generate.js';
import { gptRlStep, minibatchSlices, padRollouts, type TrainRollout } from '../rl/gptStep.js';
import { groupAdvantages } from '../rl/advantages.js';
import { E3_LOSS } from '../rl/loss.js';
import { generateProblem } from '../tasks/countdown/problems.js';
import { verify } from '../tasks/countdown/verifier.js';
import { PAD } from '../tasks/countdown/tokenizer.js';
import { Rng } from '../util/rng.js';
import { median } from '../util/stats.js';

export interface RlStepShape {
  checkpoint: string;
  problems: number;
  groupSize: number;
  budgetTokens: number;
  minibatches: number;
  difficulty: number;
}

export interface RlStepRow {
  phase: string;
  medianMs: number;
  share: number;
}

export function runRlStepBench(
  s: RlStepShape,
  o: { repeats: number; now: () => number; log?: (s: string) => void },
): { rows: RlStepRow[]; totalMs: number; tokensPerStep: number } {
  const { model } = loadCountdownPolicy(s.checkpoint);
  const reference = Gpt.fromPacked(model.config, model.pack(), 'reference');
  const adam = new Adam(model.variables, { lr: 1e-5, beta1: 0.9, beta2: 0.99, eps: 1e-8, clipNorm: 1 });
  const times: Record<string, number[]> = {
    sample: [],
    'verify + grade': [],
    'reference log-probs': [],
    'proximal log-probs': [],
    'optimiser steps': [],
    publish: [],
  };
  let tokens = 0;
  for (let rep = 0; rep <= o.repeats; rep++) {
    const rng = new Rng(`rl-step-bench/${rep}`);
    const problems = Array.from({ length: s.problems }, () => generateProblem(rng, s.difficulty, 'train'));
    const t: Record<string, number> = {};
    let t0 = o.now();
    const { rollouts } = generateRollouts(
      model,
      { step: rep + 1, problems, groupSize: s.groupSize, budgetTokens: s.budgetTokens, temperature: 1, seed: rep },
      () => 0,
    );
    t.sample = o.now() - t0;
    t0 = o.now();
    const train: TrainRollout[] = [];
    problems.forEach((p, i) => {
      const rs = rollouts.slice(i * s.groupSize, (i + 1) * s.groupSize);
      const adv = groupAdvantages(
        rs.map((r) => (verify(p, r.completion).correct ? 1 : 0)),
        s.groupSize,
      ).advantages;
      rs.forEach((r, j) =>
        train.push({
          prompt: r.prompt,
          completion: r.completion,
          behaviourLogprobs: r.behaviourLogprobs,
          versions: r.versions,
          advantage: adv[j]!,
        }),
      );
    });
    t['verify + grade'] = o.now() - t0;
    // The scoring passes gptRlStep makes before its first step, timed alone; the update's own time minus them is the
    // optimiser steps.
    const slices = minibatchSlices(train, s.minibatches).map((rs) =>
      padRollouts(rs, PAD, model.config.contextLength, 0),
    );
    t0 = o.now();
    for (const b of slices) scoreSequences(reference, b.tokens, b.B, b.T, PAD, 1);
    t['reference log-probs'] = o.now() - t0;
    t0 = o.now();
    for (const b of slices) scoreSequences(model, b.tokens, b.B, b.T, PAD, 1);
    t['proximal log-probs'] = o.now() - t0;
    t0 = o.now();
    gptRlStep(model, adam, train, {
      loss: { ...E3_LOSS, correction: { kind: 'decoupled' } },
      temperature: 1,
      padId: PAD,
      learnerVersion: 0,
      reference,
      minibatches: s.minibatches,
    });
    t['optimiser steps'] = Math.max(0, o.now() - t0 - t['reference log-probs']! - t['proximal log-probs']!);
    t0 = o.now();
    model.pack();
    t.publish = o.now() - t0;
    tokens = train.reduce((a, r) => a + r.completion.length, 0);
    if (rep > 0) for (const k of Object.keys(times)) times[k]!.push(t[k]!); // repeat 0 warms up
    o.log?.(
      `repeat ${rep}${rep === 0 ? ' (warm-up)' : ''}: ${Object.entries(t)
        .map(([k, v]) => `${k} ${v.toFixed(0)} ms`)
        .join(', ')}`,
    );
  }
  adam.dispose();
  model.dispose();
  reference.dispose();
  const rows = Object.entries(times).map(([phase, xs]) => ({ phase, medianMs: median(xs), share: 0 }));
  const totalMs = rows.reduce((a, r) => a + r.medianMs, 0);
  for (const r of rows) r.share = r.medianMs / totalMs;
  return { rows, totalMs, tokensPerStep: tokens };
}
