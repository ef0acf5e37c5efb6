import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/tensor/backend.js';
import { BigramPolicy } from '../src/policy/bigram/bigram.js';
import { PK_PAPER, scoreEpisode, stopAction } from '../src/tasks/pk/env.js';
import { Rng } from '../src/util/rng.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('p^k environment', () => {
  it('rewards the first hit of a*, and nothing on stop or past the budget', () => {
    const env = { tokens: 5, answer: 2, budget: 4 };
    expect(scoreEpisode(env, [1, 3, 2, 4])).toEqual({ actions: [1, 3, 2], reward: 1, outcome: 'hit' });
    expect(scoreEpisode(env, [1, stopAction(env), 2])).toEqual({ actions: [1, 5], reward: 0, outcome: 'stop' });
    expect(scoreEpisode(env, [1, 3, 4, 1, 2])).toEqual({ actions: [1, 3, 4, 1], reward: 0, outcome: 'budget' });
  });
});

describe('bigram policy', () => {
  it("uses the paper's initialisation", () => {
    const p = BigramPolicy.paperInit(PK_PAPER, new Rng(1));
    const m = p.values();
    const V = PK_PAPER.tokens + 1;
    for (let r = 0; r < PK_PAPER.tokens; r++) {
      expect(m[r * V + stopAction(PK_PAPER)]).toBe(4);
      expect(m[r * V + PK_PAPER.answer]).toBe(-4);
      for (let j = 1; j < PK_PAPER.tokens; j++) {
        expect(m[r * V + j]).toBeGreaterThanOrEqual(-3);
        expect(m[r * V + j]).toBeLessThanOrEqual(3);
      }
    }
    p.dispose();
  });

  it('samples episodes that start off a*, end at hit/stop/budget, and are seeded', () => {
    const p = BigramPolicy.paperInit(PK_PAPER, new Rng(1));
    const eps = p.sampleEpisodes(300, new Rng(2));
    expect(p.sampleEpisodes(300, new Rng(2))).toEqual(eps);
    for (const e of eps) {
      expect(e.actions[0]).not.toBe(PK_PAPER.answer);
      expect(e.actions[0]).not.toBe(stopAction(PK_PAPER));
      expect(e.actions.length).toBeLessThanOrEqual(PK_PAPER.budget);
    }
    const meanLen = eps.reduce((s, e) => s + e.actions.length, 0) / eps.length;
    expect(meanLen).toBeGreaterThan(2);
    p.dispose();
  });

  it('gives transition log-probs equal to the softmax of M computed by hand', () => {
    const env = { tokens: 3, answer: 0, budget: 10 };
    const values = Float32Array.from([0, 1, 2, 3, 1, 1, 1, 1, -1, 0, 1, 2]);
    const p = BigramPolicy.fromValues(env, values);
    const ep = scoreEpisode(env, [1, 2, 3]);
    const { logprobs, episodeOf } = p.transitionLogprobs([ep]);
    const lse = (xs: number[]) => Math.log(xs.reduce((s, x) => s + Math.exp(x), 0));
    const expected = [1 - lse([1, 1, 1, 1]), 2 - lse([-1, 0, 1, 2])];
    const got = logprobs.dataSync();
    expected.forEach((e, i) => expect(got[i]).toBeCloseTo(e, 5));
    expect([...episodeOf]).toEqual([0, 0]);
    tf.dispose(logprobs);
    p.dispose();
  });

  it('gives the exact expected length and success probability (against enumerating every episode)', () => {
    const env = { tokens: 4, answer: 2, budget: 5 };
    const p = BigramPolicy.fromValues(
      env,
      Float32Array.from({ length: 4 * 5 }, (_, i) => Math.sin(i * 2.3)),
    );
    const stop = stopAction(env);
    // every episode with its probability: a₁ uniform over the 3 non-answer tokens, then π until hit, stop or budget
    let length = 0,
      reward = 0;
    const walk = (actions: number[], prob: number) => {
      const last = actions.at(-1)!;
      if (last === env.answer || last === stop || actions.length === env.budget) {
        length += prob * actions.length;
        if (last === env.answer) reward += prob;
        return;
      }
      for (let j = 0; j <= stop; j++) walk([...actions, j], prob * p.prob(last, j));
    };
    for (const a1 of [0, 1, 3]) walk([a1], 1 / 3);
    const x = p.expectations();
    expect(x.length).toBeCloseTo(length, 10);
    expect(x.reward).toBeCloseTo(reward, 10);
    expect(length).toBeGreaterThan(1.5); // a non-trivial case
    p.dispose();
  });
});
