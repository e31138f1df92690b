#!/usr/bin/env bash
# A lab exercise an instructor can hand out.
#
# Task for the student: "Trace www.baidu.com in the lab and save the JSON trace:
#     netlab dns-trace www.baidu.com --json > trace.jsonl"
# Then this script checks the trace: bash examples/check-dns-trace.sh trace.jsonl
#
# It asks the questions a teacher would, from the packets the student's run recorded.
set -euo pipefail
trace=${1:?usage: check-dns-trace.sh trace.jsonl}
python3 - "$trace" <<'PY'
import json, sys
DEMO = "dns-trace"
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
    fail("the file is empty: save the run with --json (netlab dns-trace ... --json > trace.jsonl)")
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
check(lambda: all(l.get("schema") == "netlab/2" for l in lines), "every line is netlab/2 JSON (save it with this netlab's --json)")
s = lines[-1]
check(lambda: s.get("name") == "www.baidu.com.", "the trace is of www.baidu.com, the name the task asks for")
check(lambda: s.get("kind") == "summary", "the trace is complete (ends with its summary)")
check(lambda: s.get("status") == "answer", "the lookup found an answer")
check(lambda: [c["target"] for c in s.get("cname_chain", [])] == ["www.a.shifen.com."], "www.baidu.com is an alias for www.a.shifen.com")
ex = [l for l in lines if l.get("data", {}).get("verdict")]
check(lambda: ex and ex[0]["data"]["zone"] == "." and ex[0]["data"]["verdict"] == "referral", "the walk starts with a referral from the root")
check(lambda: all(not e["data"]["aa"] for e in ex if e["data"]["verdict"] == "referral"), "every referral has AA=0")
check(lambda: any(e["data"]["verdict"] == "answer" and e["data"]["aa"] for e in ex), "the answer came from an authoritative server (AA=1)")
stub = [l["data"]["stub"] for l in lines if "stub" in l.get("data", {})]
check(lambda: stub[0]["packets"] >= 2 and not stub[0]["cached"], "the stub's first lookup sent a query and got a reply")
check(lambda: stub[1]["packets"] == 0 and stub[1]["cached"], "the stub's second lookup came from its cache, with no packet")
rec = [l for l in lines if "stub_ttl" in l.get("data", {})]
check(lambda: rec[0]["data"]["cached"] and rec[0]["data"]["ttl"] <= rec[0]["data"]["stub_ttl"], "the recursive server answered from its cache, its TTL counting down")
sys.exit(0 if ok else 1)
PY
