#!/usr/bin/env bash
# The GPU check: one command that measures everything the GPU machine is for and prints one table.
# Here:  npm run bundle && bash ../shared/device/prepare.sh
# There (run tool, carry [".device", "dist/bundle"], from the repo root):
#   bash .device/gpu-env.sh bash bench/gpu-check.sh
# Rows: e3sim bench on webgpu and wasm at the reference shape and the large one (wasm: sampling
# only — a large training step takes minutes on one CPU thread), PyTorch on CUDA at both shapes
# when torch is importable, and a 20-step training on webgpu. Every row has its own time limit;
# a row that fails or times out says so and the rest still run. Raw JSON goes to $OUT (or /tmp).
set -uo pipefail
cd "$(dirname "$0")/.."
E3=(node dist/bundle/e3sim.mjs)
RES=${OUT:-/tmp}/gpu-check
mkdir -p "$RES"
[ -f dist/bundle/e3sim.mjs ] || { echo "gpu-check: dist/bundle/e3sim.mjs missing: run 'npm run bundle' and carry dist/bundle" >&2; exit 2; }
echo "node $(node --version); $(nvidia-smi -L 2>/dev/null | head -1 || echo 'no nvidia-smi')" >&2

bench() { # name, limit_s, args...
  local name=$1 limit=$2; shift 2
  echo "[$name] ..." >&2
  if timeout "$limit" "${E3[@]}" bench --json "$@" > "$RES/$name.json" 2> "$RES/$name.err"; then echo "$name ok"; else echo "$name failed (exit $?; $(tail -c 300 "$RES/$name.err" | tr '\n' ' '))"; fi
}
torch() { # name, limit_s, shape
  local name=$1 limit=$2 shape=$3 py
  py=$(for p in python3 /usr/bin/python3; do "$p" -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null && { echo "$p"; break; }; done)
  if [ -z "$py" ]; then echo "$name failed (no python3 with torch and CUDA)"; return; fi
  echo "[$name] ..." >&2
  if timeout "$limit" "$py" bench/reference/tiny_gpt.py --device cuda --shape "$shape" --threads 1 > "$RES/$name.json" 2> "$RES/$name.err"; then echo "$name ok"; else echo "$name failed (exit $?; $(tail -c 300 "$RES/$name.err" | tr '\n' ' '))"; fi
}
status=()
status+=("$(bench webgpu-reference 90 --backend webgpu --shape reference --repeats 3)")
status+=("$(bench wasm-reference 90 --backend wasm --shape reference --repeats 3)")
status+=("$(bench webgpu-large 100 --backend webgpu --shape large --repeats 2)")
status+=("$(bench wasm-large-sample 100 --backend wasm --shape large --repeats 1 --no-train)")
status+=("$(torch torch-cuda-reference 60 reference)")
status+=("$(torch torch-cuda-large 60 large)")
echo "[train-webgpu] ..." >&2
t0=$(date +%s)
if timeout 120 "${E3[@]}" train --config examples/countdown-e3.yaml --backend webgpu --max-steps 20 --out "$RES/train-webgpu" --quiet > "$RES/train-webgpu.out" 2> "$RES/train-webgpu.err"; then
  status+=("train-webgpu ok ($(( $(date +%s) - t0 )) s)")
else
  status+=("train-webgpu failed (exit $?; $(tail -c 300 "$RES/train-webgpu.err" | tr '\n' ' '))")
fi

node - "$RES" "${status[@]}" <<'JS'
const fs = require('fs'), path = require('path');
const [res, ...status] = process.argv.slice(2);
const read = (n) => { try { return JSON.parse(fs.readFileSync(path.join(res, n + '.json'), 'utf8')); } catch { return null; } };
const f = (x) => (x == null || !Number.isFinite(x) ? '—' : Math.round(x).toLocaleString('en-US'));
console.log('| row | engine | shape | sample tok/s | train tok/s | train step ms | status |');
console.log('|---|---|---|---:|---:|---:|---|');
for (const s of status) {
  const name = s.split(' ')[0];
  if (name === 'train-webgpu') {
    let sum = null;
    try { sum = JSON.parse(fs.readFileSync(path.join(res, 'train-webgpu', 'summary.json'), 'utf8')); } catch {}
    const extra = sum ? `steps ${sum.steps ?? sum.step ?? '?'}, ${f(sum.tokensPerSec ?? sum.generatedTokensPerSec)} generated tok/s, lost ${sum.rolloutsLost ?? '?'}` : 'no summary.json';
    console.log(`| ${name} | e3sim webgpu | countdown-e3, 20 steps | — | — | — | ${s.slice(name.length + 1)}; ${extra} |`);
    continue;
  }
  const r = read(name);
  const engine = r ? (r.engine ?? `e3sim ${r.backend}`) + (r.device ? ` ${r.device}` : '') : name;
  const shape = r?.shape ? `d${r.shape.dModel} L${r.shape.nLayers} B${r.shape.batch}` : '';
  console.log(`| ${name} | ${engine} | ${shape} | ${f(r?.sampleTokensPerSec)} | ${f(r?.trainTokensPerSec)} | ${f(r?.trainStepMs)} | ${s.slice(name.length + 1)} |`);
}
JS
