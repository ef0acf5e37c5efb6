#!/usr/bin/env bash
# Runs e3sim bench on the CPU backends and prints one table (medians of 3 repeats each).
set -euo pipefail
cd "$(dirname "$0")/.."
row() { # label, env, args...
  local label=$1 envs=$2; shift 2
  env $envs node bin/e3sim.js bench --json "$@" | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const r = JSON.parse(s);
      console.log([process.argv[1].padEnd(28), r.sampleTokensPerSec.toFixed(0).padStart(10), r.trainTokensPerSec.toFixed(0).padStart(10), r.trainStepMs.toFixed(0).padStart(10)].join(""));
    });' "$label"
}
echo "$(printf '%-28s%10s%10s%10s' config sample/s train/s step-ms)"
row "wasm (stock kernels)" E3SIM_WASM_STOCK_KERNELS=1 --backend wasm
row "wasm" "" --backend wasm
row "cpu" "" --backend cpu --repeats 1
