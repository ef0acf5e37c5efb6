/**
 * Evaluating a countdown policy: `evalBudgets` measures pass@k and trace statistics at several
 * test budgets, `measureLadder` the curriculum's J over a budget ladder (the verification–generation
 * gap of a base model is eval/vgGap.ts).
 *
 * Budgets are applied by truncation (E3.md): each sample is drawn once with the largest budget;
 * at budget B it counts as correct only if it ended (EOS) within B tokens with a correct answer.
 * Because sampling is causal, this equals sampling separately at each budget with the same seed.
 */
import { Rng } from '../util/rng.js';
import type { Gpt } from '../policy/transformer/model.js';
import { sample, type SampleResult } from '../policy/transformer/sample.js';
import { evalSet, type Problem } from '../tasks/countdown/problems.js';
import { promptTokens } from '../tasks/countdown/trace.js';
import { verify } from '../tasks/countdown/verifier.js';
import { ANSWER, BAR, CHECK, EOS, PAD, VOCAB_SIZE } from '../tasks/countdown/tokenizer.js';
import { meanPassAtK } from '../rl/passk.js';
import { InputError } from '../util/errors.js';

export interface SampleJob {
  problems: Problem[];
  samplesPerProblem: number;
  budgetTokens: number;
  temperature: number;
  seed: number;
  /** Sequences per sampling batch (memory / latency trade-off). */
  batchSize: number;
  forbid?: (completion: readonly number[]) => readonly number[] | null;
  onBatch?: (done: number, total: number) => void;
  /** Called before each decode step (may throw to stop: a halt request between work items). */
  beforeDecode?: () => void;
}

export interface Drawn {
  problem: Problem;
  sampleIndex: number;
  result: SampleResult;
}

/**
 * Samples `samplesPerProblem` completions per problem; sequence (problem i, sample j) always uses the same Rng
 * stream.
 */
export function drawSamples(model: Gpt, job: SampleJob): Drawn[] {
  const all: { problem: Problem; sampleIndex: number }[] = [];
  job.problems.forEach((problem) => {
    for (let j = 0; j < job.samplesPerProblem; j++) all.push({ problem, sampleIndex: j });
  });
  const out: Drawn[] = [];
  const root = new Rng(`sample/${job.seed}`);
  // Group by prompt length: a sampling batch needs equal-length prompts.
  const byLen = new Map<number, typeof all>();
  for (const x of all) {
    const L = promptTokens(x.problem).length;
    const group = byLen.get(L);
    if (group) group.push(x);
    else byLen.set(L, [x]);
  }
  let done = 0;
  for (const group of byLen.values()) {
    for (let i = 0; i < group.length; i += job.batchSize) {
      const chunk = group.slice(i, i + job.batchSize);
      const prompts = chunk.map((x) => promptTokens(x.problem));
      const results = sample(model, prompts, {
        budgetTokens: job.budgetTokens,
        temperature: job.temperature,
        eosId: EOS,
        padId: PAD,
        rngs: chunk.map((x) => root.fork(`${x.problem.id}#${x.sampleIndex}`)),
        forbid: job.forbid ? (_row, completion) => job.forbid!(completion) : undefined,
        beforeDecode: job.beforeDecode
          ? () => {
              job.beforeDecode!();
              return false;
            }
          : undefined,
      });
      chunk.forEach((x, k) => out.push({ ...x, result: results[k]! }));
      done += chunk.length;
      job.onBatch?.(done, all.length);
    }
  }
  return out;
}

/** Every token but the answer marker: what a protocol forbids when it forces the answer next. */
export const ALL_BUT_ANSWER = Array.from({ length: VOCAB_SIZE }, (_, i) => i).filter((t) => t !== ANSWER);

/**
 * The forced-chains protocol: ending (the answer marker and EOS) is masked until the trace has
 * written a ✓ or `chains` attempts; after `chains` attempts without a ✓, the next segment must be
 * the answer. So each trace makes exactly `chains` attempts unless it finds (what it thinks is) a
 * hit earlier.
 */
export function forcedChains(chains: number): (completion: readonly number[]) => readonly number[] | null {
  return (completion) => {
    if (completion.includes(CHECK)) return null;
    let attempts = 0;
    for (const t of completion) if (t === BAR) attempts++;
    const atSegmentStart = completion.length === 0 || completion.at(-1) === BAR;
    if (attempts >= chains) return atSegmentStart ? ALL_BUT_ANSWER : null;
    return [ANSWER, EOS];
  };
}

export interface BudgetRow {
  budget: number;
  passAt: Record<string, number>;
  meanLength: number;
  meanLengthCorrect: number | null;
  meanLengthIncorrect: number | null;
  meanAttempts: number;
  /** Distinct well-formed attempt chains per sample. */
  meanUniqueAttempts: number;
  entropy: number;
  /** Correct samples per held-out problem, in the evaluation set's order (for paired bootstrap CIs). */
  correct: number[];
}

