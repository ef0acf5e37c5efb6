#!/usr/bin/env bash
# Checkpoint size against run length (issue #30 item 6): examples/smoke.yaml run for STEPS steps
# (default 200) with a checkpoint every 10 steps, all kept; prints, per checkpoint, the bytes of
# its manifest (manifest.json, which holds the run state) and of the whole
# step directory, and the ratio step STEPS / step 10. A few minutes on one core.
#   bash bench/checkpoint-size.sh [STEPS] [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-200}
dir=${2:-$(mktemp -d)/checkpoint-size}
cfg=$(mktemp --suffix=.yaml)
sed -e "s/steps: 4 }/steps: $steps }/" -e 's/every: 2/every: 10/' -e "s/keep: 2/keep: $((steps / 10 + 1))/" \
  -e '/^eval:/,$d' examples/smoke.yaml > "$cfg"
grep -q "steps: $steps }" "$cfg" || { echo "bench/checkpoint-size.sh: smoke.yaml's stage line changed" >&2; exit 2; }
node bin/e3sim.js train --quiet --config "$cfg" --out "$dir"
node -e '
  const fs = require("fs"), path = require("path");
  const root = path.join(process.argv[1], "checkpoints");
  const size = (p) => fs.statSync(p).isDirectory() ? fs.readdirSync(p).reduce((s, f) => s + size(path.join(p, f)), 0) : fs.statSync(p).size;
  const rows = fs.readdirSync(root).filter((d) => d.startsWith("step-")).map((d) => ({ step: Number(d.slice(5)), state: fs.statSync(path.join(root, d, "manifest.json")).size, total: size(path.join(root, d)) })).sort((a, b) => a.step - b.step);
  for (const r of rows) console.log(`step ${r.step}: manifest.json ${r.state} B, checkpoint ${r.total} B`);
  const a = rows.find((r) => r.step === 10), b = rows.at(-1);
  console.log(`step ${b.step} / step 10: manifest.json ${(b.state / a.state).toFixed(3)}, checkpoint ${(b.total / a.total).toFixed(4)}`);
' "$dir"
