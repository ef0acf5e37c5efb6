#!/usr/bin/env bash
# Issue #31 item 1, docs/STALENESS.md "e3 under staleness": the p^k model (paper-fig7) with each
# trajectory sampled η iterations behind the policy it trains, η ∈ {0, 2, 8, 32}, keep and mask,
# 3 seeds, for each staleness correction. Resumable: a result already written is kept.
# Table: npx tsx bench/pk-staleness-table.ts bench/results/pk-staleness-*.json
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results
for c in none tis decoupled topr asym-clip; do
  f="$out/pk-staleness-$c.json"
  [[ -s $f ]] && { echo "kept $f"; continue; }
  node bin/e3sim.js pk --staleness 0,2,8,32 --seeds 3 --correction "$c" --json --quiet > "$f.tmp"
  mv "$f.tmp" "$f"
  echo "wrote $f"
done
