#!/usr/bin/env bash
# The GPU check: one command that measures everything the GPU machine is for and prints one table.
# Here:  npm run bundle && bash ../shared/device/prepare.sh
# There (run tool, carry [".device", "dist/bundle"], from the repo root):
#   bash .device/gpu-env.sh bash bench/gpu-check.sh
# Rows: e3sim bench on webgpu and wasm at the reference shape and the large one (wasm: sampling
# only — a large training step takes minutes on one CPU thread), PyTorch on CUDA at both shapes
# when torch is importable, and 20 training steps of the smoke config on webgpu in sampler worker
# threads (bench/gpu/smoke-20.yaml), then with two sampler threads each holding its own GPU
# backend (smoke-20-two-samplers.yaml). Every row has its own time limit, and all rows together
# stay within GPU_CHECK_SECONDS (default 420: the GPU lease is 15 minutes with a start and a rerun);
# a row that fails or times out says so and the rest still run. Raw JSON goes to $OUT (or /tmp).
# GPU=wasm runs the GPU rows on wasm instead: a dry run of this script on a CPU-only machine.
set -uo pipefail
cd "$(dirname "$0")/.."
E3=(node dist/bundle/e3sim.mjs)
RES=${OUT:-/tmp}/gpu-check
GPU=${GPU:-webgpu}
DEADLINE=$(( $(date +%s) + ${GPU_CHECK_SECONDS:-420} ))
mkdir -p "$RES"
limit() { # the row's own limit, cut to what is left of the whole check (at least 1 s)
  local left=$(( DEADLINE - $(date +%s) ))
  (( left < 1 )) && left=1
  echo $(( $1 < left ? $1 : left ))
}
[ -f dist/bundle/e3sim.mjs ] || { echo "gpu-check: dist/bundle/e3sim.mjs missing: run 'npm run bundle' and carry dist/bundle" >&2; exit 2; }
echo "node $(node --version); $(nvidia-smi -L 2>/dev/null | head -1 || echo 'no nvidia-smi')" >&2

bench() { # name, limit_s, args...
  local name=$1 limit=$2; shift 2
  echo "[$name] ..." >&2
  if timeout "$(limit "$limit")" "${E3[@]}" bench --json "$@" > "$RES/$name.json" 2> "$RES/$name.err"; then echo "$name ok"; else echo "$name failed (exit $?; $(tail -c 300 "$RES/$name.err" | tr '\n' ' '))"; fi
}
torch() { # name, limit_s, shape
  local name=$1 limit=$2 shape=$3 py
  py=$(for p in python3 /usr/bin/python3; do "$p" -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null && { echo "$p"; break; }; done)
  if [ -z "$py" ]; then echo "$name failed (no python3 with torch and CUDA)"; return; fi
  echo "[$name] ..." >&2
  if timeout "$(limit "$limit")" "$py" bench/reference/tiny_gpt.py --device cuda --shape "$shape" --threads 1 > "$RES/$name.json" 2> "$RES/$name.err"; then echo "$name ok"; else echo "$name failed (exit $?; $(tail -c 300 "$RES/$name.err" | tr '\n' ' '))"; fi
}
status=()
status+=("$(bench webgpu-reference 60 --backend "$GPU" --shape reference --repeats 3)")
status+=("$(bench wasm-reference 60 --backend wasm --shape reference --repeats 3)")
status+=("$(bench webgpu-large 90 --backend "$GPU" --shape large --repeats 2)")
status+=("$(torch torch-cuda-reference 45 reference)")
status+=("$(torch torch-cuda-large 45 large)")
train() { # name, limit_s, config: 20 steps in sampler worker threads; the run directory stays under $RES
  local name=$1 limit=$2 config=$3 t0
  echo "[$name] ..." >&2
  t0=$(date +%s)
  if timeout "$(limit "$limit")" "${E3[@]}" train --config "$config" --backend "$GPU" --out "$RES/$name" --quiet > "$RES/$name.out" 2> "$RES/$name.err"; then
    echo "$name ok ($(( $(date +%s) - t0 )) s)"
  else
    echo "$name failed (exit $?; $(tail -c 300 "$RES/$name.err" | tr '\n' ' '))"
  fi
}
status+=("$(train train-webgpu 90 bench/gpu/smoke-20.yaml)")
status+=("$(train train-webgpu-2-samplers 90 bench/gpu/smoke-20-two-samplers.yaml)")
# Last: one CPU thread sampling the large shape takes minutes; it gets what is left of the deadline.
status+=("$(bench wasm-large-sample 150 --backend wasm --shape large --repeats 1 --no-train)")

node - "$RES" "${status[@]}" <<'JS'
const fs = require('fs'), path = require('path');
const [res, ...status] = process.argv.slice(2);
const read = (n) => { try { return JSON.parse(fs.readFileSync(path.join(res, n + '.json'), 'utf8')); } catch { return null; } };
const f = (x) => (x == null || !Number.isFinite(x) ? '—' : Math.round(x).toLocaleString('en-US'));
console.log('| row | engine | shape | sample tok/s | train tok/s | train step ms | status |');
console.log('|---|---|---|---:|---:|---:|---|');
for (const s of status) {
  const name = s.split(' ')[0];
  if (name.startsWith('train-')) {
    let sum = null;
    try { sum = JSON.parse(fs.readFileSync(path.join(res, name, 'summary.json'), 'utf8')); } catch {}
    let weights = false;
    try { weights = fs.readdirSync(path.join(res, name, 'checkpoints')).some((d) => d.startsWith('step-')); } catch {}
    const extra = sum ? `steps ${sum.steps ?? '?'}, ${f(sum.tokensPerSec)} generated tok/s, lost ${sum.rolloutsLost ?? '?'}, weights ${weights ? 'written' : 'missing'}` : 'no summary.json';
    const samplers = name.endsWith('2-samplers') ? 2 : 1;
    console.log(`| ${name} | e3sim ${process.env.GPU || 'webgpu'}, ${samplers} sampler thread${samplers > 1 ? 's' : ''} | smoke, 20 steps | — | — | — | ${s.slice(name.length + 1)}; ${extra} |`);
    continue;
  }
  const r = read(name);
  const engine = r ? (r.engine ?? `e3sim ${r.backend}`) + (r.device ? ` ${r.device}` : '') : name;
  const shape = r?.shape ? `d${r.shape.dModel} L${r.shape.nLayers} B${r.shape.batch}` : '';
  console.log(`| ${name} | ${engine} | ${shape} | ${f(r?.sampleTokensPerSec)} | ${f(r?.trainTokensPerSec)} | ${f(r?.trainStepMs)} | ${s.slice(name.length + 1)} |`);
}
JS
