/**
 * The curriculum on the topology's steps, one for both clocks (docs/ARCHITECTURE.md "The
 * curriculum's step"): the machine (machines/curriculum.ts) decides when a stage ends and when
 * one is measured, the controller (curriculum/controller.ts) holds the stage state, and this step
 * turns the machine's actions into effects as data. A clock only runs a measurement's generation
 * (the real clock on the evaluation sampler thread, the virtual one with the policy at once,
 * charged the cost model's time) and answers `measured`, and writes the lines, the log lines and
 * buckets.json. No I/O, threads or clock in here: the machine runs as a synchronous actor with
 * no invokes and no timers.
 */
import { createActor, type Actor, type InspectionEvent } from 'xstate';
import { curriculumMachine } from '../../machines/curriculum.js';
import {
  budgetChoiceRecord,
  bucketsRecord,
  stageLog,
  type CurriculumController,
  type ProblemSpec,
} from '../curriculum/controller.js';
import type { LadderMeasurement } from '../eval/countdown.js';
import { stateName } from '../trace/transitions.js';

export type CurriculumEvent =
  /** The run starts, new or resumed: what it has not measured yet first (difficulty buckets, a coupled stage's budget). */
  | { type: 'start' }
  /** The measurement under way returned J over its ladder. */
  | { type: 'measured'; m: LadderMeasurement }
  /** The measurement under way failed: the run aborts. */
  | { type: 'measureFailed'; error: string }
  /** Step `version` was published with its batch's pass rate. */
  | { type: 'published'; version: number; passRate: number };

export type CurriculumEffect =
  /** Measure J over `ladder` on `problems` with the policy at the published version; answer `measured`. */
  | { type: 'measure'; label: string; problems: ProblemSpec[]; ladder: number[]; samples: number; k: number }
  /** A metrics.jsonl line (`buckets`, `budget-choice`, `stage`). */
  | { type: 'line'; line: Record<string, unknown> }
  | { type: 'log'; text: string }
  /** buckets.json's content. */
  | { type: 'bucketsFile'; file: Record<string, unknown> }
  /** What may be planned changed (a measurement ended, a stage began): hand out work. */
  | { type: 'pump' }
  /** The machine changed state: a transitions.jsonl line (actor and role `curriculum`). */
  | { type: 'transition'; from: string | null; to: string; event: string }
  /** The run aborts with this message. */
  | { type: 'fail'; message: string };

/** The curriculum's step: one per run, over the controller it is given (whose hold a virtual checkpoint keeps). */
export class CurriculumCore {
  private actor: Actor<typeof curriculumMachine> | null = null;
  /** The effects of the event being stepped (the machine's actions add to them). */
  private out: CurriculumEffect[] = [];
  /** The machine's state as last written to transitions.jsonl. */
  private last: string | null = null;
  private stopped = false;
  private readonly machine;

  constructor(
    readonly cur: CurriculumController,
    private readonly maxSteps: number,
    /** The published version now (each clock's own state). */
    private readonly published: () => number,
  ) {
    const coupled = cur.c.kind === 'coupled';
    this.machine = curriculumMachine.provide({
      actions: {
        measure: () => this.measureStage(),
        stageChanged: () => this.stageChanged(),
        reportFailure: (_, p) =>
          this.out.push({
            type: 'fail',
            message: `curriculum: measuring stage ${cur.state.stage} failed: ${p.error}`,
          }),
      },
      guards: {
        stageDone: () => cur.stageDoneReason() !== null,
        lastStage: () => cur.state.stage >= cur.c.stages.length - 1,
        measuresStages: () => coupled,
      },
    });
  }

  /** The answer to one event: effects in the order they are carried out (none once stopped). */
  step(ev: CurriculumEvent): CurriculumEffect[] {
    if (this.stopped) return [];
    this.out = [];
    switch (ev.type) {
      case 'start':
        this.start();
        break;
      case 'measured':
        this.measured(ev.m);
        break;
      case 'measureFailed':
        if (this.cur.measurement?.what === 'stage') this.actor!.send({ type: 'MEASURE_FAILED', error: ev.error });
        else this.fail(`curriculum: measuring the difficulty pool failed: ${ev.error}`);
        break;
      case 'published':
        this.cur.recordStep(ev.passRate);
        // the machine ends with the last stage (a final state takes no events)
        if (this.actor?.getSnapshot().status === 'active') this.actor.send({ type: 'STEP_DONE' });
        break;
    }
    return this.out;
  }

  /** The run stops: a measurement that returns later is not taken. */
  stop(): void {
    this.stopped = true;
    this.actor?.stop();
  }

