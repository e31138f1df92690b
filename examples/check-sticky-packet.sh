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
DEMO = "sticky-packet"
def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)
try:
    text = open(sys.argv[1], encoding="utf-8").read()
except OSError as e:
    fail(f"cannot read {sys.argv[1]}: {e.strerror}")
lines = []
for n, l in enumerate(text.splitlines(), 1):
    if not l.strip():
        continue
    try:
        lines.append(json.loads(l))
    except ValueError:
        fail(f"line {n} is not JSON: save the run with --json (netlab {DEMO} ... --json > trace.jsonl)")
if not lines:
    fail("the file is empty: save the run with --json (netlab sticky-packet ... --json > trace.jsonl)")
if lines[0].get("demo") != DEMO:
    fail(f"this is a trace of {lines[0].get('demo')!r}, not of {DEMO}")
old = sorted({str(l.get("schema")) for l in lines} - {"netlab/2"})
if old:
    fail(f"this trace is {', '.join(old)} JSON, from another netlab: run it again with this one (netlab/2)")
ok = True
def check(cond, msg):
    """cond is a function: a trace that lacks a part fails the check, it does not crash."""
    global ok
    try:
        good = bool(cond())
    except (KeyError, IndexError, TypeError, StopIteration):
        good = False
        msg += " (the trace has no such part)"
    print(("PASS " if good else "FAIL ") + msg)
    ok &= good
s = lines[-1]
check(lambda: s.get("kind") == "summary" and s.get("demo") == "sticky-packet", "the trace is a complete sticky-packet run")
check(lambda: s["naive_reads"] < s["writes"], "a late reader got fewer reads than there were writes: the writes stuck together")
check(lambda: s["nagle"]["segments"] < s["nodelay"]["segments"], "Nagle + delayed ACK merged writes on the wire; TCP_NODELAY did not")
check(lambda: s["split_reads"] > 1, "one large message needed several reads")
check(lambda: all(s["framing"][k]["exact"] for k in ("fixed", "delimiter", "length_prefix")), "all three framings recovered every message exactly")
check(lambda: s["udp_datagrams"] == s["writes"], "UDP kept every datagram apart")
sys.exit(0 if ok else 1)
PY
