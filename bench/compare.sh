#!/usr/bin/env bash
# e3sim vs the PyTorch reference (bench/reference/tiny_gpt.py), one run on this machine:
# sampling tokens/s (KV cache) and training tokens/s at the reference shape, 1 and 2 threads,
# e3sim and PyTorch runs interleaved so both see the same machine. Prints one table.
#
#   npm run bench:compare                       # wasm vs PyTorch CPU (installs python3-torch here if missing)
#   BACKEND=webgpu DEVICE=cuda E3SIM="node dist/bundle/e3sim.mjs" THREADS=1 bash bench/compare.sh   # GPU machine
#
# Env: BACKEND (e3sim --backend, default wasm), DEVICE (torch device, default cpu), THREADS
# (default "1 2"), SHAPE (reference|large), REPEATS (default 3), E3SIM (command, default
# "node bin/e3sim.js"), PYTHON (default: the first python3 that imports torch), OUT (write JSON).
# PyTorch comes from Debian's python3-torch; libopenblas0-openmp is installed with it because
# without it torch runs on the slow reference BLAS. Never run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=${BACKEND:-wasm} DEVICE=${DEVICE:-cpu} THREADS=${THREADS:-"1 2"} SHAPE=${SHAPE:-reference} REPEATS=${REPEATS:-3}
E3SIM=${E3SIM:-"node bin/e3sim.js"}

find_python() {
  for p in ${PYTHON:-} /usr/bin/python3 python3; do
    if [ -n "$p" ] && "$p" -c 'import torch' >/dev/null 2>&1; then echo "$p"; return 0; fi
  done
  return 1
}
if ! PY=$(find_python); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing python3-torch and libopenblas0-openmp (Debian packages)..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch libopenblas0-openmp >&2
    PY=$(find_python) || { echo "bench:compare: python3-torch installed but 'import torch' still fails" >&2; exit 2; }
  else
    echo "bench:compare: no python3 with torch found; install Debian's python3-torch and libopenblas0-openmp (as root: apt-get install -y python3-torch libopenblas0-openmp) or set PYTHON" >&2
    exit 2
  fi
fi
if [ "$DEVICE" = cpu ] && [ -e /usr/lib/x86_64-linux-gnu/libblas.so.3 ] && ! readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 | grep -q openblas; then
  echo "bench:compare: warning: libblas.so.3 is not OpenBLAS ($(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)); PyTorch will be slow" >&2
fi

results=()
for t in $THREADS; do
  echo "e3sim $BACKEND, $t thread(s)..." >&2
  results+=("$($E3SIM bench --json --backend "$BACKEND" --shape "$SHAPE" --threads "$t" --repeats "$REPEATS")")
  echo "pytorch $DEVICE, $t thread(s)..." >&2
  results+=("$("$PY" bench/reference/tiny_gpt.py --shape "$SHAPE" --threads "$t" --device "$DEVICE" --repeats "$REPEATS")")
done
printf '%s\n@@\n' "${results[@]}" | node -e '
const rows = require("fs").readFileSync(0, "utf8").split("@@").map((l) => l.trim()).filter(Boolean).map((l) => JSON.parse(l));
const os = require("os");
const out = [];
const f = (x) => Math.round(x).toLocaleString("en-US");
console.log(`${os.cpus()[0].model} × ${os.cpus().length}; shape ${process.argv[1]}; medians of ${process.argv[2]} repeats\n`);
console.log("| threads | e3sim " + process.argv[3] + " sample tok/s | PyTorch " + process.argv[4] + " sample tok/s | ratio | e3sim train tok/s | PyTorch train tok/s | ratio |");
console.log("|---:|---:|---:|---:|---:|---:|---:|");
for (let i = 0; i < rows.length; i += 2) {
  const e = rows[i], p = rows[i + 1];
  const r = { threads: p.threads, e3sim: e, pytorch: p, sampleRatio: e.sampleTokensPerSec / p.sampleTokensPerSec, trainRatio: e.trainTokensPerSec / p.trainTokensPerSec };
  out.push(r);
  console.log(`| ${p.threads} | ${f(e.sampleTokensPerSec)} | ${f(p.sampleTokensPerSec)} | ${r.sampleRatio.toFixed(2)}x | ${f(e.trainTokensPerSec)} | ${f(p.trainTokensPerSec)} | ${r.trainRatio.toFixed(2)}x |`);
}
if (process.env.OUT) require("fs").writeFileSync(process.env.OUT, JSON.stringify({ cpu: os.cpus()[0].model, rows: out }, null, 2) + "\n");
' "$SHAPE" "$REPEATS" "$BACKEND" "$DEVICE"
