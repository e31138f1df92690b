#!/usr/bin/env python3
"""The module layering netlab keeps: no import cycle among src/'s top-level
modules, and the floors named in STYLE.md import nothing above them.

Reads `crate::NAME` in every src/**/*.rs (use lines and inline paths, not
comments). Exit 1 with the offending edges; 0 when the layering holds.
"""
import pathlib, re, sys

root = pathlib.Path(__file__).resolve().parent.parent / "src"
mods = {p.stem if p.is_file() else p.name
        for p in root.iterdir() if (p.suffix == ".rs" or p.is_dir()) and p.stem not in ("main", "lib")}
edges = {}
where = {}
for f in root.rglob("*.rs"):
    rel = f.relative_to(root)
    if rel.parts[0] in ("main.rs", "lib.rs"):
        continue
    src_mod = rel.parts[0].removesuffix(".rs")
    lines = f.read_text().splitlines()
    # Unit tests (a trailing `#[cfg(test)] mod tests`) may reach anywhere.
    for i, l in enumerate(lines):
        if l.strip() == "#[cfg(test)]" and i + 1 < len(lines) and lines[i + 1].startswith("mod tests"):
            lines = lines[:i]
            break
    text = "\n".join(l.split("//")[0] for l in lines)
    # `use crate::{a, b}` and `crate::x::y` paths
    targets = set(re.findall(r"crate::(\w+)", text))
    for group in re.findall(r"use crate::\{([^}]*)\}", text, re.S):
        targets |= set(re.findall(r"(?:^|,)\s*(\w+)", group))
    for t in targets:
        if t in mods and t != src_mod:
            edges.setdefault(src_mod, set()).add(t)
            where.setdefault((src_mod, t), str(rel))

# Floors: a module may import only what is listed (besides itself).
ALLOWED = {
    "text": set(),
    "record": {"text"},
    "error": {"text", "record"},
    # The AF_PACKET socket that captures, the delay line and ARP share: above the libc floor only.
    "packet_socket": {"sys"},
}
# Modules that must not import the narrator or the demos.
BELOW_NARRATE = {"wire", "lab", "dns", "icmp", "transport", "host", "error", "sys",
                 "text", "record", "questions", "privilege", "private", "packet_socket",
                 "queue", "exercise", "concurrency", "ipc", "balance", "rpc", "ha"}
bad = []
for m, allowed in ALLOWED.items():
    for t in edges.get(m, ()):
        if t not in allowed:
            bad.append(f"{m} imports {t} ({where[(m, t)]}): {m} may import only {sorted(allowed) or 'nothing of netlab'}")
for m in BELOW_NARRATE:
    for t in edges.get(m, ()):
        if t in ("narrate", "demos", "cli"):
            bad.append(f"{m} imports {t} ({where[(m, t)]}): it sits below the narrator")

# Cycles among top-level modules (depth-first search).
state = {}
stack = []
def visit(m):
    state[m] = 1
    stack.append(m)
    for t in sorted(edges.get(m, ())):
        if state.get(t) == 1:
            cyc = stack[stack.index(t):] + [t]
            bad.append("import cycle: " + " → ".join(f"{a} ({where.get((a, b), '')})" if b else a
                                                    for a, b in zip(cyc, cyc[1:] + [None])))
        elif t not in state:
            visit(t)
    stack.pop()
    state[m] = 2
for m in sorted(mods):
    if m not in state:
        visit(m)

for b in bad:
    print(b, file=sys.stderr)
if bad:
    sys.exit(1)
print(f"imports: {len(mods)} modules, {sum(len(v) for v in edges.values())} edges, no cycle, floors kept")
