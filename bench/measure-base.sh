#!/usr/bin/env bash
# Measures a base checkpoint the way issue #28 asks (BENCHMARKS.md, docs/REPRODUCTION.md "Base
# model v3"): natural traces (vg-gap) at 3, 4 and 5 numbers; per attempt index under forced chains
# of 16 (vg-gap --by-attempt) at 3 and 4 numbers; the authors' chained-attempts protocol (eval
# --cut-after 2,4,8,16); pass@1 over a doubling budget ladder. Held-out problems (seed 0),
# 256 × 4 samples, temperature 1, wasm. JSON into DIR. About 10 minutes on one core.
#   bash bench/measure-base.sh [CHECKPOINT] [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
ck=${1:-examples/checkpoints/base-countdown}
dir=${2:-bench/results/base-$(basename "$ck")}
mkdir -p "$dir"
e3() { node bin/e3sim.js "$@" --checkpoint "$ck" --task countdown --problems 256 --samples 4 --backend wasm --json; }
for d in 3 4 5; do e3 vg-gap --difficulty $d --chains 1,2,4 > "$dir/vg-gap-d$d.json"; done
for d in 3 4; do
  e3 vg-gap --difficulty $d --by-attempt 16 > "$dir/by-attempt-d$d.json"
  e3 eval --difficulty $d --cut-after 2,4,8,16 > "$dir/cut-after-d$d.json"
  e3 eval --difficulty $d --budgets 18,36,72,144,288 --k 1,4 > "$dir/budgets-d$d.json"
done
node bench/base-table.mjs "$dir"
