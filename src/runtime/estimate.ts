/**
 * What a run will ask of this machine, from its config alone, before anything starts (issue #29):
 * the seconds of one step and of the whole run on one core, and the peak memory of one optimizer
 * update. The rates are the cpu-tiny profile's (examples/profiles/cpu-tiny.yaml: the shipped
 * model's measured sampling and training speed on one core), scaled by the model's size; the
 * memory is a fit to peak RSS measured around one gptRlStep on the wasm backend (base v3, dModel
 * 128, 2 layers, 4 heads, vocabulary 115):
 *
 *   rows × T      T    peak − before (MB)    per token (KB)
 *   64 × 60       60        562                 146
 *   256 × 60      60       2175                 142
 *   32 × 200     200       1137                 178
 *   512 × 60      60    aborted: the wasm heap's 4 GiB
 *
 * so ≈ 4 bytes × (L·(122·d + 7.8·h·T) + 20·V) per trained token (docs/TRAIN.md "Will it fit").
 * A run beyond the machine is a warning (exit 2 with --strict); an update beyond the wasm heap,
 * or beyond twice the machine's memory, cannot finish anywhere here and is refused (exit 2).
 */
import type { GptConfig } from '../policy/transformer/config.js';
import { CostModel, type Profile } from '../sim/profile.js';
import { promptTokens } from '../tasks/countdown/trace.js';
import { slotsPerStep } from '../core/dynamicSampling.js';
import type { TrainConfig } from './config.js';

/** The wasm backend's heap: a 32-bit address space. */
export const WASM_HEAP_BYTES = 4 * 1024 ** 3;
/** The shape cpu-tiny's rates were measured at. */
const REFERENCE = { dModel: 128, nLayers: 2 };

export interface RunEstimate {
  rowsPerStep: number;
  /** Longest sequence trained (prompt + largest budget, within the context). */
  seqLen: number;
  /** Seconds of the largest step on one core: generation, then the update. */
  generateSeconds: number;
  updateSeconds: number;
  totalSeconds: number;
  /** Peak bytes of one optimizer update (one minibatch) and of a sampler's KV cache. */
  updateBytes: number;
  kvBytes: number;
}

function bytesPerToken(g: GptConfig, T: number): number {
  return 4 * (g.nLayers * (122 * g.dModel + 7.8 * g.nHeads * T) + 20 * g.vocabSize);
}

export function estimateRun(c: TrainConfig, g: GptConfig, p: Profile): RunEstimate {
  const rows = slotsPerStep(c.rollout.problemsPerStep, c.rollout.dynamicSampling) * c.rollout.groupSize;
  const scale = (g.nLayers * g.dModel * g.dModel) / (REFERENCE.nLayers * REFERENCE.dModel * REFERENCE.dModel);
  const ladderTop = c.curriculum.ladder ? Math.max(...c.curriculum.ladder) : undefined;
  const cost = new CostModel(p, 0, 0);
  let total = 0;
  let worst = { gen: 0, upd: 0, T: 0 };
  for (const st of c.curriculum.stages) {
    const difficulty = st.difficulty ?? 6;
    const prompt = promptTokens({ numbers: Array(difficulty).fill(99), target: 99 }).length;
    const budget = st.budgetTokens ?? ladderTop ?? g.contextLength - prompt;
    const T = Math.min(g.contextLength, prompt + budget);
    // the cost model's own formulas (the virtual clock's): every row decodes the whole budget; each
    // epoch trains every minibatch, its tokens scaled by the model's size
    const gen = scale * cost.generateSeconds(rows * prompt, budget, rows * budget);
    const mb = c.learner.minibatches;
    const upd = c.learner.epochs * mb * cost.trainSeconds((scale * rows * T) / mb);
    total += st.steps * (gen + upd);
    if (gen + upd > worst.gen + worst.upd) worst = { gen, upd, T };
  }
  const T = worst.T;
  const perUpdateRows = Math.ceil(rows / c.learner.minibatches);
  return {
    rowsPerStep: rows,
    seqLen: T,
    generateSeconds: worst.gen,
    updateSeconds: worst.upd,
    totalSeconds: total,
    updateBytes: perUpdateRows * T * bytesPerToken(g, T),
    kvBytes: rows * g.nLayers * 2 * T * g.dModel * 4,
  };
}

const gb = (b: number) => `${(b / 1024 ** 3).toFixed(b < 1024 ** 3 ? 2 : 1)} GB`;
const dur = (s: number) =>
  s < 120 ? `${s.toFixed(1)} s` : s < 7200 ? `${(s / 60).toFixed(0)} min` : `${(s / 3600).toFixed(1)} h`;

export interface EstimateVerdict {
  /** One line: the estimate. */
  line: string;
  warnings: string[];
  /** Why the run cannot finish here (refused whatever --strict says), or null. */
  refusal: string | null;
}

/**
 * Reads an estimate against a machine: `memoryBytes` (os.totalmem()), whether the updates run on
 * the wasm backend (its 4 GiB heap), and the threads that hold a KV cache at once.
 */
export function judgeEstimate(
  e: RunEstimate,
  m: {
    memoryBytes: number;
    /** Whether the updates run on wasm: 'maybe' for backend auto (wasm when neither tensorflow nor webgpu starts). */
    wasm: 'yes' | 'maybe' | 'no';
    samplerThreads: number;
    source: string;
  },
): EstimateVerdict {
  const peak = e.updateBytes + m.samplerThreads * e.kvBytes;
  const line =
    `estimate: ${e.rowsPerStep} rollouts × ${e.seqLen} tokens a step; ~${dur(e.generateSeconds + e.updateSeconds)} per step on one core ` +
    `(generation ${dur(e.generateSeconds)}, update ${dur(e.updateSeconds)}), ~${dur(e.totalSeconds)} in all; ` +
    `peak memory ~${gb(peak)} of this machine's ${gb(m.memoryBytes)}`;
  const fix = 'lower rollout.problemsPerStep × rollout.groupSize or the budget, or raise learner.minibatches';
  let refusal: string | null = null;
  const overHeap = m.wasm !== 'no' && e.updateBytes > WASM_HEAP_BYTES;
  if (overHeap && m.wasm === 'yes')
    refusal = `${m.source}: one optimizer update needs ~${gb(e.updateBytes)}, beyond the wasm backend's ${gb(WASM_HEAP_BYTES)} heap (it would abort mid-run); ${fix}`;
  else if (peak > 2 * m.memoryBytes)
    refusal = `${m.source}: the run needs ~${gb(peak)} at its peak, more than twice this machine's ${gb(m.memoryBytes)}; ${fix}`;
  const warnings: string[] = [];
  if (overHeap && m.wasm === 'maybe')
    warnings.push(
      `${m.source}: one optimizer update needs ~${gb(e.updateBytes)}, beyond the wasm backend's ${gb(WASM_HEAP_BYTES)} heap: with backend auto it aborts mid-run unless tensorflow or webgpu starts; ${fix}`,
    );
  if (!refusal && peak > 0.8 * m.memoryBytes)
    warnings.push(
      `${m.source}: the run needs ~${gb(peak)} at its peak, beyond 80% of this machine's ${gb(m.memoryBytes)}; ${fix}`,
    );
  if (e.updateSeconds > 60)
    warnings.push(
      `${m.source}: one optimizer update is estimated at ${dur(e.updateSeconds)}; a signal waits for the update under way (it cannot stop inside one)`,
    );
  return { line, warnings, refusal };
}
