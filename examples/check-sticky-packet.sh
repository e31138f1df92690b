#!/usr/bin/env bash
# A lab exercise an instructor can hand out (no root needed).
#
# Task for the student: "Show sticky packets and their fixes:
#     netlab sticky-packet --json > sticky.jsonl"
# Then: bash examples/check-sticky-packet.sh sticky.jsonl
set -euo pipefail
trace=${1:?usage: check-sticky-packet.sh sticky.jsonl}
python3 - "$trace" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
ok = True
def check(cond, msg):
    global ok
    print(("PASS " if cond else "FAIL ") + msg)
    ok &= bool(cond)
s = lines[-1]
check(s.get("kind") == "summary" and s.get("demo") == "sticky-packet", "the trace is a complete sticky-packet run")
check(s["naive_reads"] < s["writes"], "a late reader got fewer reads than there were writes: the writes stuck together")
check(s["nagle"]["segments"] < s["nodelay"]["segments"], "Nagle + delayed ACK merged writes on the wire; TCP_NODELAY did not")
check(s["split_reads"] > 1, "one large message needed several reads")
check(all(s["framing"][k]["exact"] for k in ("fixed", "delimiter", "length_prefix")), "all three framings recovered every message exactly")
check(s["udp_datagrams"] == s["writes"], "UDP kept every datagram apart")
sys.exit(0 if ok else 1)
PY
