#!/usr/bin/env bash
# Takeover time of netlab's own VRRP speaker against keepalived's, with the
# same advert interval, in the same run, as a ratio.
#
#   bash benches/failover.sh [PAIRS] [ADVERT_MS]     # default 5 pairs, 1000 ms
#   NETLAB=/path/to/netlab bash benches/failover.sh  # a binary built before
#
# Each run is `netlab failover --json` in its own namespaces: r1 crashes
# mid-ping and r2 takes over; netlab reads the takeover time from the capture
# (r1's last advert to r2's first) and the gap in h1's echo replies. The two
# speakers run in turn (netlab, keepalived, netlab, ...), and the ratio is
# the median of each pair's ratio, so a machine whose speed drifts during the
# run moves both sides of a pair alike. The crash always lands half an
# interval after one of r1's adverts, so the reply gaps compare too. Needs root (or unprivileged user
# namespaces) and keepalived (Debian: apt-get install keepalived).
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${1:-5}
ADVERT=${2:-1000}

if [ "$(id -u)" = 0 ] && ! command -v keepalived >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq keepalived >/dev/null
fi
command -v keepalived >/dev/null || { echo "keepalived not found: apt-get install keepalived" >&2; exit 2; }

if [ -z "${NETLAB:-}" ]; then
  cargo build --release --quiet
  NETLAB=$PWD/target/release/netlab
fi

python3 - "$NETLAB" "$PAIRS" "$ADVERT" <<'PY'
import json, statistics, subprocess, sys
netlab, pairs, advert = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def run(speaker):
    o = subprocess.run([netlab, "failover", "--json", "--advert-ms", advert, "--with", speaker],
                       capture_output=True, text=True)
    if o.returncode != 0:
        sys.exit(f"{speaker}: exit {o.returncode}: {o.stderr.strip()}")
    s = json.loads(o.stdout.splitlines()[-1])
    return s["takeover_ms"], s["reply_gap_ms"], s["pings_lost"]

rows = []
for _ in range(pairs):
    rows.append((run("netlab"), run("keepalived")))
med = lambda xs: statistics.median(xs)
for i, name in ((0, "takeover ms (last advert of r1 -> first of r2)"), (1, "reply gap ms (h1's echoes)")):
    a = [r[0][i] for r in rows]
    b = [r[1][i] for r in rows]
    ratio = med([x / y for x, y in zip(a, b)])
    print(f"{name}: netlab {med(a)} (min {min(a)}, max {max(a)}), "
          f"keepalived {med(b)} (min {min(b)}, max {max(b)}), netlab/keepalived {ratio:.3f}")
lost_a = [r[0][2] for r in rows]
lost_b = [r[1][2] for r in rows]
print(f"echoes lost (h1 pings every 100 ms): netlab {med(lost_a)}, keepalived {med(lost_b)}")
print(f"advert interval {advert} ms, {pairs} pairs; the RFC's prediction for r2 (priority 100): "
      f"3 x {advert} + (256-100)/256 x {advert} = {3*int(advert) + (156*int(advert)//10)//256*10} ms")
PY