export function evalBudgets(
  model: Gpt,
  o: {
    difficulty: number;
    budgets: number[];
    samples: number;
    ks: number[];
    problems: number;
    seed: number;
    temperature: number;
    batchSize: number;
    onProgress?: (s: string) => void;
    beforeDecode?: () => void;
  },
): { budgets: BudgetRow[]; problems: number; samples: number; difficulty: number; temperature: number } {
  const kMax = Math.max(...o.ks);
  if (o.samples < kMax)
    throw new InputError(`--samples: pass@${kMax} needs at least ${kMax} samples per problem, got ${o.samples}`);
  const problems = evalSet(o.seed, o.difficulty, o.problems);
  const promptLen = promptTokens(problems[0]!).length;
  const maxBudget = Math.max(...o.budgets);
  if (promptLen + maxBudget > model.config.contextLength) {
    throw new InputError(
      `--budgets: budget ${maxBudget} plus the ${promptLen}-token prompt exceeds the model's context of ${model.config.contextLength} tokens (largest allowed budget: ${model.config.contextLength - promptLen})`,
    );
  }
  const drawn = drawSamples(model, {
    problems,
    samplesPerProblem: o.samples,
    budgetTokens: maxBudget,
    temperature: o.temperature,
    seed: o.seed,
    batchSize: o.batchSize,
    onBatch: (d, t) => o.onProgress?.(`sampled ${d}/${t}`),
    beforeDecode: o.beforeDecode,
  });
  const rows = [...o.budgets].sort((a, b) => a - b).map((B) => budgetRow(drawn, problems, B, o.ks));
  return {
    budgets: rows,
    problems: problems.length,
    samples: o.samples,
    difficulty: o.difficulty,
    temperature: o.temperature,
  };
}

/** One test budget's row: every drawn trace cut at `B` tokens and verified, pass@k per problem, lengths, attempts, entropy. */
function budgetRow(
  drawn: readonly { problem: Problem; result: { tokens: number[]; entropies: number[] } }[],
  problems: readonly Problem[],
  B: number,
  ks: readonly number[],
): BudgetRow {
  const perProblem = new Map<string, [number, number]>();
  let len = 0,
    lenC = 0,
    nC = 0,
    lenI = 0,
    nI = 0,
    att = 0,
    uniq = 0,
    ent = 0,
    entN = 0;
  for (const d of drawn) {
    const cut = d.result.tokens.slice(0, B);
    const v = verify(d.problem, cut);
    const pc = perProblem.get(d.problem.id) ?? [0, 0];
    pc[0]++;
    if (v.correct) pc[1]++;
    perProblem.set(d.problem.id, pc);
    len += v.lengthTokens;
    if (v.correct) {
      lenC += v.lengthTokens;
      nC++;
    } else {
      lenI += v.lengthTokens;
      nI++;
    }
    att += v.attempts;
    uniq += v.uniqueAttempts;
    for (const e of d.result.entropies.slice(0, B)) {
      ent += e;
      entN++;
    }
  }
  const counts = [...perProblem.values()];
  return {
    budget: B,
    passAt: Object.fromEntries(ks.map((k) => [String(k), meanPassAtK(counts, k)])),
    meanLength: len / drawn.length,
    meanLengthCorrect: nC ? lenC / nC : null,
    meanLengthIncorrect: nI ? lenI / nI : null,
    meanAttempts: att / drawn.length,
    meanUniqueAttempts: uniq / drawn.length,
    entropy: entN ? ent / entN : 0,
    correct: problems.map((p) => perProblem.get(p.id)?.[1] ?? 0),
  };
}

export interface LadderPoint {
  budget: number;
  /** J(B): mean pass@k over the problems at truncation budget B. */
  J: number;
  /** Mean response length (tokens, through EOS) at budget B. */
  meanLength: number;
}

export interface LadderMeasurement {
  k: number;
  samples: number;
  ladder: LadderPoint[];
  /** Per problem at the largest budget: fraction correct and pass@k (for difficulty buckets). */
  perProblem: { id: string; passRate: number; passAtK: number }[];
}

/**
 * The coupled curriculum's measurement: J over a budget ladder for a given problem set (any
 * split), by truncation of one draw at the largest budget (as evalBudgets), plus per-problem
 * pass rates. `k` ≤ `samples`.
 */
export function measureLadder(
  model: Gpt,
  problems: readonly Problem[],
  o: { ladder: number[]; samples: number; k: number; seed: number; temperature: number; batchSize: number },
): LadderMeasurement {
  if (problems.length === 0) throw new InputError('measureLadder: no problems');
  if (o.k > o.samples)
    throw new InputError(`measureLadder: pass@${o.k} needs at least ${o.k} samples per problem, got ${o.samples}`);
  const ladder = [...new Set(o.ladder)].sort((a, b) => a - b);
  const maxBudget = ladder.at(-1)!;
  const promptLen = Math.max(...problems.map((p) => promptTokens(p).length));
  if (promptLen + maxBudget > model.config.contextLength) {
    throw new InputError(
      `ladder: budget ${maxBudget} plus the ${promptLen}-token prompt exceeds the model's context of ${model.config.contextLength} tokens`,
    );
  }
  // A problem listed twice is measured once.
  const unique = [...new Map(problems.map((p) => [p.id, p])).values()];
  const drawn = drawSamples(model, {
    problems: unique,
    samplesPerProblem: o.samples,
    budgetTokens: maxBudget,
    temperature: o.temperature,
    seed: o.seed,
    batchSize: o.batchSize,
  });
  const points: LadderPoint[] = [];
  let perProblem: LadderMeasurement['perProblem'] = [];
  for (const B of ladder) {
    const counts = new Map<string, [number, number]>();
    let len = 0;
    for (const d of drawn) {
      const v = verify(d.problem, d.result.tokens.slice(0, B));
      const c = counts.get(d.problem.id) ?? [0, 0];
      c[0]++;
      if (v.correct) c[1]++;
      counts.set(d.problem.id, c);
      len += v.lengthTokens;
    }
    points.push({ budget: B, J: meanPassAtK([...counts.values()], o.k), meanLength: len / drawn.length });
    if (B === maxBudget)
      perProblem = [...counts].map(([id, [n, c]]) => ({ id, passRate: c / n, passAtK: meanPassAtK([[n, c]], o.k) }));
  }
  return { k: o.k, samples: o.samples, ladder: points, perProblem };
}
