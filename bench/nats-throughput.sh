#!/usr/bin/env bash
# Throughput of the NATS transport vs worker threads on this machine: the same async training
# (η = 1, 4 problems × 8 samples, budget 64, 8 steps, one sampler, one verifier) run with
#   threads: sampler and learner worker threads, piscina verifier pool, in one process;
#   nats:    the coordinator + learner in one process, one `e3sim worker --role sampler` and one
#            `--role verifier` process, over a local nats-server (JetStream, file storage).
# Alternating runs, REPEATS (default 3) each; prints generated tokens/s per run and the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${REPEATS:-3}
NATS_BIN=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$NATS_BIN" ] || { echo "nats-throughput: nats-server not found (apt-get install -y nats-server)" >&2; exit 2; }
tmp=$(mktemp -d)
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
"$NATS_BIN" -js -a 127.0.0.1 -p "$port" -sd "$tmp/store" > "$tmp/nats.log" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 0.5
cat > "$tmp/cfg.yaml" <<YAML
name: nats-throughput
seed: 0
backend: wasm
model: { checkpoint: examples/checkpoints/base-countdown }
rollout: { problemsPerStep: 4, groupSize: 8, temperature: 1 }
curriculum: { stages: [ { difficulty: 3, budgetTokens: 64, steps: 8 } ] }
learner: { lr: 1.0e-5, klCoef: 0, entropyCoef: 0, correction: { kind: tis, c: 2 } }
staleness: { policy: async, eta: 1 }
topology: { samplers: 1, verifierThreads: 1, remote: [sampler, verifier] }
checkpoint: { every: 8, keep: 1 }
YAML
tps() { node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1]+"/summary.json","utf8")); console.log(s.tokensPerSec.toFixed(0), (s.wallMs/1000).toFixed(1), s.rolloutsLost)' "$1"; }
threads=(); nats=()
for r in $(seq 1 "$REPEATS"); do
  node bin/e3sim.js train --config "$tmp/cfg.yaml" --out "$tmp/t$r" --quiet > /dev/null
  read -r t w l < <(tps "$tmp/t$r"); threads+=("$t"); echo "threads run $r: $t tokens/s, $w s, lost $l" >&2
  node bin/e3sim.js worker --role sampler --nats "nats://127.0.0.1:$port" --id "s$r" --backend wasm 2> "$tmp/ws$r.log" &
  ws=$!
  node bin/e3sim.js worker --role verifier --nats "nats://127.0.0.1:$port" --id "v$r" 2> "$tmp/wv$r.log" &
  wv=$!
  node bin/e3sim.js train --config "$tmp/cfg.yaml" --out "$tmp/n$r" --transport nats --nats "nats://127.0.0.1:$port" --quiet > /dev/null
  wait $ws $wv || true
  read -r t w l < <(tps "$tmp/n$r"); nats+=("$t"); echo "nats run $r: $t tokens/s, $w s, lost $l" >&2
done
node -e '
const [a, b] = [process.argv[1], process.argv[2]].map((s) => s.split(" ").map(Number));
const med = (x) => [...x].sort((p, q) => p - q)[Math.floor((x.length - 1) / 2)];
console.log("| transport | generated tokens/s per run | median |\n|---|---|---:|");
console.log(`| worker threads | ${a.join(", ")} | ${med(a)} |`);
console.log(`| NATS (1 sampler + 1 verifier process) | ${b.join(", ")} | ${med(b)} |`);
console.log(`\nNATS / threads: ${(med(b) / med(a)).toFixed(2)}x`);
' "${threads[*]}" "${nats[*]}"