  /**
   * Back to the controller's hold (a virtual-clock checkpoint, or the state from before an
   * abandoned event): the machine where the hold says, its entry actions not run again (the
   * measurement under way is still under way) and no transition line written.
   */
  restore(): void {
    this.actor?.stop();
    this.actor = null;
    this.last = null;
    if (this.cur.measurement?.what === 'buckets') return; // the machine starts when they are measured
    const value = this.cur.measuring ? 'measuring' : 'running';
    this.last = value;
    const snapshot = curriculumMachine.resolveState({ value, context: { error: null, measureFirst: false } });
    this.actor = this.watched(createActor(this.machine, { snapshot, input: {}, inspect: (e) => this.inspect(e) }));
    this.actor.start();
  }

  /** Buckets first (a resumed run's come from its checkpoint or buckets.json), then the machine. */
  private start(): void {
    this.actor?.stop();
    this.last = null;
    if (this.cur.usesBuckets() && !this.cur.buckets) {
      this.measureBuckets();
      return;
    }
    // A coupled stage starts by measuring, unless a resumed run already decided its budget.
    const measureFirst =
      this.cur.c.kind === 'coupled' && this.cur.state.budgets[String(this.cur.state.stage)] === undefined;
    this.actor = this.watched(createActor(this.machine, { input: { measureFirst }, inspect: (e) => this.inspect(e) }));
    this.actor.start();
  }

  /**
   * An error thrown inside the machine (an action or guard: the controller broke an assert) ends the
   * run through a `fail` effect, as any broken rule does, not through xstate's unhandled-error path.
   */
  private watched(a: Actor<typeof curriculumMachine>): Actor<typeof curriculumMachine> {
    a.subscribe({
      error: (e) => this.fail(`curriculum: ${e instanceof Error ? e.message : String(e)}`),
    });
    return a;
  }

  private inspect(e: InspectionEvent): void {
    if (e.type !== '@xstate.snapshot') return;
    const value = (e.snapshot as { value?: unknown }).value;
    if (value === undefined) return;
    const to = stateName(value);
    if (to === this.last) return;
    this.out.push({ type: 'transition', from: this.last, to, event: e.event.type });
    this.last = to;
  }

  /** The measurement's result: buckets (then the machine starts) or a stage's budget (then the machine runs). */
  private measured(m: LadderMeasurement): void {
    const under = this.cur.measurement;
    if (!under) return this.fail('curriculum: a measurement ended with none under way');
    this.cur.measurement = null;
    this.cur.measuring = false;
    const step = this.published();
    if (under.what === 'buckets') {
      const r = bucketsRecord(this.cur.c, { step, m, b: this.cur.setBuckets(m) });
      this.out.push(
        { type: 'bucketsFile', file: r.file },
        { type: 'line', line: r.line },
        { type: 'log', text: r.log },
      );
      this.start();
    } else {
      const d = this.cur.decide(under.stage, m);
      const r = budgetChoiceRecord(this.cur.c, { step, stage: under.stage, problems: under.problems, m, d });
      this.out.push({ type: 'line', line: r.line }, { type: 'log', text: r.log });
      this.actor!.send({ type: 'MEASURED' });
    }
    this.out.push({ type: 'pump' });
  }

  /** Difficulty buckets from the starting policy's pass rates (once per run). */
  private measureBuckets(): void {
    const p = this.cur.c.pool!;
    this.cur.measuring = true;
    this.cur.measurement = { what: 'buckets' };
    const problems = this.cur.poolProblems();
    this.out.push({
      type: 'measure',
      label: 'difficulty pool',
      problems,
      ladder: [p.budgetTokens],
      samples: p.samples,
      k: p.k,
    });
  }

  /** The machine's `measure` (entering `measuring`): J over the ladder on the stage's data. */
  private measureStage(): void {
    const cur = this.cur;
    const c = cur.c;
    const stage = cur.state.stage;
    cur.measuring = true;
    const v = this.published();
    // Past the run's last step no step of the new stage follows: nothing to measure.
    if (v >= this.maxSteps) return;
    let problems: ProblemSpec[];
    try {
      problems = cur.stageProblems(stage, c.measure.problems, `measure-${v}`);
    } catch (e) {
      return this.fail(`curriculum: measuring stage ${stage}: ${e instanceof Error ? e.message : String(e)}`);
    }
    cur.measurement = { what: 'stage', stage, problems: problems.length };
    this.out.push({
      type: 'measure',
      label: `stage ${stage}`,
      problems,
      ladder: c.ladder!,
      samples: c.measure.samples,
      k: c.k,
    });
  }

  /** The machine's `stageChanged`: the controller moves on; the line and the log unless past the last step. */
  private stageChanged(): void {
    const cur = this.cur;
    const reason = cur.stageDoneReason();
    cur.advance();
    const v = this.published();
    // Past the run's last step (--max-steps cut it) no step of the new stage follows: no line.
    if (v >= this.maxSteps) return;
    this.out.push(
      { type: 'line', line: { type: 'stage', step: v, stage: cur.state.stage, reason } },
      { type: 'log', text: stageLog(cur.state.stage, v, reason) },
      { type: 'pump' },
    );
  }

  private fail(message: string): void {
    this.out.push({ type: 'fail', message });
  }
}
