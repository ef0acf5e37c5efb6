#!/usr/bin/env bash
# Start-up of a run from two bundles, alternated: `bash bench/startup.sh DIR_A DIR_B [N]` — each
# DIR a `npm run bundle` folder (scripts/bundle.mjs --out DIR). N (default 7) one-step smoke runs
# of each (examples/smoke.yaml on wasm, --max-steps 1: start-up, one step, the held-out eval),
# A and B alternated; prints each run's wall and CPU seconds (user + sys, every thread), then the
# medians and the median paired difference as JSON on the last line. A's and B's weights must be
# equal (the script fails otherwise).
set -euo pipefail
A=$1 B=$2 N=${3:-7}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/^backend: auto/backend: wasm/' examples/smoke.yaml > "$tmp/smoke.yaml"
for i in $(seq "$N"); do
  for which in A B; do
    dir=$A; [ "$which" = B ] && dir=$B
    rm -rf "$tmp/run"
    /usr/bin/time -f "$which %e %U %S" -a -o "$tmp/times" \
      node "$dir/e3sim.mjs" train --quiet --config "$tmp/smoke.yaml" --out "$tmp/run" --max-steps 1 > /dev/null
    node -e 'process.stdout.write(require(process.argv[1]).weightsSha256)' "$tmp/run/summary.json" > "$tmp/sha-$which"
  done
done
cat "$tmp/times"
cmp -s "$tmp/sha-A" "$tmp/sha-B" || { echo "weights differ: A $(cat "$tmp/sha-A"), B $(cat "$tmp/sha-B")" >&2; exit 1; }
node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.split(" "));
  const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[(s.length - 1) >> 1]; };
  const of = (w) => rows.filter((r) => r[0] === w).map((r) => ({ wall: +r[1], cpu: +r[2] + +r[3] }));
  const out = { runs: Number(process.argv[2]), weightsSha256: process.argv[3] };
  for (const w of ["A", "B"]) out[w] = { wallMedian: med(of(w).map((r) => r.wall)), cpuMedian: med(of(w).map((r) => r.cpu)) };
  // the machine drifts over a run of runs: the median of the paired differences (run i of A less run i of B)
  const a = of("A"), b = of("B");
  out.savedByB = { wall: med(a.map((r, i) => r.wall - b[i].wall)), cpu: med(a.map((r, i) => r.cpu - b[i].cpu)) };
  console.log(JSON.stringify(out));
' "$tmp/times" "$N" "$(cat "$tmp/sha-A")"
