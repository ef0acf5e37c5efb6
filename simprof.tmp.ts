import { runSimBench, SIM_BENCH_CASES } from './src/bench/simBench.js';
const rows = await runSimBench({ repeats: 1, now: () => performance.now(), cases: [SIM_BENCH_CASES[0]!] });
console.log(Math.round(rows[0]!.eventsPerSecond));
