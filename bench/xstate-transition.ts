/**
 * What stepping the actors' machines as data would cost the virtual clock (issue #30, item 2):
 * xstate's pure `transition()` over the sampler machine's busy cycle (GENERATE → weights synced →
 * generated → delivered → idle: four events), against the simulator's own cost per event
 * (`e3sim bench --sim`). Medians of `--repeats` runs of `--cycles` cycles.
 *   npx tsx bench/xstate-transition.ts [--cycles 20000] [--repeats 5]
 */
import { performance } from 'node:perf_hooks';
import { initialTransition, transition, type AnyEventObject } from 'xstate';
import { samplerMachine } from '../machines/sampler.js';
import type { Generate } from '../src/runtime/messages.js';

type SamplerEvent = Parameters<typeof transition<typeof samplerMachine>>[2];

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const cycles = arg('cycles', 20_000),
  repeats = arg('repeats', 5);
const request = { type: 'Generate', requestId: 'r', step: 1, problems: [], budgetTokens: 72 } as unknown as Generate;

/** The one invoked child's done event (its id is in the spawn action transition() returns). */
function doneOf(actions: readonly { type: string; params?: unknown }[], output?: unknown): SamplerEvent {
  const spawn = actions.find((a) => a.type === 'xstate.spawnChild') as { params?: { id?: string } } | undefined;
  const id = spawn?.params?.id;
  if (!id) throw new Error(`no invoked child in ${actions.map((a) => a.type).join(', ')}`);
  // a done event is not among the machine's declared events, though transition() takes it
  return { type: `xstate.done.actor.${id}`, output } as AnyEventObject as SamplerEvent;
}

function run(): number {
  let [s] = initialTransition(samplerMachine, { id: 'sampler-0' });
  const t0 = performance.now();
  for (let c = 0; c < cycles; c++) {
    let [n, acts] = transition(samplerMachine, s, { type: 'GENERATE', request });
    [n, acts] = transition(samplerMachine, n, doneOf(acts)); // weights synced
    [n, acts] = transition(samplerMachine, n, doneOf(acts, { type: 'Rollouts' })); // generated
    [n] = transition(samplerMachine, n, doneOf(acts)); // delivered
    if (n.value !== 'idle') throw new Error(`cycle ${c} ended in ${JSON.stringify(n.value)}`);
    s = n;
  }
  return ((performance.now() - t0) * 1000) / (cycles * 4); // µs per event
}

const us = Array.from({ length: repeats }, run).sort((a, b) => a - b);
const median = us[Math.floor(us.length / 2)]!;
console.log(
  JSON.stringify({ cycles, repeats, usPerEvent: us.map((x) => +x.toFixed(3)), medianUs: +median.toFixed(3) }),
);
