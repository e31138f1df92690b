#!/usr/bin/env bash
# Side-by-side benchmarks: netlab against the tool a user would reach for instead,
# measured in the same run on this machine, reported as ratios.
#
#   bash benches/compare.sh [RUNS]
#   NETLAB=/path/to/netlab bash benches/compare.sh [RUNS]   # a binary built before
#
# Installs what it compares against (Debian: ldnsutils for drill, dnsutils for dig)
# when run as root. Everything talks to the built-in lab on loopback only.
# The DNS figures are paired: netlab and drill run in turn (A B A B ...), and
# the ratio is the median of each pair's ratio, so a machine whose speed drifts
# during the run (other builds, other tests) moves both sides of a pair alike.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-50}

if [ "$(id -u)" = 0 ] && { ! command -v drill || ! command -v ping || ! command -v dig || ! command -v iperf3; } >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ldnsutils dnsutils iputils-ping iperf3 >/dev/null
fi
command -v drill >/dev/null || { echo "drill not found: apt-get install ldnsutils" >&2; exit 2; }

if [ -z "${NETLAB:-}" ]; then
  cargo build --release --quiet
  NETLAB=$PWD/target/release/netlab
fi

# One lab for the comparisons that share servers.
fifo=$(mktemp -u); mkfifo "$fifo"
"$NETLAB" lab dns --json >"$fifo" &
LAB=$!
exec 3<"$fifo"; rm -f "$fifo"
trap 'kill -INT $LAB 2>/dev/null; wait $LAB 2>/dev/null || true' EXIT
# The netlab/2 step that says where the lab serves (data.port, data.root_hints);
# a step about a killed lab's leftovers may come before it.
first=
while read -r line <&3; do
  case $line in *'"root_hints"'*) first=$line; break ;; esac
done
[ -n "$first" ] || { echo "lab dns said nothing of its port" >&2; exit 2; }
PORT=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["data"]["port"])' "$first")
HINTS=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["data"]["root_hints"])' "$first")

# mean wall time in ms of RUNS runs of a command (output discarded)
mean_ms() {
  local start end
  "$@" >/dev/null 2>&1 || true   # warm-up
  start=$(date +%s%N)
  for _ in $(seq "$RUNS"); do "$@" >/dev/null 2>&1 || true; done
  end=$(date +%s%N)
  python3 -c "print(f'{($end-$start)/1e6/$RUNS:.2f}')"
}

# Whole-process wall times of two commands run in turn, RUNS pairs after a
# warm-up of each: "A_ms B_ms ratio", the medians and the median of A/B per pair.
paired() { # A ... -- B ...
  python3 - "$RUNS" "$@" <<'PY'
import os, statistics, sys, time
runs = int(sys.argv[1]); args = sys.argv[2:]; cut = args.index("--")
a, b = args[:cut], args[cut + 1:]
null = os.open(os.devnull, os.O_WRONLY)
quiet = [(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)]
def once(cmd):
    start = time.perf_counter()
    pid = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=quiet)
    os.waitpid(pid, 0)
    return (time.perf_counter() - start) * 1000
once(a); once(b)
ta, tb = [], []
for _ in range(runs):
    ta.append(once(a)); tb.append(once(b))
ratio = statistics.median(x / y for x, y in zip(ta, tb))
print(f"{statistics.median(ta):.2f} {statistics.median(tb):.2f} {ratio:.2f}")
PY
}

# A row from one paired measurement.
pair_row() { # label "A_ms B_ms ratio" anchor_name target
  local n a r
  read -r n a r <<<"$2"
  printf '| %s | %s ms | %s ms (%s) | %s× | %s |\n' "$1" "$n" "$a" "$3" "$r" "$4"
}

row() { # label netlab_ms anchor_ms anchor_name target
  python3 -c "
n,a=float('$2'),float('$3')
print(f'| $1 | {n:.2f} ms | {a:.2f} ms ($4) | {n/a:.2f}× | $5 |')"
}

echo "| figure | netlab | anchor | netlab / anchor | target |"
echo "|---|---|---|---|---|"
DRILL=(drill -T -r "$HINTS" -p "$PORT" www.baidu.com)
p=$(paired "$NETLAB" dns-trace www.baidu.com --root-servers "127.53.0.1:$PORT" --walk-only --json -- "${DRILL[@]}")
pair_row "lab walk of www.baidu.com (same servers)" "$p" "drill -T" "≤ 0.5×"
p=$(paired "$NETLAB" dns-trace www.baidu.com --json -- "${DRILL[@]}")
pair_row "full dns-trace (starts its own lab, all 4 stages)" "$p" "drill -T" "≤ 1.0×"
if command -v ping >/dev/null && [ "$(id -u)" = 0 ]; then
  # Reported average RTT on loopback, 200 echoes 10 ms apart, each tool's own figure.
  pn=$("$NETLAB" ping -c 200 -i 0.01 127.0.0.1 --json | tail -n1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["rtt_avg_ms"])')
  pi=$(ping -c 200 -i 0.01 -q 127.0.0.1 | sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p')
  python3 -c "
n,a=float('$pn'),float('$pi')
print(f'| ping 127.0.0.1, reported avg RTT (200 × 10 ms) | {n*1000:.1f} µs | {a*1000:.1f} µs (iputils ping) | {n/a:.2f}× | ≤ 1.2× |')"
fi
if command -v iperf3 >/dev/null; then
  # TCP bulk throughput on loopback: one stream each, same run, best of 3.
  best_n=0; best_i=0
  for _ in 1 2 3; do
    bn=$("$NETLAB" tcp-vs-udp --loopback --messages 10 --bulk 1024 --json | tail -n1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["tcp"]["bytes_per_s"])')
    iperf3 -s -1 -p 5299 >/dev/null 2>&1 &
    IPERF=$!
    sleep 0.3
    bi=$(iperf3 -c 127.0.0.1 -p 5299 -t 2 -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/8)')
    wait "$IPERF" || true
    best_n=$(python3 -c "print(max($best_n, $bn))"); best_i=$(python3 -c "print(max($best_i, $bi))")
  done
  python3 -c "
n,a=$best_n,$best_i
print(f'| TCP bulk on loopback, one stream (best of 3) | {n/1e6:.0f} MB/s | {a/1e6:.0f} MB/s (iperf3) | {n/a:.2f}× | ≥ 0.9× |')"
fi
cargo bench --quiet --bench framing 2>/dev/null | grep '^|' || true
if command -v dig >/dev/null; then
  n=$(mean_ms "$NETLAB" --help)
  g=$(mean_ms dig -h)
  row "start-up: --help" "$n" "$g" "dig -h" "—"
fi
echo
echo "runs per figure: $RUNS; machine: $(nproc) cores, $(uname -r); $(date -u +%F)"
