#!/usr/bin/env bash
# Zone load time and memory: netlab's lab DNS next to NSD, on the same zone,
# in the same run on this machine (issue F: "zones at scale").
#
#   bash benches/zones.sh [SIZES...]      (default: 1000 10000 100000)
#
# For each size it writes a root zone delegating `big.` and a `big.` zone of
# that many A records, starts each server on loopback (127.53.9.1), waits until
# the last record answers (that is the load time), then reads the memory of
# every process of the server (PSS, /proc/PID/smaps_rollup: NSD runs three).
# Installs nsd and dnsutils when run as root. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("${@:-1000 10000 100000}")
read -r -a SIZES <<<"${SIZES[*]}"

if [ "$(id -u)" = 0 ] && { ! command -v nsd || ! command -v dig; } >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nsd dnsutils >/dev/null
  # Debian starts the packaged service; this bench runs its own.
  systemctl stop nsd 2>/dev/null || true
fi
command -v nsd >/dev/null || { echo "nsd not found: apt-get install nsd" >&2; exit 2; }
cargo build --release --quiet
NETLAB=$PWD/target/release/netlab
WORK=$(mktemp -d)
trap 'kill $(cat "$WORK/nsd.pid" 2>/dev/null) 2>/dev/null || true; pkill -INT -f "lab dns --lab-zones $WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT

pss_kb() { # total PSS of the given pids, in kB
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup"))); done
  echo "$t"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
wait_answer() { # port name: until the name answers (max 60 s)
  local i
  for i in $(seq 1200); do
    dig +time=1 +tries=1 +short @127.53.9.1 -p "$1" "$2" A 2>/dev/null | grep -q . && return 0
    sleep 0.05
  done
  echo "no answer for $2 on port $1" >&2; return 1
}

printf '%-8s %-7s %10s %10s %12s\n' records server load_ms pss_MB bytes/record
for n in "${SIZES[@]}"; do
  z=$WORK/zones-$n; mkdir -p "$z"
  cat >"$z/root.zone" <<ZONE
\$ORIGIN .
\$TTL 86400
@ IN SOA a.root-servers.net. admin.big. 1 1800 900 604800 86400
@ IN NS a.root-servers.net.
a.root-servers.net. IN A 127.53.0.1
big. 172800 IN NS ns1.big.
ns1.big. 172800 IN A 127.53.9.1
ZONE
  python3 - "$n" "$z/big.zone" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("$ORIGIN big.\n$TTL 3600\n@ IN SOA ns1.big. admin.big. 1 1800 900 604800 86400\n@ IN NS ns1.big.\nns1 IN A 127.53.9.1\n")
    for i in range(n):
        f.write(f"h{i} IN A 198.51.100.{i % 250 + 1}\n")
PY
  last="h$((n - 1)).big."

  # netlab: `lab dns` on these zones; its first JSON line names the port.
  out=$WORK/netlab-$n.out
  t0=$(now_ms)
  "$NETLAB" lab dns --lab-zones "$z" --json >"$out" 2>&1 &
  pid=$!
  for _ in $(seq 1200); do [ -s "$out" ] && break; sleep 0.05; done
  port=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["data"]["port"])' "$out")
  wait_answer "$port" "$last"
  t1=$(now_ms)
  kb=$(pss_kb "$pid")
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  printf '%-8s %-7s %10s %10.1f %12.0f\n' "$n" netlab $((t1 - t0)) "$(echo "$kb/1024" | bc -l)" "$(echo "$kb*1024/$n" | bc -l)"
  nl_kb=$kb; nl_ms=$((t1 - t0))

  # NSD on the same big. zone, one server process, no database file.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.53.9.1",0)); print(s.getsockname()[1])')
  cat >"$WORK/nsd.conf" <<CONF
server:
  ip-address: 127.53.9.1
  port: $port
  server-count: 1
  username: ""
  zonesdir: "$z"
  database: ""
  zonelistfile: "$WORK/zone.list"
  xfrdfile: "$WORK/xfrd.state"
  pidfile: "$WORK/nsd.pid"
  logfile: "$WORK/nsd.log"
remote-control:
  control-enable: no
zone:
  name: "big."
  zonefile: "big.zone"
CONF
  rm -f "$WORK/zone.list" "$WORK/xfrd.state"
  t0=$(now_ms)
  nsd -c "$WORK/nsd.conf"
  wait_answer "$port" "$last"
  t1=$(now_ms)
  pids=$(pgrep -f "nsd -c $WORK/nsd.conf" | tr '\n' ' ')
  # shellcheck disable=SC2086
  kb=$(pss_kb $pids)
  kill "$(cat "$WORK/nsd.pid")"
  for _ in $(seq 100); do pgrep -f "nsd -c $WORK/nsd.conf" >/dev/null || break; sleep 0.05; done
  printf '%-8s %-7s %10s %10.1f %12.0f\n' "$n" nsd $((t1 - t0)) "$(echo "$kb/1024" | bc -l)" "$(echo "$kb*1024/$n" | bc -l)"
  printf '%-8s ratio   %10.2f %10.2f   (netlab / nsd)\n' "$n" "$(echo "$nl_ms/$((t1 - t0))" | bc -l)" "$(echo "$nl_kb/$kb" | bc -l)"
done
