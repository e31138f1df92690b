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
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
ok = True
def check(cond, msg):
    global ok
    print(("PASS " if cond else "FAIL ") + msg)
    ok &= bool(cond)
check(all(l.get("schema") == "netlab/1" for l in lines), "every line is netlab/1 JSON")
s = lines[-1]
check(s.get("kind") == "summary", "the trace is complete (ends with its summary)")
check(s.get("status") == "answer", "the lookup found an answer")
check([c["target"] for c in s.get("cname_chain", [])] == ["www.a.shifen.com."], "www.baidu.com is an alias for www.a.shifen.com")
ex = [l for l in lines if l.get("data", {}).get("verdict")]
check(ex and ex[0]["data"]["zone"] == "." and ex[0]["data"]["verdict"] == "referral", "the walk starts with a referral from the root")
check(all(not e["data"]["aa"] for e in ex if e["data"]["verdict"] == "referral"), "every referral has AA=0")
check(any(e["data"]["verdict"] == "answer" and e["data"]["aa"] for e in ex), "the answer came from an authoritative server (AA=1)")
rec = [l for l in lines if "cached" in l.get("data", {})]
check(len(rec) == 2 and rec[1]["data"]["ttl"] < rec[0]["data"]["ttl"], "the second ask was served from cache with a lower TTL")
sys.exit(0 if ok else 1)
PY
