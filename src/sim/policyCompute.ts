/**
 * compute: real — the tiny GPT on the virtual clock, in one thread. Sampling uses the same
 * problems and seeds as the real runtime's samplers (src/policy/generate.ts), verification the
 * task's verifier, training gptRlStep with the run's loss; weight versions live in a store that
 * keeps only what an in-flight generation may still need. With the cpu or wasm backend every
 * result is a pure function of its inputs, which is what makes a virtual-clock run replayable.
 */
import { slotsPerStep } from '../core/dynamicSampling.js';
import fs from 'node:fs';
import path from 'node:path';
import { loadCheckpoint } from '../policy/checkpoint.js';
import { Gpt } from '../policy/transformer/model.js';
import { parameterShapes } from '../policy/transformer/params.js';
import { Adam } from '../policy/transformer/adam.js';
import type { GptConfig } from '../policy/transformer/config.js';
import { weightsSha256, type PackedWeights } from '../tensor/pack.js';
import { EMPTY_UPDATE_STATS, gptRlStep, type TrainRollout } from '../rl/gptStep.js';
import { groupAdvantagesOf, groupRewards } from '../core/grading.js';
import type { LossConfig } from '../rl/loss.js';
import { verify } from '../tasks/countdown/verifier.js';
import { PAD, VOCAB_SIZE } from '../tasks/countdown/tokenizer.js';
import { evalBudgets, measureLadder, type LadderMeasurement } from '../eval/countdown.js';
import { generateRollouts } from '../policy/generate.js';
import { roundWeights, type WeightsFormat } from '../policy/mismatch.js';
import { overlongMasked } from '../rl/overlong.js';
import { problemsOfStep } from '../curriculum/stages.js';
import type { ProblemSpec } from '../curriculum/controller.js';
import { promptTokens } from '../tasks/countdown/trace.js';
import { lossConfigOf, updateOf, type TrainConfig } from '../runtime/config.js';
import type { Rollout } from '../runtime/messages.js';
import { InputError, assert } from '../util/errors.js';
import type { Compute, GeneratedGroup, Generation, Scored, TrainInput, VersionSchedule } from './compute.js';
import { interruptPoint } from './state.js';
import { writeFileSynced } from '../util/atomic.js';
import type { EvalBudgetRow } from '../core/metrics.js';

type Problem = { id: string; numbers: number[]; target: number; difficulty: number };

interface GroupPayload {
  problem: Problem;
  rollouts: Rollout[];
  /** The step's budget (the overlong penalty's). */
  budget: number;
}

function writePacked(dir: string, name: string, w: PackedWeights): void {
  writeFileSynced(path.join(dir, `${name}.bin`), new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength));
  writeFileSynced(path.join(dir, `${name}.json`), JSON.stringify(w.manifest));
}

