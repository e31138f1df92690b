#!/usr/bin/env bash
# A lab exercise an instructor can hand out (no root needed: without it, netlab builds the
# namespace lab in a user namespace of the student's own).
#
# Task for the student: "Capture ARP in the lab and save the trace and the packets:
#     netlab arp-table --json --pcap arp.pcapng > arp.jsonl"
# Then: bash examples/check-arp-table.sh arp.jsonl
set -euo pipefail
trace=${1:?usage: check-arp-table.sh arp.jsonl}
python3 - "$trace" <<'PY'
import json, sys
DEMO = "arp-table"
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
    fail("the file is empty: save the run with --json (netlab arp-table ... --json > trace.jsonl)")
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
check(lambda: s.get("kind") == "summary" and s.get("demo") == "arp-table", "the trace is a complete arp-table run")
packets = [p for l in lines for p in l.get("packets", [])]
def field(p, name):
    """A field's decoded value (netlab/2 gives it in both languages; compare the English)."""
    return next((f["value"]["en"] for f in p["fields"] if f["name"] == name), None)
req = [p for p in packets if field(p, "arp.oper") == "1 (request)"]
rep = [p for p in packets if field(p, "arp.oper") == "2 (reply)"]
check(lambda: req and field(req[0], "eth.dst") == "ff:ff:ff:ff:ff:ff", "the ARP request was broadcast")
check(lambda: req and field(req[0], "eth.type") == "ARP (0x0806)", "ARP rides directly in Ethernet (EtherType 0x0806), not in IP")
check(lambda: rep and field(rep[0], "eth.dst") == field(req[0], "eth.src"), "the reply came back by unicast to the asker")
check(lambda: s["lan_a"]["src_ip"] == s["lan_b"]["src_ip"] and s["lan_a"]["dst_ip"] == s["lan_b"]["dst_ip"], "across the router the IP addresses stayed the same")
check(lambda: s["lan_a"]["src_mac"] != s["lan_b"]["src_mac"], "across the router the MAC addresses changed")
check(lambda: not any(e["ip"] == "203.0.113.10" for e in s["entries"]), "h1 never learned h3's MAC, only its gateway's")
sys.exit(0 if ok else 1)
PY
