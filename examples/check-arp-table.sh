#!/usr/bin/env bash
# A lab exercise an instructor can hand out (needs root, for the namespace lab).
#
# Task for the student: "Capture ARP in the lab and save the trace and the packets:
#     sudo netlab arp-table --json --pcap arp.pcapng > arp.jsonl"
# Then: bash examples/check-arp-table.sh arp.jsonl
set -euo pipefail
trace=${1:?usage: check-arp-table.sh arp.jsonl}
python3 - "$trace" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
ok = True
def check(cond, msg):
    global ok
    print(("PASS " if cond else "FAIL ") + msg)
    ok &= bool(cond)
s = lines[-1]
check(s.get("kind") == "summary" and s.get("demo") == "arp-table", "the trace is a complete arp-table run")
packets = [p for l in lines for p in l.get("packets", [])]
def field(p, name):
    return next((f["value"] for f in p["fields"] if f["name"] == name), None)
req = [p for p in packets if field(p, "arp.oper") == "1 (request)"]
rep = [p for p in packets if field(p, "arp.oper") == "2 (reply)"]
check(req and field(req[0], "eth.dst") == "ff:ff:ff:ff:ff:ff", "the ARP request was broadcast")
check(req and field(req[0], "eth.type") == "ARP (0x0806)", "ARP rides directly in Ethernet (EtherType 0x0806), not in IP")
check(rep and field(rep[0], "eth.dst") == field(req[0], "eth.src"), "the reply came back by unicast to the asker")
check(s["lan_a"]["src_ip"] == s["lan_b"]["src_ip"] and s["lan_a"]["dst_ip"] == s["lan_b"]["dst_ip"], "across the router the IP addresses stayed the same")
check(s["lan_a"]["src_mac"] != s["lan_b"]["src_mac"], "across the router the MAC addresses changed")
check(not any(e["ip"] == "203.0.113.10" for e in s["entries"]), "h1 never learned h3's MAC, only its gateway's")
sys.exit(0 if ok else 1)
PY