function readPacked(dir: string, name: string): PackedWeights {
  const buf = fs.readFileSync(path.join(dir, `${name}.bin`));
  const data = new Float32Array(buf.byteLength / 4);
  new Uint8Array(data.buffer).set(buf);
  return { manifest: JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8')), data };
}

export class PolicyCompute implements Compute {
  readonly kind = 'real' as const;
  private readonly gpt: GptConfig;
  private readonly sampler: Gpt;
  private readonly learner: Gpt;
  private readonly reference: Gpt | null;
  private readonly adam: Adam;
  private readonly names: string[];
  private readonly loss: LossConfig;
  private readonly store = new Map<number, PackedWeights>();
  private loaded = -1;
  private readonly bytes: number;
  private readonly problems = new Map<number, Problem[]>();
  /** Problem slots per step, backfill slots included (core/dynamicSampling). */
  private readonly slots: number;

  /**
   * @param halt a shared halt flag: checked before each decode step and before the optimizer
   * update (sim/state.ts interruptPoint), never after the update — so an abandoned event leaves
   * the weights and the optimizer as they were when it began.
   */
  constructor(
    readonly c: TrainConfig,
    private readonly halt?: Int32Array,
  ) {
    this.slots = slotsPerStep(c.rollout.problemsPerStep, c.rollout.dynamicSampling);
    if (!fs.existsSync(c.model.checkpoint))
      throw new InputError(`model.checkpoint: '${c.model.checkpoint}' does not exist`);
    const init = loadCheckpoint(c.model.checkpoint);
    if (init.manifest.tokenizer.name !== 'countdown' || init.manifest.tokenizer.vocabSize !== VOCAB_SIZE) {
      throw new InputError(`model.checkpoint: '${c.model.checkpoint}' is not a countdown policy`);
    }
    this.gpt = init.manifest.config;
    // the sampler computes with the rollout.mismatch rounding of the weights (exact by default)
    this.sampler = Gpt.fromPacked(this.gpt, roundWeights(init.weights, this.format()), 'initial weights');
    this.learner = Gpt.fromPacked(this.gpt, init.weights, 'initial weights');
    this.loss = lossConfigOf(c);
    this.reference = this.loss.klCoef > 0 ? Gpt.fromPacked(this.gpt, init.weights, 'reference weights') : null;
    this.names = parameterShapes(this.gpt).map((p) => p.name);
    this.adam = new Adam(this.learner.variables, {
      lr: c.learner.lr,
      beta1: 0.9,
      beta2: 0.99,
      eps: 1e-8,
      clipNorm: c.learner.clipNorm,
    });
    this.store.set(0, init.weights);
    this.loaded = 0;
    this.bytes = init.weights.data.byteLength;
  }

  weightBytes(): number {
    return this.bytes;
  }

  private problemsOf(step: number): Problem[] {
    let p = this.problems.get(step);
    if (!p) this.problems.set(step, (p = problemsOfStep(this.c.curriculum.stages, this.c.seed, step, this.slots)));
    return p;
  }

  private use(version: number): number {
    if (this.loaded !== version) {
      const w = this.store.get(version);
      assert(w, `weights v${version} are not in the store`);
      this.sampler.load(roundWeights(w, this.format()), `weights v${version}`);
      this.loaded = version;
    }
    return version;
  }

  generate(
    step: number,
    slots: readonly number[],
    budgetTokens: number,
    groupSize: number,
    schedule: VersionSchedule,
    planned?: readonly ProblemSpec[],
  ): Generation {
    const all = planned ?? this.problemsOf(step);
    const problems = slots.map((s) => all[s]!);
    const versionAt = (position: number): number => {
      let v = schedule[0]![1];
      for (const [p, ver] of schedule) if (p <= position) v = ver;
      return v;
    };
    const { rollouts } = generateRollouts(
      this.sampler,
      {
        step,
        problems,
        groupSize,
        budgetTokens,
        temperature: this.c.rollout.temperature,
        seed: this.c.seed,
        mismatch: this.c.rollout.mismatch,
        // a recompute changes what is computed; an abort changes when (sim/sampling.ts swap)
        kv: this.c.rollout.kv?.onSwap === 'recompute' ? this.c.rollout.kv : undefined,
      },
      (pos) => {
        interruptPoint(this.halt);
        return this.use(versionAt(pos));
      },
    );
    const groups: GeneratedGroup[] = slots.map((slot, i) => {
      const rs = rollouts.slice(i * groupSize, (i + 1) * groupSize);
      const payload: GroupPayload = { problem: problems[i]!, rollouts: rs, budget: budgetTokens };
      return { slot, lengths: rs.map((r) => r.completion.length), minVersion: schedule[0]![1], payload };
    });
    let promptTokens = 0;
    for (const r of rollouts) promptTokens += r.prompt.length;
    return { groups, promptTokens, rowLengths: rollouts.map((r) => r.completion.length) };
  }

  score(_step: number, g: GeneratedGroup): Scored {
    const { problem, rollouts, budget } = g.payload as GroupPayload;
    const overlong = this.c.rollout.overlong;
    const correct = rollouts.map((r) => verify(problem, r.completion).correct);
    const lengths = rollouts.map((r) => r.completion.length);
    return { correct, ...groupRewards(correct, lengths, { budgetTokens: budget, overlong }) };
  }

  train(input: TrainInput): Record<string, number> {
    const rollouts: TrainRollout[] = [];
    for (const { group, scored, trained } of input.groups) {
      const { rollouts: rs } = group.payload as GroupPayload;
      const adv = groupAdvantagesOf(scored.rewards, !scored.invalid.every(Boolean));
      rs.forEach((r, j) => {
        if (trained[j])
          rollouts.push({
            prompt: r.prompt,
            completion: r.completion,
            behaviourLogprobs: r.behaviourLogprobs,
            versions: r.versions,
            advantage: adv[j]!,
            ...(overlongMasked(r.stop, this.c.rollout.overlong) ? { overlongMasked: true } : {}),
            ...(this.c.rollout.kv?.maskStalePrefix ? { maskStalePrefix: true } : {}),
          });
      });
    }
    this.problems.delete(input.step);
    if (rollouts.length === 0) return { ...EMPTY_UPDATE_STATS }; // as the real clock's learner
    const s = gptRlStep(this.learner, this.adam, rollouts, {
      loss: this.loss,
      temperature: this.c.rollout.temperature,
      padId: PAD,
      learnerVersion: input.learnerVersion,
      reference: this.reference ?? undefined,
      beforeUpdate: () => interruptPoint(this.halt),
      ...updateOf(this.c),
    });
    return { ...s }; // no tensor counts: they depend on the process's history, not on the run
  }

  publish(version: number): void {
    this.store.set(version, this.learner.pack());
  }

  release(belowVersion: number): void {
    for (const v of [...this.store.keys()]) if (v < belowVersion) this.store.delete(v);
  }

  private format(): WeightsFormat {
    return this.c.rollout.mismatch?.weights ?? 'exact';
  }

  /** The sampler at the exact weights of `version` (evaluations and measurements, as on the real clock). */
  private exact(version: number): void {
    this.use(version);
    if (this.format() !== 'exact') {
      this.sampler.load(this.store.get(version)!, `weights v${version}`);
      this.loaded = -1; // the next generation loads its rounded weights again
    }
  }

  /** The curriculum's measurement at `version`, as the sampler thread's `measure` (actors/sampler.worker.ts). */
  measure(
    version: number,
    problems: readonly ProblemSpec[],
    o: { ladder: number[]; samples: number; k: number },
  ): { m: LadderMeasurement; promptTokens: number; maxLength: number; totalTokens: number } {
    this.exact(version);
    const m = measureLadder(
      this.sampler,
      problems.map((p) => ({ ...p, witness: [] })),
      { ...o, seed: this.c.seed, temperature: this.c.rollout.temperature, batchSize: 64 },
    );
    const unique = [...new Map(problems.map((p) => [p.id, p])).values()];
    let prompt = 0;
    for (const p of unique) prompt += promptTokens(p).length * o.samples;
    const top = m.ladder.at(-1)!;
    return {
      m,
      promptTokens: prompt,
      maxLength: top.budget,
      totalTokens: Math.round(top.meanLength * unique.length * o.samples),
    };
  }

  /** Held-out pass@1 of the learner's policy at `version`: its exact weights, as on the real clock. */
  evaluate(version: number): { version: number; rows: EvalBudgetRow[] } {
    const e = this.c.eval!;
    this.exact(version);
    const r = evalBudgets(this.sampler, {
      difficulty: e.difficulty,
      budgets: e.budgets,
      samples: e.samples,
      ks: e.ks,
      problems: e.problems,
      seed: this.c.seed,
      temperature: this.c.rollout.temperature,
      batchSize: 64,
      beforeDecode: () => interruptPoint(this.halt),
    });
    return { version, rows: r.budgets };
  }

  weightsSha256(): string {
    return weightsSha256(this.learner.pack().data);
  }

  dispose(): void {
    this.sampler.dispose();
    this.learner.dispose();
    this.reference?.dispose();
    this.adam.dispose();
  }

  save(dir: string): void {
    writePacked(dir, 'learner', this.learner.pack());
    writePacked(dir, 'optimizer', this.adam.packState(this.names));
    const versions = [...this.store.keys()].sort((a, b) => a - b);
    for (const v of versions) writePacked(dir, `weights-v${v}`, this.store.get(v)!);
    writeFileSynced(path.join(dir, 'compute.json'), JSON.stringify({ adamStep: this.adam.step, versions }));
  }

  restore(dir: string): void {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'compute.json'), 'utf8')) as {
      adamStep: number;
      versions: number[];
    };
    this.learner.load(readPacked(dir, 'learner'), 'checkpoint learner weights');
    this.adam.loadState(this.names, readPacked(dir, 'optimizer'), meta.adamStep, 'checkpoint optimizer');
    this.store.clear();
    for (const v of meta.versions) this.store.set(v, readPacked(dir, `weights-v${v}`));
    this.loaded = -1;
  }
}
