/**
 * The runtime side of the curriculum actor: which problems and budget a step gets, difficulty
 * buckets measured on the starting policy, the coupled budget rule at each stage start, and
 * when a stage ends (step limit, pass-rate threshold, plateau). The machine (machines/curriculum.ts)
 * decides when; this holds the state and the pure decisions.
 */
import type { Bucket, Measured } from './buckets.js';
import { bucketByPassRate, summarizeBuckets } from './buckets.js';
import { pickBudget, type BudgetChoice } from './pickBudget.js';
import { generateProblem, type Problem } from '../tasks/countdown/problems.js';
import { Rng } from '../util/rng.js';
import type { LadderMeasurement } from '../eval/countdown.js';
import type { TrainConfig } from '../runtime/config.js';
import { problemsOfStep, stageOfStep } from './stages.js';

export type ProblemSpec = Pick<Problem, 'id' | 'numbers' | 'target' | 'difficulty'>;

/** What a planned learner step runs on: its stage, budget and problems. */
export interface StepPlan {
  stage: number;
  budgetTokens: number;
  problems: ProblemSpec[];
}

export interface CurriculumState {
  stage: number;
  stepsInStage: number;
  /** Budget chosen for each stage so far (coupled), by stage index. */
  budgets: Record<string, number>;
  /**
   * Pass rate of the current stage's last steps: as many as its threshold and plateau tests read
   * (2 × window), so the state and every checkpoint stay the same size however long the stage.
   */
  passRates: number[];
}

/**
 * What the controller changes as the run goes: the stage state, and whether a measurement is under
 * way. Held in one object the owner may give (the virtual clock's checkpointed state), so no copy
 * of it has to be kept in step.
 */
export interface CurriculumHold {
  state: CurriculumState;
  /** True between a stage change and its budget decision: no work for the new stage may be planned. */
  measuring: boolean;
  /** The measurement under way (steps/curriculum.ts), if any: the difficulty pool, or a coupled stage's ladder. */
  measurement?: Measurement | null;
  /** Difficulty buckets by problem id, once measured (stages with `buckets`). */
  buckets?: Record<string, Bucket> | null;
}

/** A measurement under way: the difficulty pool, or stage `stage`'s ladder on `problems` problems. */
export type Measurement = { what: 'buckets' } | { what: 'stage'; stage: number; problems: number };

/** Buckets, thresholds, plateaus or the coupled rule: a curriculum whose stages depend on measurements. */
export function isDynamicCurriculum(c: TrainConfig['curriculum']): boolean {
  return (
    c.kind === 'coupled' ||
    c.stages.some((s) => s.passThreshold !== undefined || s.plateau !== undefined || s.buckets !== undefined)
  );
}

export class CurriculumController {
  readonly c: TrainConfig['curriculum'];
  /** Problem pool by bucket (when a stage uses buckets), measured at the start. */
  buckets: Map<Bucket, ProblemSpec[]> | null = null;
  private pool: ProblemSpec[] | null = null;
  private hold: CurriculumHold = {
    state: { stage: 0, stepsInStage: 0, budgets: {}, passRates: [] },
    measuring: false,
  };

  constructor(
    cfg: TrainConfig,
    private readonly seed: number,
  ) {
    this.c = cfg.curriculum;
  }

  /** From now on the state lives in `hold` (the virtual clock's state, restored from a checkpoint). */
  holdIn(hold: CurriculumHold): void {
    this.hold = hold;
  }

  get state(): CurriculumState {
    return this.hold.state;
  }
  set state(s: CurriculumState) {
    this.hold.state = s;
  }
  get measuring(): boolean {
    return this.hold.measuring;
  }
  set measuring(m: boolean) {
    this.hold.measuring = m;
  }
  get measurement(): Measurement | null {
    return this.hold.measurement ?? null;
  }
  set measurement(m: Measurement | null) {
    this.hold.measurement = m;
  }

  get dynamic(): boolean {
    return isDynamicCurriculum(this.c);
  }

  usesBuckets(): boolean {
    return this.c.stages.some((s) => s.buckets !== undefined);
  }

  /** The pool to bucket: perDifficulty train problems of each difficulty, fixed by the seed (drawn once). */
  poolProblems(): ProblemSpec[] {
    this.pool ??= this.drawPool();
    return this.pool;
  }

