#!/usr/bin/env bash
# A first sign of extrapolation on a base checkpoint (issue #28's probe): 60 learner steps of
# examples/countdown-e3.yaml with only model.checkpoint changed (B_tr 72), then held-out pass@1 of
# the base and of the trained policy at 72 / 144 / 288 tokens, at 3 and 4 numbers (256 problems × 4,
# eval seed 5), and the paired gain 288 − 72 with its 95% CI (bench/probe-gain.ts). ≈ 10 min, 1 core.
#   bash bench/probe-e3.sh CHECKPOINT DIR
set -euo pipefail
cd "$(dirname "$0")/.."
ck=${1:?checkpoint}
dir=${2:?output directory}
mkdir -p "$dir"
sed "s#checkpoint: examples/checkpoints/base-countdown#checkpoint: $ck#" examples/countdown-e3.yaml > "$dir/config.yaml"
[[ -f "$dir/run/summary.json" ]] || node bin/e3sim.js train --config "$dir/config.yaml" --out "$dir/run" --backend wasm --quiet
trained=$(node -e "const fs=require('fs');const d='$dir/run/checkpoints';console.log(d+'/'+fs.readFileSync(d+'/latest','utf8').trim())")
for d in 3 4; do
  for who in base trained; do
    c=$ck; [[ $who == trained ]] && c=$trained
    f="$dir/eval-$who-d$d.json"
    [[ -s $f ]] || node bin/e3sim.js eval --checkpoint "$c" --task countdown --difficulty $d --problems 256 --samples 4 \
      --seed 5 --budgets 72,144,288 --k 1,4 --backend wasm --json > "$f"
  done
done
npx tsx bench/probe-gain.ts "$dir"
