#!/usr/bin/python3
"""Bench suite: `anatomy bench nn` (engine vs PyTorch and OpenBLAS sgemm, same run).

Benches the shipped models at their own grid and at BENCH_NN_GRID (default 128), with
BENCH_NN_REPEATS interleaved repetitions (default 5), and prints the Markdown table as TAP
comments.  One test per row: it ran, and ours is not slower than PyTorch on the same
weights and threads (the median of same-moment pairs; no absolute time is asserted: the
machine is shared).
"""
import os
import subprocess
import sys

ANATOMY = os.environ.get("ANATOMY", "anatomy")
args = [ANATOMY, "bench", "nn", "--repeats", os.environ.get("BENCH_NN_REPEATS", "5")]
grid = os.environ.get("BENCH_NN_GRID", "128")
if grid:
    args += ["--grid", grid]
r = subprocess.run(args, capture_output=True, text=True)
for line in (r.stdout + r.stderr).splitlines():
    print("# " + line)
rows = []
for line in r.stdout.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) == 11 and cells[0] not in ("model", "---") and not cells[0].startswith("-"):
        rows.append(cells)
n = 0
for c in rows:
    n += 1
    speedup = c[8].rstrip("×")
    ok = speedup != "-" and float(speedup) >= 1.0
    print("%s %d - %s %s at %s: ours %s, %s GFLOP/s; PyTorch %s; paired speed-up %s" % (
        "ok" if ok else "not ok", n, c[0], c[1], c[2], c[4], c[5], c[6], c[8]))
n += 1
print("%s %d - bench exited with %d" % ("ok" if r.returncode == 0 and rows else "not ok", n, r.returncode))
print("1..%d" % n)
sys.exit(0)