  private drawPool(): ProblemSpec[] {
    const pool = this.c.pool!;
    const rng = new Rng(`pool/${this.seed}`);
    const seen = new Set<string>();
    const out: ProblemSpec[] = [];
    for (const d of pool.difficulties) {
      for (let i = 0, tries = 0; i < pool.perDifficulty && tries < 100 * pool.perDifficulty; tries++) {
        const p = generateProblem(rng.fork(`${d}/${tries}`), d, 'train');
        if (seen.has(p.id)) continue;
        seen.add(p.id);
        out.push({ id: p.id, numbers: p.numbers, target: p.target, difficulty: p.difficulty });
        i++;
      }
    }
    return out;
  }

  /** The pool's buckets from its measured pass rates. */
  setBuckets(m: LadderMeasurement): {
    summary: ReturnType<typeof summarizeBuckets>;
    assignment: Record<string, Bucket>;
  } {
    const measured: Measured[] = m.perProblem;
    const b = bucketByPassRate(measured);
    const assignment = Object.fromEntries(b);
    this.restoreBuckets(assignment);
    return { summary: summarizeBuckets(measured, b), assignment };
  }

  /** The difficulty buckets by problem id as measured (a checkpoint keeps them), or null before the measurement. */
  get bucketAssignment(): Record<string, Bucket> | null {
    return this.hold.buckets ?? null;
  }

  /** The buckets of `assignment` (measured now, or a resumed run's), kept in the hold too. */
  restoreBuckets(assignment: Record<string, Bucket>): void {
    this.hold.buckets = assignment;
    const pool = this.poolProblems();
    this.buckets = new Map(
      (['easy', 'medium', 'hard'] as const).map((k) => [k, pool.filter((p) => assignment[p.id] === k)]),
    );
  }

  /** The stage's data for a measurement: `n` problems drawn from its buckets or difficulty. */
  stageProblems(stage: number, n: number, label: string): ProblemSpec[] {
    const st = this.c.stages[stage]!;
    const rng = new Rng(`stage-problems/${this.seed}/${stage}/${label}`);
    if (st.buckets) {
      const pool = st.buckets.flatMap((b) => this.buckets?.get(b) ?? []);
      if (pool.length === 0)
        throw new Error(`curriculum: stage ${stage}'s buckets ${st.buckets.join('+')} hold no problems`);
      return Array.from({ length: n }, () => pool[rng.int(pool.length)]!);
    }
    return Array.from({ length: n }, (_, i) => {
      const p = generateProblem(rng.fork(i), st.difficulty!, 'train');
      return { id: p.id, numbers: p.numbers, target: p.target, difficulty: p.difficulty };
    });
  }

  /** Problems of learner step k (the current stage's data). */
  problemsForStep(k: number, n: number): ProblemSpec[] {
    return this.stageProblems(this.state.stage, n, `step-${k}`).map((p, i) => ({ ...p, id: `${i}:${p.id}` }));
  }

  budgetOf(stage: number): number {
    const st = this.c.stages[stage]!;
    return this.c.kind === 'coupled' ? this.state.budgets[String(stage)]! : st.budgetTokens!;
  }

  /** Applies the coupled rule to a stage-start measurement. B0 = the mean response length at the top of the ladder. */
  decide(stage: number, m: LadderMeasurement): BudgetChoice & { minBudget: number } {
    const minBudget = m.ladder.at(-1)!.meanLength;
    const choice = pickBudget(
      m.ladder.map((p) => p.budget),
      m.ladder.map((p) => p.J),
      this.c.kappa,
      minBudget,
    );
    this.state.budgets[String(stage)] = choice.budget;
    return { ...choice, minBudget };
  }

  recordStep(passRate: number): void {
    this.state.stepsInStage++;
    const r = this.state.passRates;
    r.push(passRate);
    if (r.length > 2 * this.window()) r.splice(0, r.length - 2 * this.window());
  }

  /** The current stage's plateau window (also the threshold's): the steps each mean is taken over. */
  private window(): number {
    return this.c.stages[this.state.stage]!.plateau?.window ?? 5;
  }

  /** Why the current stage should end now, or null. */
  stageDoneReason(): 'steps' | 'threshold' | 'plateau' | null {
    const st = this.c.stages[this.state.stage]!;
    const r = this.state.passRates;
    if (this.state.stepsInStage >= st.steps) return 'steps';
    const w = this.window();
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    if (st.passThreshold !== undefined && r.length >= w && mean(r.slice(-w)) >= st.passThreshold) return 'threshold';
    if (st.plateau && r.length >= 2 * w && mean(r.slice(-w)) - mean(r.slice(-2 * w, -w)) < st.plateau.minGain)
      return 'plateau';
    return null;
  }

