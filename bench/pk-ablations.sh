#!/usr/bin/env bash
# docs/PK.md "What each setting changes": paper-fig7 with one setting changed at a time (and
# paper-text with 200 actions), 3 seeds, both arms unless noted. Resumable: a result already
# written is kept. Table: npx tsx bench/pk-ablation-table.ts bench/results/pk-ablation-*.json
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results
run() { # name, flags...
  local name=$1; shift
  local f="$out/pk-ablation-$name.json"
  [[ -s $f ]] && { echo "kept $f"; return; }
  node bin/e3sim.js pk --seeds 3 --json --quiet "$@" > "$f.tmp" && mv "$f.tmp" "$f" && echo "wrote $f"
}
run fig7-sgd --optimizer sgd
run fig7-group64 --advantage group --group 64
run fig7-actions100 --actions 100
run fig7-baseline-mean --advantage baseline:mean
run fig7-baseline-0.25 --advantage baseline:0.25 --negatives keep
run fig7-baseline-0.75 --advantage baseline:0.75 --negatives keep
run fig7-lr0.005 --lr 0.005 --negatives keep
run fig7-lr0.003 --lr 0.003 --negatives keep --steps 12000
run text-actions200 --preset paper-text --actions 200
# the per-trajectory normalisation (1/|τ|) against a plain sum over the trajectory's transitions
run fig7-sum --trajectory-loss sum --negatives keep
run fig7-sgd-lr1 --optimizer sgd --lr 1 --negatives keep
run fig7-sgd-lr1-sum --optimizer sgd --lr 1 --trajectory-loss sum --negatives keep
