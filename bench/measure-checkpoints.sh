#!/usr/bin/env bash
# Measures the shipped base checkpoints (the numbers in BENCHMARKS.md) and writes the JSON to
# bench/results/. About 5 minutes on one core.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
e3() { node bin/e3sim.js "$@"; }
e3 vg-gap --checkpoint examples/checkpoints/base-countdown --task countdown --difficulty 3 --problems 256 --samples 4 --chains 1,2,4,8,16 --backend wasm --json > bench/results/vg-gap-base-countdown-d3.json
e3 vg-gap --checkpoint examples/checkpoints/base-countdown-noverify --task countdown --difficulty 3 --problems 256 --samples 4 --chains 1,2,4 --backend wasm --json > bench/results/vg-gap-base-countdown-noverify-d3.json
for d in 4 5; do
  e3 vg-gap --checkpoint examples/checkpoints/base-countdown --task countdown --difficulty $d --problems 256 --samples 4 --chains 1,2,4 --backend wasm --json > bench/results/vg-gap-base-countdown-d$d.json
done
e3 eval --checkpoint examples/checkpoints/base-countdown --task countdown --difficulty 3 --budgets 72,144,288 --samples 4 --k 1,4 --problems 256 --backend wasm --json > bench/results/eval-base-countdown-d3.json
node -e '
  const fs = require("fs");
  for (const f of fs.readdirSync("bench/results").filter((f) => f.startsWith("vg-gap"))) {
    const r = JSON.parse(fs.readFileSync("bench/results/" + f, "utf8"));
    console.log(f, JSON.stringify({ a: r.arithmeticAccuracy.toFixed(3), v: r.verificationAccuracy.toFixed(3), s: r.attemptSuccess.toFixed(3), att: r.meanAttempts.toFixed(2), len: r.meanLengthTokens.toFixed(1), p1: r.passAt1.toFixed(3), chains: Object.fromEntries(Object.entries(r.passAtChains).map(([k, v]) => [k, v.toFixed(3)])) }));
  }'