  /**
   * The stage, problems and budget of learner step k, both clocks: a fixed list is a pure function
   * of (seed, k); a dynamic curriculum (buckets, thresholds, the coupled rule) gives the stage
   * current when step k is planned. `n` problem slots (with dynamic sampling, the backfill slots
   * after the plan's; core/dynamicSampling).
   */
  planOf(k: number, n: number): StepPlan {
    if (!this.dynamic) {
      const stage = stageOfStep(this.c.stages, k);
      return {
        stage: stage.index,
        budgetTokens: stage.budgetTokens!,
        problems: problemsOfStep(this.c.stages, this.seed, k, n),
      };
    }
    const stage = this.state.stage;
    return { stage, budgetTokens: this.budgetOf(stage), problems: this.problemsForStep(k, n) };
  }

  /**
   * The last step that may be planned when `published` is the newest version, both clocks: with a
   * dynamic curriculum, not past the current stage, and none while its budget is being measured.
   */
  planLimit(published: number, maxSteps: number): number {
    if (!this.dynamic) return maxSteps;
    if (this.measuring) return published;
    const st = this.state;
    if (st.stage >= this.c.stages.length - 1) return maxSteps;
    return Math.min(maxSteps, published - st.stepsInStage + this.c.stages[st.stage]!.steps);
  }

  advance(): void {
    this.state = { ...this.state, stage: this.state.stage + 1, stepsInStage: 0, passRates: [] };
  }
}

/** Why a stage ended, in words (both clocks' log line). */
export const STAGE_REASONS = {
  steps: 'the stage ran all its steps',
  threshold: 'its pass rate reached curriculum passThreshold',
  plateau: 'its pass rate stopped rising (plateau)',
} as const;

/** The log line of a stage change. */
export function stageLog(stage: number, afterStep: number, reason: keyof typeof STAGE_REASONS | null): string {
  return `stage ${stage} begins after step ${afterStep} (${STAGE_REASONS[reason ?? 'steps']})`;
}

/** A coupled stage's decision as both clocks write it: its metrics.jsonl line and its log line. */
export function budgetChoiceRecord(
  c: TrainConfig['curriculum'],
  o: { step: number; stage: number; problems: number; m: LadderMeasurement; d: BudgetChoice & { minBudget: number } },
): { line: Record<string, unknown>; log: string } {
  const { m, d } = o;
  return {
    line: {
      type: 'budget-choice',
      step: o.step,
      stage: o.stage,
      minBudget: d.minBudget,
      ladder: m.ladder.map((p) => p.budget),
      scores: m.ladder.map((p) => p.J),
      meanLengths: m.ladder.map((p) => p.meanLength),
      ratios: d.ratios,
      budget: d.budget,
      reason: d.reason,
      k: c.k,
      problems: o.problems,
      samples: c.measure.samples,
      kappa: c.kappa,
    },
    log: `stage ${o.stage}: budget ${d.budget} tokens (${d.reason}; J ${m.ladder.map((p) => `${p.budget}:${p.J.toFixed(3)}`).join(' ')}; B0 ${d.minBudget.toFixed(1)})`,
  };
}

/** The difficulty buckets' measurement as both clocks keep it: buckets.json, its metrics line and log line. */
export function bucketsRecord(
  c: TrainConfig['curriculum'],
  o: { step: number; m: LadderMeasurement; b: ReturnType<CurriculumController['setBuckets']> },
): { file: Record<string, unknown>; line: Record<string, unknown>; log: string } {
  const p = c.pool!;
  return {
    file: {
      measuredAtVersion: o.step,
      budgetTokens: p.budgetTokens,
      samples: p.samples,
      k: p.k,
      summary: o.b.summary,
      assignment: o.b.assignment,
      perProblem: o.m.perProblem,
    },
    line: { type: 'buckets', step: o.step, summary: o.b.summary },
    log: `difficulty buckets: ${o.b.summary.map((x) => `${x.bucket} ${x.problems} (pass ${x.meanPassRate.toFixed(2)})`).join(', ')}`,
  };
}
