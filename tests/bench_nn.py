#!/usr/bin/python3
"""Bench suite: `anatomy bench nn` (engine vs OpenBLAS sgemm and PyTorch, same run).

Prints the table as TAP comments; one test per (architecture, grid) row that ran.
The speed ratio is reported, not asserted: the machine is shared and timings are noisy.
"""
import os
import subprocess
import sys

ANATOMY = os.environ.get("ANATOMY", "anatomy")
args = [ANATOMY, "bench", "nn", "--repeats", os.environ.get("BENCH_NN_REPEATS", "3")]
r = subprocess.run(args, capture_output=True, text=True)
for line in (r.stdout + r.stderr).splitlines():
    print("# " + line)
rows = [l.split() for l in r.stdout.splitlines() if l.split() and l.split()[0] in ("unet", "unet-skip", "googlenet-skip")]
n = 0
for row in rows:
    n += 1
    ok = len(row) >= 9 and float(row[4]) > 0
    print("%s %d - %s %s grid %s: %s s, %s GFLOP/s, %s MiB, PyTorch ratio %s" % (
        "ok" if ok else "not ok", n, row[0], row[1], row[2], row[4], row[5], row[7], row[-1]))
n += 1
print("%s %d - bench exited with %d" % ("ok" if r.returncode == 0 else "not ok", n, r.returncode))
print("1..%d" % n)
sys.exit(0 if r.returncode == 0 else 1)
